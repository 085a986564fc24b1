//! The command line: commands, flags, their help texts and defaults (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (run: the execution SUCCEEDED)
  1  run: the execution ended FAILED, TIMED_OUT or ABORTED
  2  usage or configuration error (bad flags, unknown binding, invalid file, no state machine ARN, no credentials)
  3  AWS or DNS error (endpoint unreachable, execution or state machine not found, access denied, DNS failure)

AWS settings come from the default credential chain and region (AWS_PROFILE, AWS_REGION, ...). The SDK's
endpoint settings apply, so AWS_ENDPOINT_URL points every command at the local stand-in.";

/// Operate albsync: start and follow executions, read their history, draw the state machine, and compare DNS,
/// the target group and the saved state.
#[derive(Debug, Parser)]
#[command(name = "albsync", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// One JSON document on stdout, described by crates/albsync-cli/schemas/<command>.schema.json.
    Json,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// AWS region (default: the SDK's region chain, e.g. AWS_REGION or the profile's region).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from the AWS config files (default: AWS_PROFILE, else "default").
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every AWS request to this URL (default: AWS_ENDPOINT_URL, else the AWS endpoints).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The deployment (CDK stack) to operate: its state machine, state bucket and bindings come from the SSM
    /// parameter /albsync/NAME the construct publishes. Default: the only deployment in the region, when a
    /// command needs one and no flag gives it.
    #[arg(long, global = true, value_name = "NAME", env = "ALBSYNC_STACK")]
    pub stack: Option<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start an execution for a binding, follow it live, then print the path taken and the outcome.
    Run(RunArgs),
    /// An execution's timeline: each state with its duration, retries with their errors, the result.
    History(HistoryArgs),
    /// The state machine as a Mermaid flowchart or a Graphviz DOT graph, optionally with an execution's path.
    Graph(GraphArgs),
    /// Per address, side by side: what DNS answers now, what the target group holds, what the state says.
    Status(WorldArgs),
    /// What the next run would register and deregister, and why; changes nothing.
    Plan(WorldArgs),
    /// A binding's recent executions, newest first: status, start, duration, path.
    Executions(crate::executions::ExecutionsArgs),
}

/// Which binding: by name from a bindings file, or given whole.
#[derive(Debug, Args, Clone)]
pub struct BindingArgs {
    /// The binding's name in the bindings file (optional when the file holds exactly one).
    #[arg(long, short = 'b', value_name = "NAME", conflicts_with = "input")]
    pub binding: Option<String>,
    /// JSON array of bindings (execution inputs, as the CDK app's schedules send them), or
    /// {"bindings": [...]}. Default: the deployment's bindings (--stack). `--input` wins over it (also over
    /// an exported ALBSYNC_BINDINGS_FILE).
    #[arg(long, value_name = "FILE", env = "ALBSYNC_BINDINGS_FILE")]
    pub bindings_file: Option<PathBuf>,
    /// The binding itself: JSON text, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON|@FILE")]
    pub input: Option<String>,
}

/// Which state machine.
#[derive(Debug, Args, Clone)]
pub struct StateMachineArgs {
    /// ARN of the albsync state machine (default: the deployment's, see --stack).
    #[arg(long = "state-machine", value_name = "ARN", env = "ALBSYNC_STATE_MACHINE_ARN")]
    pub arn: Option<String>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub binding: BindingArgs,
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    /// Execution name (default: cli-<binding>-<time>).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Start the execution and print its ARN without following it.
    #[arg(long)]
    pub no_follow: bool,
    /// Poll interval while following, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub poll_ms: u64,
}

/// `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The execution's ARN, or its name (then the state machine comes from --state-machine or the deployment).
    #[arg(value_name = "EXECUTION")]
    pub execution_arn: String,
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
}

/// Picture formats of `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GraphFormat {
    /// Mermaid flowchart (renders in GitHub, GitLab and most Markdown viewers).
    #[default]
    Mermaid,
    /// Graphviz DOT (render with `dot -Tsvg`).
    Dot,
}

/// `graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Mark this execution's path, retries and failure (uses the definition the execution ran). An ARN or an
    /// execution name of the state machine.
    #[arg(long, value_name = "EXECUTION")]
    pub execution: Option<String>,
    /// Read the definition from this file instead of AWS (e.g. statemachine/albsync.asl.json); works offline.
    #[arg(long, value_name = "FILE")]
    pub definition: Option<PathBuf>,
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    /// Picture format (`--output json` prints the graph's nodes and edges instead).
    #[arg(long, short = 'f', value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// `status` and `plan`: a binding and where its state lives.
#[derive(Debug, Args)]
pub struct WorldArgs {
    #[command(flatten)]
    pub binding: BindingArgs,
    /// S3 bucket of the state documents (default: the deployment's, see --stack).
    #[arg(long, value_name = "BUCKET", env = "ALBSYNC_STATE_BUCKET")]
    pub state_bucket: Option<String>,
    /// Key prefix of the state documents, as the diff function's ALBSYNC_STATE_PREFIX (default: the
    /// deployment's when the bucket comes from it, else albsync/).
    #[arg(long, value_name = "PREFIX", env = "ALBSYNC_STATE_PREFIX")]
    pub state_prefix: Option<String>,
    /// Name server to ask, ip:port (default: the system resolver configuration).
    #[arg(long, value_name = "IP:PORT", env = "ALBSYNC_DNS_SERVER")]
    pub dns_server: Option<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn output_json_is_accepted_after_the_command() {
        let cli = Cli::try_parse_from(["albsync", "history", "arn:x", "--output", "json"]).expect("parses");
        assert_eq!(cli.global.output, Output::Json);
    }

    #[test]
    fn an_exported_bindings_file_does_not_conflict_with_an_explicit_input() {
        let cli =
            Cli::try_parse_from(["albsync", "plan", "--bindings-file", "b.json", "--input", "{}"]).expect("parses");
        let Command::Plan(args) = cli.command else { panic!("plan") };
        assert!(args.binding.input.is_some() && args.binding.bindings_file.is_some());
    }

    #[test]
    fn a_binding_name_and_an_inline_binding_conflict() {
        let err = Cli::try_parse_from(["albsync", "plan", "--binding", "web", "--input", "{}", "--state-bucket", "b"])
            .expect_err("conflict");
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
