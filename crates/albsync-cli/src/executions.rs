//! `executions`: a binding's recent executions, newest first (status, start, duration, path), read the way the
//! console lists them: ListExecutions, then each execution's input (which binding) and history (which path).
//! Express state machines have no execution list in Step Functions: their runs are read from the state machine's
//! log group (the start and end records, then each run's records), with the same columns.

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Global, Output, StateMachineArgs};
use crate::error::{CliError, EXIT_OK};
use crate::stack::Context;
use crate::timeline::Timeline;
use crate::{express, sfn, text};

/// At most this many executions are read to find `--limit` of one binding (ListExecutions pages of 100).
const SCAN_LIMIT: usize = 500;

/// `executions`.
#[derive(Debug, Args)]
pub struct ExecutionsArgs {
    /// Only this binding's executions (default: every binding's).
    #[arg(long, short = 'b', value_name = "NAME")]
    pub binding: Option<String>,
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    /// How many executions to show.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
}

/// One execution in the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRow {
    /// The execution's name (`history NAME`, `graph --execution NAME`).
    pub name: String,
    /// Its ARN.
    pub execution_arn: String,
    /// The binding it ran for (its input's `name`), when the input is a binding.
    pub binding: Option<String>,
    /// Its status.
    pub status: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Run time; `None` while running.
    pub duration_ms: Option<i64>,
    /// The path taken, as `run` prints it.
    pub path: String,
    /// The result in a few lines (as `run` and `history` print it).
    pub summary: Vec<String>,
}

/// The `executions` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionList {
    /// The state machine.
    pub state_machine_arn: String,
    /// The binding asked for.
    pub binding: Option<String>,
    /// Newest first.
    pub executions: Vec<ExecutionRow>,
}

/// The row of one execution's timeline.
pub fn row(t: &Timeline) -> ExecutionRow {
    ExecutionRow {
        name: t.name.clone(),
        execution_arn: t.execution_arn.clone(),
        binding: row_binding(t.input.as_ref()),
        status: t.status.clone(),
        started_at: t.started_at.clone(),
        duration_ms: t.duration_ms,
        path: text::path(&t.states),
        summary: t.summary.clone(),
    }
}

/// The list for people: one block per execution.
pub fn render(list: &ExecutionList) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let which = list.binding.as_deref().map(|b| format!("binding {b}")).unwrap_or_else(|| "every binding".to_owned());
    let _ = writeln!(out, "{} executions of {which} on {}", list.executions.len(), list.state_machine_arn);
    for r in &list.executions {
        let took = r.duration_ms.map(text::duration).unwrap_or_else(|| "running".to_owned());
        let _ = writeln!(out);
        let _ = writeln!(out, "{}  {:<9}  {:>8}  {}", r.started_at, r.status, took, r.name);
        let _ = writeln!(out, "    path  {}", r.path);
        for line in &r.summary {
            let _ = writeln!(out, "          {line}");
        }
    }
    out
}

/// Runs `executions`.
pub async fn run(global: &Global, args: &ExecutionsArgs) -> Result<u8, CliError> {
    let ctx = Context::new(global);
    let state_machine = ctx.state_machine(&args.state_machine).await?;
    let session = ctx.session().await?;
    let binding = match &args.binding {
        // Check the name against the deployment when there is one, so a typo is not an empty list.
        Some(name) if args.state_machine.arn.is_none() => {
            Some(ctx.deployment().await?.binding(Some(name.as_str()))?.name)
        }
        other => other.clone(),
    };
    let limit = usize::try_from(args.limit).unwrap_or(10);
    let mut notes = Vec::new();
    let mut runs = Vec::new();
    if let Some(logs) = ctx.express(&args.state_machine, &state_machine).await? {
        // Express: Step Functions lists nothing; the log group has every run's records.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        (runs, notes) = express::list(session, &logs.group, &state_machine, binding.as_deref(), limit, now_ms).await?;
    } else {
        let (mut scanned, mut token) = (0, None);
        'pages: loop {
            let (arns, next) = sfn::list_page(session, &state_machine, token).await?;
            for arn in arns {
                scanned += 1;
                let info = sfn::describe(session, &arn).await?;
                if binding.is_none() || row_binding(info.input.as_ref()) == binding {
                    runs.push((info, sfn::history(session, &arn).await?));
                }
                if runs.len() >= limit || scanned >= SCAN_LIMIT {
                    break 'pages;
                }
            }
            let Some(next) = next else { break };
            token = Some(next);
        }
    }
    let mut executions: Vec<ExecutionRow> =
        runs.iter().map(|(info, events)| row(&Timeline::build(info, events))).collect();
    executions.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    let list = ExecutionList { state_machine_arn: state_machine, binding, executions };
    // What the log records could not say goes to standard error, so the JSON document stays the same.
    for note in notes {
        eprintln!("albsync: note: {note}");
    }
    match global.output {
        Output::Json => crate::commands::emit_json(&list)?,
        Output::Text => crate::commands::emit(&render(&list)),
    }
    Ok(EXIT_OK)
}

/// The binding an execution ran for: its input's `name`.
fn row_binding(input: Option<&Value>) -> Option<String> {
    input?.get("name")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::rfc3339_ms;
    use crate::timeline::tests::info;
    use serde_json::json;

    fn timeline(status: &str, start_ms: i64) -> Timeline {
        let input = Some(json!({"name": "web"}));
        let info = crate::timeline::ExecutionInfo { start_ms, stop_ms: Some(start_ms + 58), input, ..info(status) };
        Timeline::build(&info, &[])
    }

    #[test]
    fn a_row_names_the_binding_status_and_duration_and_the_text_lists_newest_first() {
        let r = row(&timeline("SUCCEEDED", 1_795_656_070_000));
        assert_eq!(r.binding.as_deref(), Some("web"));
        assert_eq!(r.duration_ms, Some(58));
        assert_eq!(r.started_at, rfc3339_ms(1_795_656_070_000));
        let list = ExecutionList {
            state_machine_arn: "arn:sm".into(),
            binding: Some("web".into()),
            executions: vec![r, row(&timeline("FAILED", 1_795_656_010_000))],
        };
        let text = render(&list);
        assert!(text.starts_with("2 executions of binding web on arn:sm\n"), "{text}");
        let a = text.find("SUCCEEDED").expect("a");
        let b = text.find("FAILED").expect("b");
        assert!(a < b, "{text}");
    }
}
