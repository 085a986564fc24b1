//! `albsync`: the operator CLI. Parses the command line, runs the command on a Tokio runtime, and turns every
//! error into one line on stderr and a documented exit code (see `albsync --help`).

use std::io::Write as _;
use std::process::ExitCode;

use albsync_cli::cli::Cli;
use albsync_cli::commands::dispatch;
use albsync_cli::error::{CliError, EXIT_USAGE};
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE));
        }
    };
    let outcome = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(dispatch(&cli.global, &cli.command)),
        Err(e) => Err(CliError::Usage(format!("cannot start the async runtime: {e}"))),
    };
    outcome
        .unwrap_or_else(|e| {
            // One line, whatever the SDK put into the message.
            let line = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            let _ = writeln!(std::io::stderr(), "albsync: error: {line}");
            e.exit_code()
        })
        .into()
}
