//! The five commands: each reads its arguments, talks to AWS and DNS through the modules above, and prints
//! text or JSON. Returns the exit code for outcomes that are not errors (`run`: 1 when the execution failed).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use albsync_core::plan::plan;
use serde::Serialize;

use crate::cli::{Command, Global, GraphArgs, GraphFormat, HistoryArgs, Output, RunArgs, WorldArgs};
use crate::error::{CliError, EXIT_OK, EXIT_RUN_FAILED};
use crate::events::Event;
use crate::graph::{Graph, dot, mermaid};
use crate::preview::Preview;
use crate::session::Session;
use crate::stack::{Context, Execution};
use crate::status::Status;
use crate::timeline::{ExecutionInfo, Timeline, Tracker};
use crate::world::Saved;
use crate::{asl, express, sfn, text, world};

/// Writes to stdout; a closed pipe (`albsync history ... | head`) is not an error worth a panic. Through
/// anstream: colour (see [`crate::style`]) only on a terminal and without `NO_COLOR`.
pub fn emit(text: &str) {
    let mut out = anstream::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes one JSON document (the `--output json` form) to stdout.
pub fn emit_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| CliError::Aws(format!("cannot write the JSON output: {e}")))?;
    emit(&(text + "\n"));
    Ok(())
}

/// Runs a parsed command line; `Ok` holds the exit code.
pub async fn dispatch(global: &Global, command: &Command) -> Result<u8, CliError> {
    match command {
        Command::Run(args) => run(global, args).await,
        Command::History(args) => history(global, args).await,
        Command::Graph(args) => graph(global, args).await,
        Command::Status(args) => status(global, args).await,
        Command::Plan(args) => plan_command(global, args).await,
        Command::Executions(args) => crate::executions::run(global, args).await,
    }
}

fn default_name(binding: &str) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("cli-{binding}-{}-{:03}", now.as_secs(), now.subsec_millis())
}

async fn run(global: &Global, args: &RunArgs) -> Result<u8, CliError> {
    let ctx = Context::new(global);
    let binding = ctx.binding(&args.binding).await?;
    let state_machine = ctx.state_machine(&args.state_machine).await?;
    let session = ctx.session().await?;
    let input = serde_json::to_string(&binding).map_err(|e| CliError::Usage(format!("binding: {e}")))?;
    let name = args.name.clone().unwrap_or_else(|| default_name(&binding.name));
    // Express keeps its history only in the log group: know where (and that it logs everything) before starting.
    let logs = ctx.express(&args.state_machine, &state_machine).await?;
    let (arn, start_ms) = sfn::start(session, &state_machine, &name, &input).await?;
    let execution = match logs {
        Some(logs) => Execution::Express { arn: arn.clone(), state_machine: state_machine.clone(), logs },
        None => Execution::Standard(arn.clone()),
    };
    let json = global.output == Output::Json;
    // In JSON the document is the only output.
    let say = |line: &str| {
        if !json {
            emit(line);
        }
    };
    say(&format!("started    {arn}\n"));
    if args.no_follow {
        if json {
            let (info, events) = snapshot(session, &execution, start_ms).await?;
            emit_json(&Timeline::build(&info, &events))?;
        }
        return Ok(EXIT_OK);
    }
    say(&format!("following  {} (Ctrl-C stops following, not the execution)\n\n", binding.name));
    let began = Instant::now();
    let mut tracker = Tracker::new(Some(start_ms));
    let follow = async {
        loop {
            let (info, events) = snapshot(session, &execution, start_ms).await?;
            for e in &events {
                let Some(note) = tracker.ingest(e) else { continue };
                let at = tracker.offset(e.at_ms);
                if let Some(line) = text::progress(&tracker, &note, at) {
                    say(&format!("{line}\n"));
                }
            }
            if info.status != "RUNNING" {
                return Ok::<_, CliError>((info, events));
            }
            if let Execution::Express { logs, .. } = &execution
                && began.elapsed() > EXPRESS_FOLLOW_LIMIT
            {
                return Err(CliError::Aws(format!(
                    "no end record of {arn} in log group {} after {} s: an Express execution lasts at most 5 minutes \
                     and its records arrive best-effort; try `albsync history {arn}` later",
                    logs.group,
                    EXPRESS_FOLLOW_LIMIT.as_secs()
                )));
            }
            // Quick polls for short runs, gentler ones for long runs (GetExecutionHistory is rate limited).
            let poll = if began.elapsed() > Duration::from_secs(30) { args.poll_ms.max(2000) } else { args.poll_ms };
            tokio::time::sleep(Duration::from_millis(poll)).await;
        }
    };
    let (info, events) = tokio::select! {
        done = follow => done?,
        _ = tokio::signal::ctrl_c() => {
            let _ = writeln!(std::io::stderr(), "{}", crate::stack::interrupted_note(global, &name));
            return Ok(crate::stack::EXIT_INTERRUPTED);
        }
    };
    let timeline = Timeline::build(&info, &events);
    match json {
        true => emit_json(&timeline)?,
        false => emit(&format!("\n{}", text::outcome(&timeline))),
    }
    Ok(if info.status == "SUCCEEDED" { EXIT_OK } else { EXIT_RUN_FAILED })
}

/// How long `run` follows an Express execution whose end record has not arrived: its 5-minute limit plus time
/// for best-effort log delivery. https://docs.aws.amazon.com/step-functions/latest/dg/concepts-standard-vs-express.html
const EXPRESS_FOLLOW_LIMIT: Duration = Duration::from_secs(7 * 60);

/// An execution's description and events so far: from Step Functions for Standard, from the log group for
/// Express (records written from a minute before `since_ms`, for clock skew; `None`: all). An Express execution
/// with no record yet is running.
async fn snapshot(
    session: &Session,
    execution: &Execution,
    since_ms: i64,
) -> Result<(ExecutionInfo, Vec<Event>), CliError> {
    match execution {
        Execution::Standard(arn) => {
            // Describe first: once it says the execution ended, the history read after it is complete.
            let info = sfn::describe(session, arn).await?;
            let events = sfn::history(session, arn).await?;
            Ok((info, events))
        }
        Execution::Express { arn, state_machine, logs } => {
            let found = express::read(session, &logs.group, arn, Some(since_ms - 60_000)).await?;
            Ok(found.unwrap_or_else(|| {
                let name = express::split_execution_arn(arn).map(|p| p.1).unwrap_or_default();
                let info = ExecutionInfo {
                    arn: arn.clone(),
                    name,
                    state_machine_arn: state_machine.clone(),
                    status: "RUNNING".to_owned(),
                    start_ms: since_ms,
                    ..ExecutionInfo::default()
                };
                (info, Vec::new())
            }))
        }
    }
}

async fn timeline(session: &Session, execution: &Execution) -> Result<Timeline, CliError> {
    let (info, events) = match execution {
        Execution::Standard(_) => snapshot(session, execution, 0).await?,
        Execution::Express { arn, logs, .. } => {
            express::read(session, &logs.group, arn, None).await?.ok_or_else(|| {
                CliError::NotFound(format!(
                    "no such execution: no record of {arn} in log group {} (records arrive best-effort, seconds late)",
                    logs.group
                ))
            })?
        }
    };
    Ok(Timeline::build(&info, &events))
}

async fn history(global: &Global, args: &HistoryArgs) -> Result<u8, CliError> {
    let ctx = Context::new(global);
    let execution = ctx.execution(&args.execution_arn, &args.state_machine).await?;
    let t = timeline(ctx.session().await?, &execution).await?;
    match global.output {
        Output::Json => emit_json(&t)?,
        Output::Text => emit(&text::history(&t)),
    }
    Ok(EXIT_OK)
}

async fn graph(global: &Global, args: &GraphArgs) -> Result<u8, CliError> {
    let from_file = match &args.definition {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let ctx = Context::new(global);
    // A definition file alone needs no AWS; anything else connects first, so missing credentials say so.
    if from_file.is_none() || args.execution.is_some() {
        ctx.session().await?;
    }
    let execution = match &args.execution {
        Some(e) => Some(ctx.execution(e, &args.state_machine).await?),
        None => None,
    };
    let definition = match from_file {
        Some(text) => asl::parse(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path_text(args))))?,
        None => {
            let session = ctx.session().await?;
            let text = match &execution {
                Some(Execution::Standard(arn)) => sfn::definition_for_execution(session, arn).await?,
                // DescribeStateMachineForExecution does not serve Express executions: the current definition.
                Some(Execution::Express { state_machine, .. }) => sfn::definition(session, state_machine).await?,
                None => sfn::definition(session, &ctx.state_machine(&args.state_machine).await?).await?,
            };
            asl::parse(&text).map_err(|e| CliError::Aws(e.to_string()))?
        }
    };
    let mut g = Graph::of(&definition);
    if let Some(execution) = &execution {
        let t = timeline(ctx.session().await?, execution).await?;
        g.mark(&t.execution_arn, &t.states);
    }
    match (global.output, args.format) {
        (Output::Json, _) => emit_json(&g)?,
        (Output::Text, GraphFormat::Mermaid) => emit(&mermaid(&g)),
        (Output::Text, GraphFormat::Dot) => emit(&dot(&g)),
    }
    Ok(EXIT_OK)
}

fn path_text(args: &GraphArgs) -> String {
    args.definition.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

async fn status(global: &Global, args: &WorldArgs) -> Result<u8, CliError> {
    let (binding, stored, now) = world::look(global, args).await?;
    // Look in particular for every address the target group or the state knows, as a run would.
    let dns = albsync_dns::resolve_binding(&binding, args.dns_server, &stored.known(binding.port), None).await;
    let s = Status::build(&binding, dns.as_ref().map_err(ToString::to_string), &stored, now);
    match global.output {
        Output::Json => emit_json(&s)?,
        Output::Text => emit(&s.text()),
    }
    Ok(EXIT_OK)
}

async fn plan_command(global: &Global, args: &WorldArgs) -> Result<u8, CliError> {
    let (binding, stored, now) = world::look(global, args).await?;
    if let Saved::Invalid(e) = &stored.saved {
        return Err(CliError::Aws(format!("{e} (the next run would end at StateDocumentInvalid)")));
    }
    let failed = |e: albsync_dns::DnsError| CliError::Dns(format!("{e} (the next run would end at ResolutionFailed)"));
    // As the state machine: resolve, diff; if registered addresses went unconfirmed, resolve again looking for
    // them (LookAgain) and diff again.
    let mut resolved =
        albsync_dns::resolve_binding(&binding, args.dns_server, &BTreeSet::new(), None).await.map_err(failed)?;
    let mut p = plan(&binding, &resolved, &stored.registered, stored.doc(), now);
    let passes = if p.unconfirmed.is_empty() {
        1
    } else {
        let expected = p.unconfirmed.iter().copied().collect();
        resolved = albsync_dns::resolve_binding(&binding, args.dns_server, &expected, Some(&resolved))
            .await
            .map_err(failed)?;
        p = plan(&binding, &resolved, &stored.registered, stored.doc(), now);
        2
    };
    let preview =
        Preview::build(&binding, &resolved, passes, &stored.registered, &p, stored.doc().is_some(), &stored.key);
    match global.output {
        Output::Json => emit_json(&preview)?,
        Output::Text => emit(&preview.text()),
    }
    Ok(EXIT_OK)
}
