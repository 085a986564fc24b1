//! Express executions, read the way the console reads them: from the state machine's CloudWatch Logs log group.
//! Step Functions keeps no history of an Express execution (DescribeExecution, GetExecutionHistory and
//! DescribeStateMachineForExecution refuse it); with logging level ALL and execution data, every history event is
//! written to the log group as one JSON record, and this module turns those records back into the events the
//! timeline reads, so `run`, `history` and `graph --execution` print the same thing for both workflow types.
//!
//! The record shape (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html, "Log levels" and the
//! example events): `id`, `type`, `details` (the event's details, the same fields as the API's
//! `*EventDetails`), `previous_event_id`, `event_timestamp` (ms since the epoch), `execution_arn`; the numbers
//! are written as strings. Delivery is best effort: records can arrive late, or not at all.

use std::collections::{BTreeMap, BTreeSet};

use albsync_aws::logs::Filter;
use serde_json::Value;

use crate::error::{CliError, service_error};
use crate::events::{Details, Event, Kind, classify};
use crate::session::Session;
use crate::timeline::ExecutionInfo;

/// A log record that is not a Step Functions history event as documented: names the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log record {at}: {problem}")]
pub struct RecordError {
    /// Where the record came from (log stream and event id), or its position.
    pub at: String,
    /// What is wrong, naming the field.
    pub problem: String,
}

/// One history event read from a log record, with the execution it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `execution_arn`.
    pub execution_arn: String,
    /// The event, as the timeline reads it.
    pub event: Event,
    /// `details`, as written (input and output of the execution are in there).
    pub details: Value,
}

/// A record's integer field: Step Functions writes `"12"`; a number is accepted too.
fn integer(record: &Value, field: &str) -> Result<i64, String> {
    let v = record.get(field).ok_or_else(|| format!("field `{field}` is missing"))?;
    let n = match v {
        Value::String(s) => s.trim().parse().ok(),
        v => v.as_i64(),
    };
    n.ok_or_else(|| format!("field `{field}` is {v}, not an integer"))
}

fn text(record: &Value, field: &str) -> Result<String, String> {
    match record.get(field).ok_or_else(|| format!("field `{field}` is missing"))? {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        other => Err(format!("field `{field}` is {other}, not a non-empty string")),
    }
}

/// A JSON text inside a record (`details.input`, `details.output`), parsed.
fn json_in(details: &Value, key: &str) -> Option<Value> {
    details.get(key)?.as_str().and_then(|t| serde_json::from_str(t).ok())
}

/// Parses one log record; `at` names it in errors.
pub fn parse_record(message: &str, at: &str) -> Result<Record, RecordError> {
    let fail = |problem: String| RecordError { at: at.to_owned(), problem };
    let record: Value = serde_json::from_str(message).map_err(|e| fail(format!("not JSON: {e}")))?;
    if !record.is_object() {
        return Err(fail(format!("not a JSON object but {record}")));
    }
    let id = integer(&record, "id").map_err(fail)?;
    // The first event of an execution has no predecessor.
    let previous = match record.get("previous_event_id") {
        None | Some(Value::Null) => 0,
        Some(_) => integer(&record, "previous_event_id").map_err(fail)?,
    };
    let at_ms = integer(&record, "event_timestamp").map_err(fail)?;
    let event_type = text(&record, "type").map_err(fail)?;
    let execution_arn = text(&record, "execution_arn").map_err(fail)?;
    let details = match record.get("details") {
        None | Some(Value::Null) => Value::Object(serde_json::Map::new()),
        Some(d @ Value::Object(_)) => d.clone(),
        Some(other) => return Err(fail(format!("field `details` is {other}, not an object"))),
    };
    let s = |k: &str| details.get(k).and_then(Value::as_str).map(str::to_owned);
    let n = |k: &str| integer(&details, k).ok().and_then(|v| i32::try_from(v).ok());
    let d = Details { name: s("name"), error: s("error"), cause: s("cause"), index: n("index"), length: n("length") };
    let event = Event { id, previous, at_ms, kind: classify(&event_type, &d) };
    Ok(Record { execution_arn, event, details })
}

/// `arn:PARTITION:states:REGION:ACCOUNT:express:STATE_MACHINE:NAME:ID` (or the Standard form
/// `...:execution:STATE_MACHINE:NAME`) -> (state machine ARN, execution name).
/// https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
pub fn split_execution_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 8 || parts[0] != "arn" || parts[2] != "states" || !matches!(parts[5], "express" | "execution") {
        return None;
    }
    let state_machine = format!("{}:{}:states:{}:{}:stateMachine:{}", parts[0], parts[1], parts[3], parts[4], parts[6]);
    Some((state_machine, parts[7].to_owned()))
}

/// An execution's description and events, from its records (any order, duplicates allowed).
pub fn execution(arn: &str, records: &[Record]) -> Option<(ExecutionInfo, Vec<Event>)> {
    let mut mine: Vec<&Record> = records.iter().filter(|r| r.execution_arn == arn).collect();
    mine.sort_by_key(|r| r.event.id);
    mine.dedup_by_key(|r| r.event.id);
    let started = mine.iter().find(|r| r.event.kind == Kind::ExecutionStarted);
    let (state_machine_arn, name) = split_execution_arn(arn).unwrap_or_default();
    let mut info = ExecutionInfo {
        arn: arn.to_owned(),
        name,
        state_machine_arn,
        status: "RUNNING".to_owned(),
        start_ms: started.or(mine.first())?.event.at_ms,
        input: started.and_then(|r| json_in(&r.details, "input")),
        ..ExecutionInfo::default()
    };
    for r in &mine {
        if let Kind::ExecutionEnded { status, error, cause } = &r.event.kind {
            (info.status, info.error, info.cause) = (status.clone(), error.clone(), cause.clone());
            (info.stop_ms, info.output) = (Some(r.event.at_ms), json_in(&r.details, "output"));
            break;
        }
    }
    Some((info, mine.into_iter().map(|r| r.event.clone()).collect()))
}

/// A filter pattern matching the records that contain `phrase` (a quoted term: it may hold `:`).
/// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
fn quoted(phrase: &str) -> String {
    format!("\"{}\"", phrase.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Where a state machine's records are, and at which level it logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The log group's name.
    pub group: String,
    /// `ALL`, `ERROR`, `FATAL` or `OFF`.
    pub level: String,
}

/// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*` -> `NAME`.
pub fn log_group_name(arn: &str) -> Option<&str> {
    let rest = arn.split_once(":log-group:")?.1;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then_some(name)
}

impl LogSettings {
    /// Refuses settings that cannot give an execution's timeline, in one line naming the setting.
    pub fn check(&self, state_machine: &str) -> Result<(), CliError> {
        if self.level.eq_ignore_ascii_case("ALL") {
            return Ok(());
        }
        Err(CliError::Usage(format!(
            "{state_machine} is an Express state machine logging at level {}: only level ALL records every event of \
             an execution (set the construct's Express logging to ALL with execution data)",
            self.level
        )))
    }
}

/// How to read an Express state machine's executions, or `None` for a Standard one. Express when `declared`
/// (the deployment says so) or DescribeStateMachine says so; the log group is the state machine's logging
/// destination, else `fallback_group` (the deployment's). A level other than ALL is refused in one line.
pub async fn logging(
    s: &Session,
    state_machine: &str,
    fallback_group: Option<&str>,
    declared: bool,
) -> Result<Option<LogSettings>, CliError> {
    let out = crate::sfn::state_machine(s, state_machine).await?;
    if !declared && *out.r#type() != aws_sdk_sfn::types::StateMachineType::Express {
        return Ok(None);
    }
    let logging = out.logging_configuration();
    let group = logging
        .and_then(|l| l.destinations().first())
        .and_then(|d| d.cloud_watch_logs_log_group()?.log_group_arn())
        .and_then(log_group_name)
        .or(fallback_group)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{state_machine} is an Express state machine without a log group: Step Functions keeps no history \
                 of Express executions, so there is nothing to read"
            ))
        })?;
    let level = logging.and_then(|l| l.level()).map_or("OFF", |v| v.as_str());
    let settings = LogSettings { group: group.to_owned(), level: level.to_owned() };
    settings.check(state_machine)?;
    Ok(Some(settings))
}

/// Every record matching the filter `pattern` written in `[since_ms, until_ms]` (either end open when `None`),
/// parsed; a record that is not a history event is an error naming it.
pub async fn records(
    s: &Session,
    group: &str,
    pattern: &str,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Result<Vec<Record>, CliError> {
    let filter = Filter { pattern: Some(pattern), start_ms: since_ms, end_ms: until_ms, limit: None };
    let events = s.logs.filter_log_events(group, &filter).await.map_err(|err| match err.code.as_deref() {
        Some("ResourceNotFoundException") => CliError::NotFound(format!(
            "log group {group} does not exist: the Express state machine has written no records there"
        )),
        Some(code) if code.starts_with("AccessDenied") => {
            CliError::Aws(format!("reading log group {group} was denied: {}", err.message))
        }
        Some(_) => CliError::Aws(format!("FilterLogEvents on {group} failed: {}", err.message)),
        None => service_error(s.logs.endpoint(), "CloudWatch Logs", &err),
    })?;
    let parse = |e: &albsync_aws::logs::LogEvent| {
        let at = format!("{}/{}", e.log_stream_name, e.event_id);
        parse_record(&e.message, &at).map_err(|e| CliError::Aws(format!("{group}: {e}")))
    };
    events.iter().map(parse).collect()
}

/// An Express execution's ARN from its name: the only execution of `state_machine` of that name in the log
/// group (Express names need not be unique, so several are an error listing them).
pub async fn find_by_name(s: &Session, group: &str, state_machine: &str, name: &str) -> Result<String, CliError> {
    let found = records(s, group, &quoted(&format!(":{name}:")), None, None).await?;
    let arns: BTreeSet<&str> = found
        .iter()
        .filter(|r| split_execution_arn(&r.execution_arn).is_some_and(|(sm, n)| sm == state_machine && n == name))
        .map(|r| r.execution_arn.as_str())
        .collect();
    match Vec::from_iter(arns).as_slice() {
        [] => Err(CliError::NotFound(format!(
            "no such execution: no record of an execution named {name} of {state_machine} in log group {group}"
        ))),
        [one] => Ok((*one).to_owned()),
        many => Err(CliError::Usage(format!(
            "{} Express executions are named {name}: give one ARN: {}",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// An Express execution's description and events from the log group.
pub async fn read(
    s: &Session,
    group: &str,
    arn: &str,
    since_ms: Option<i64>,
) -> Result<Option<(ExecutionInfo, Vec<Event>)>, CliError> {
    Ok(execution(arn, &records(s, group, &quoted(arn), since_ms, None).await?))
}

/// The records of executions starting and ending, as a JSON filter pattern (CloudWatch Logs evaluates it; a
/// service that ignores it returns more records, which [`newest`] ignores by their type).
/// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
pub const BOUNDS_PATTERN: &str = "{ ($.type = \"ExecutionStarted\") || ($.type = \"ExecutionSucceeded\") || \
     ($.type = \"ExecutionFailed\") || ($.type = \"ExecutionTimedOut\") || ($.type = \"ExecutionAborted\") }";

/// How far back `executions` looks, window by window, newest first, until it has found enough: an hour, a day,
/// two weeks, then everything the group keeps. Most calls end in the first window (one run a minute).
const WINDOWS_MS: [Option<i64>; 4] = [Some(3_600_000), Some(86_400_000), Some(14 * 86_400_000), None];

/// The executions of `state_machine` the start and end records show: newest first by start, only those of
/// `binding` when one is asked for, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Newest {
    /// `(execution ARN, start ms)`, newest first.
    pub executions: Vec<(String, i64)>,
    /// Executions with an end record but no start record (delivery is best effort, or the start is older than
    /// the records read): they have no start time and are not listed.
    pub without_start: usize,
    /// Executions whose start record has no input (logging without execution data): their binding is unknown.
    pub without_input: usize,
}

/// Groups start and end records by execution: see [`Newest`].
pub fn newest(records: &[Record], state_machine: &str, binding: Option<&str>, limit: usize) -> Newest {
    // Start time and binding (`None`: no input; `Some("")`: an input without a name) per execution.
    let mut starts: BTreeMap<&str, (i64, Option<String>)> = BTreeMap::new();
    let mut ended = BTreeSet::new();
    for r in records.iter().filter(|r| split_execution_arn(&r.execution_arn).is_some_and(|(sm, _)| sm == state_machine))
    {
        match &r.event.kind {
            Kind::ExecutionStarted => {
                let input = json_in(&r.details, "input");
                let name = input.map(|i| i.get("name").and_then(Value::as_str).unwrap_or_default().to_owned());
                starts.insert(&r.execution_arn, (r.event.at_ms, name));
            }
            Kind::ExecutionEnded { .. } => {
                ended.insert(r.execution_arn.as_str());
            }
            _ => {}
        }
    }
    let mut executions: Vec<(String, i64)> = starts
        .iter()
        .filter(|(_, (_, name))| binding.is_none_or(|b| name.as_deref() == Some(b)))
        .map(|(arn, (at, _))| ((*arn).to_owned(), *at))
        .collect();
    executions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    executions.truncate(limit);
    Newest {
        executions,
        without_start: ended.iter().filter(|arn| !starts.contains_key(*arn)).count(),
        without_input: starts.values().filter(|(_, name)| name.is_none()).count(),
    }
}

/// The newest executions of `state_machine` in its log group (see [`Newest`]), each with its description and
/// events, and the one-line notes on what the records could not say.
pub async fn list(
    s: &Session,
    group: &str,
    state_machine: &str,
    binding: Option<&str>,
    limit: usize,
    now_ms: i64,
) -> Result<(Vec<(ExecutionInfo, Vec<Event>)>, Vec<String>), CliError> {
    let (mut bounds, mut until, mut found) = (Vec::new(), None, Newest::default());
    for window in WINDOWS_MS {
        let since = window.map(|w| now_ms - w);
        bounds.extend(records(s, group, BOUNDS_PATTERN, since, until).await?);
        found = newest(&bounds, state_machine, binding, limit);
        // The end of the next (older) window is just before this one's start: the API's ends are inclusive.
        match since {
            Some(since) if found.executions.len() < limit => until = Some(since - 1),
            _ => break,
        }
    }
    let mut runs = Vec::new();
    for (arn, start_ms) in &found.executions {
        // An execution's records begin at its start; a minute of slack for clocks.
        runs.extend(read(s, group, arn, Some(start_ms - 60_000)).await?);
    }
    let mut notes = Vec::new();
    if found.without_input > 0 {
        notes.push(format!(
            "binding: unknown for {} execution(s): their start records carry no input (the state machine logs \
             without execution data)",
            found.without_input
        ));
    }
    if found.without_start > 0 {
        notes.push(format!(
            "{} execution(s) with an end record but no start record in {group} are not listed (no start time)",
            found.without_start
        ));
    }
    Ok((runs, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::AttemptEnd;
    use crate::timeline::Timeline;
    use serde_json::json;

    const ARN: &str =
        "arn:aws:states:us-east-1:123456789012:express:albsync:cli-web-1:2f6c1a9e-3b7d-4c55-9a0e-1d2f3a4b5c6d";

    fn record(arn: &str, id: i64, prev: i64, at: i64, kind: &str, details: Value) -> String {
        json!({
            "id": id.to_string(),
            "type": kind,
            "details": details,
            "previous_event_id": prev.to_string(),
            "event_timestamp": at.to_string(),
            "execution_arn": arn,
            "redrive_count": "0",
        })
        .to_string()
    }

    /// A record of the execution `ARN`, following the one before it.
    fn rec(id: i64, at: i64, kind: &str, details: Value) -> String {
        record(ARN, id, id - 1, at, kind, details)
    }

    fn parsed(lines: &[String]) -> Vec<Record> {
        lines.iter().enumerate().map(|(i, l)| parse_record(l, &i.to_string()).expect("parses")).collect()
    }

    #[test]
    fn records_as_step_functions_writes_them_become_the_timeline_of_the_execution() {
        let t0 = 1_795_656_070_000;
        let lines = vec![
            rec(
                1,
                t0,
                "ExecutionStarted",
                json!({"input": "{\"name\":\"web\"}", "inputDetails": {"truncated": false}}),
            ),
            rec(2, t0 + 5, "TaskStateEntered", json!({"name": "Resolve", "input": "{}"})),
            rec(3, t0 + 6, "LambdaFunctionScheduled", json!({"resource": "arn:aws:lambda:x"})),
            rec(
                4,
                t0 + 40,
                "LambdaFunctionFailed",
                json!({"error": "Albsync.DnsTimeout", "cause": "{\"errorMessage\":\"slow\"}"}),
            ),
            rec(5, t0 + 1040, "LambdaFunctionScheduled", json!({})),
            rec(6, t0 + 1070, "LambdaFunctionSucceeded", json!({"output": "{}"})),
            rec(7, t0 + 1071, "TaskStateExited", json!({"name": "Resolve", "output": "{}"})),
            rec(8, t0 + 1072, "SucceedStateEntered", json!({"name": "NoChange"})),
            rec(9, t0 + 1073, "SucceedStateExited", json!({"name": "NoChange"})),
            rec(10, t0 + 1074, "ExecutionSucceeded", json!({"output": "{\"changed\":false}"})),
        ];
        // Delivered out of order and one twice: the timeline is the same.
        let mut shuffled = lines.clone();
        shuffled.reverse();
        shuffled.push(lines[3].clone());
        let (info, events) = execution(ARN, &parsed(&shuffled)).expect("found");
        assert_eq!(info.name, "cli-web-1");
        assert_eq!(info.state_machine_arn, "arn:aws:states:us-east-1:123456789012:stateMachine:albsync");
        assert_eq!((info.status.as_str(), info.start_ms, info.stop_ms), ("SUCCEEDED", t0, Some(t0 + 1074)));
        assert_eq!(info.input, Some(json!({"name": "web"})));
        assert_eq!(info.output, Some(json!({"changed": false})));
        assert_eq!(events.len(), 10);
        let t = Timeline::build(&info, &events);
        assert_eq!(t.path, ["Resolve", "NoChange"]);
        assert_eq!(t.retries, 1);
        let resolve = &t.states[0];
        assert_eq!(resolve.attempts[0].error.as_deref(), Some("Albsync.DnsTimeout"));
        assert_eq!(resolve.attempts[0].cause.as_deref(), Some("slow"));
        assert_eq!(resolve.attempts[1].waited_ms, Some(1000));
    }

    #[test]
    fn an_execution_without_its_end_record_is_still_running() {
        let lines =
            vec![rec(1, 10, "ExecutionStarted", json!({})), rec(2, 11, "TaskStateEntered", json!({"name": "Resolve"}))];
        let (info, _) = execution(ARN, &parsed(&lines)).expect("found");
        assert_eq!((info.status.as_str(), info.stop_ms), ("RUNNING", None));
        assert!(execution("arn:aws:states:us-east-1:1:express:other:x:y", &parsed(&lines)).is_none());
    }

    #[test]
    fn a_failure_record_keeps_its_error_and_cause() {
        let line = rec(4, 40, "ExecutionFailed", json!({"error": "States.Timeout", "cause": "too slow"}));
        let r = parse_record(&line, "s/1").expect("parses");
        assert_eq!(
            r.event.kind,
            Kind::ExecutionEnded {
                status: "FAILED".into(),
                error: Some("States.Timeout".into()),
                cause: Some("too slow".into())
            }
        );
        let timed_out = rec(4, 40, "LambdaFunctionTimedOut", json!({"error": "States.Timeout"}));
        assert!(matches!(
            parse_record(&timed_out, "s/1").expect("parses").event.kind,
            Kind::AttemptEnded { end: AttemptEnd::TimedOut, .. }
        ));
    }

    #[test]
    fn a_bad_record_is_an_error_naming_the_record_and_the_field() {
        let good: Value = serde_json::from_str(&rec(1, 10, "ExecutionStarted", json!({}))).expect("json");
        let with = |field: &str, value: Option<Value>| {
            let mut v = good.clone();
            match value {
                Some(x) => v[field] = x,
                None => {
                    v.as_object_mut().expect("object").remove(field);
                }
            }
            parse_record(&v.to_string(), "states/albsync/2026-12-01/abc/7").expect_err("bad").to_string()
        };
        assert_eq!(with("id", None), "log record states/albsync/2026-12-01/abc/7: field `id` is missing");
        for (field, value, problem) in [
            ("id", Some("one".into()), "field `id` is \"one\", not an integer"),
            ("event_timestamp", Some(Value::Bool(true)), "field `event_timestamp` is true, not an integer"),
            ("execution_arn", Some("".into()), "field `execution_arn` is \"\", not a non-empty string"),
            ("type", None, "field `type` is missing"),
            ("details", Some("x".into()), "field `details` is \"x\", not an object"),
        ] {
            assert_eq!(with(field, value), format!("log record states/albsync/2026-12-01/abc/7: {problem}"));
        }
        assert!(
            parse_record("START RequestId: 1", "s/2")
                .expect_err("text")
                .to_string()
                .starts_with("log record s/2: not JSON")
        );
        assert!(parse_record("[1]", "s/3").expect_err("array").to_string().contains("not a JSON object"));
    }

    #[test]
    fn execution_arns_and_log_group_arns_give_their_parts() {
        assert_eq!(
            split_execution_arn(ARN),
            Some(("arn:aws:states:us-east-1:123456789012:stateMachine:albsync".into(), "cli-web-1".into()))
        );
        assert_eq!(
            split_execution_arn("arn:aws:states:us-east-1:1:execution:sm:run-1").map(|p| p.1),
            Some("run-1".into())
        );
        assert_eq!(split_execution_arn("arn:aws:states:us-east-1:1:stateMachine:sm"), None);
        assert_eq!(
            log_group_name("arn:aws:logs:us-east-1:1:log-group:/aws/vendedlogs/states/x:*"),
            Some("/aws/vendedlogs/states/x")
        );
        assert_eq!(log_group_name("arn:aws:logs:us-east-1:1:log-group:"), None);
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }

    fn bound(arn: &str, at: i64, kind: &str, details: Value) -> Record {
        parse_record(&record(arn, 1, 0, at, kind, details), "s/1").expect("parses")
    }

    #[test]
    fn start_and_end_records_group_into_the_newest_executions_of_the_binding() {
        let sm = "arn:aws:states:us-east-1:123456789012:stateMachine:albsync";
        let arn = |name: &str| format!("arn:aws:states:us-east-1:123456789012:express:albsync:{name}:id-{name}");
        let input = |b: &str| json!({"input": format!("{{\"name\":\"{b}\"}}")});
        let records = vec![
            bound(&arn("a"), 100, "ExecutionStarted", input("web")),
            bound(&arn("a"), 150, "ExecutionSucceeded", json!({})),
            bound(&arn("c"), 300, "ExecutionStarted", input("web")),
            bound(&arn("b"), 200, "ExecutionStarted", input("web")),
            bound(&arn("b"), 290, "ExecutionFailed", json!({"error": "X"})),
            bound(&arn("db"), 400, "ExecutionStarted", input("db")),
            // Another state machine's run in the same group, a run whose start was not delivered, a run logged
            // without execution data, and a record that is neither start nor end.
            bound("arn:aws:states:us-east-1:123456789012:express:other:x:1", 500, "ExecutionStarted", input("web")),
            bound(&arn("lost"), 600, "ExecutionTimedOut", json!({})),
            bound(&arn("quiet"), 700, "ExecutionStarted", json!({})),
            bound(&arn("e"), 800, "TaskStateEntered", json!({"name": "Resolve"})),
        ];
        let web = newest(&records, sm, Some("web"), 2);
        assert_eq!(web.executions, vec![(arn("c"), 300), (arn("b"), 200)], "newest first, bounded by the limit");
        assert_eq!((web.without_start, web.without_input), (1, 1));
        let all = newest(&records, sm, None, 10);
        let names: Vec<i64> = all.executions.iter().map(|(_, at)| *at).collect();
        assert_eq!(names, vec![700, 400, 300, 200, 100]);
        assert!(newest(&records, sm, Some("none"), 10).executions.is_empty());
    }

    #[test]
    fn a_log_level_other_than_all_is_refused_in_one_line() {
        let s = LogSettings { group: "g".into(), level: "ERROR".into() };
        let e = s.check("arn:sm").expect_err("error level");
        assert!(!e.to_string().contains('\n'));
        assert!(e.to_string().contains("level ERROR"), "{e}");
        assert!(LogSettings { level: "ALL".into(), ..s }.check("arn:sm").is_ok());
    }
}
