//! An execution's history as a timeline: each state visited (Map iteration states included) with its duration,
//! its attempts, the retries and their errors, and the outcome. The [`Tracker`] builds it one event at a time,
//! so the live display of `run` and the `history` command read the same history the same way.
//!
//! Events of a Map iteration belong to that iteration: each event is placed in the thread of the event it
//! follows (`previousEventId`), which keeps concurrent iterations apart.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::events::{Event, Kind, cause_message};

/// Which iteration of which Map a state ran in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Iteration {
    /// The Map state's name.
    pub map: String,
    /// The item's index.
    pub index: i32,
}

/// How a visit of a state ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VisitStatus {
    /// Still in it.
    #[default]
    Running,
    /// Left normally.
    Succeeded,
    /// Its last attempt failed and a `Catch` moved on.
    Caught,
    /// The execution failed here (a Fail state, or an error nothing caught).
    Failed,
}

/// How an attempt of a Task ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AttemptResult {
    #[default]
    Running,
    Succeeded,
    Failed,
    TimedOut,
}

/// One attempt of a Task (the first try or a retry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1 for the first try.
    pub number: u32,
    /// When it was scheduled, in ms since the execution started.
    pub started_ms: i64,
    /// How long it ran; `None` while running.
    pub duration_ms: Option<i64>,
    /// For a retry: how long the state machine waited after the previous attempt failed.
    pub waited_ms: Option<i64>,
    /// How it ended.
    pub result: AttemptResult,
    /// The error name, for a failed attempt.
    pub error: Option<String>,
    /// The error message (a Lambda error's `errorMessage`), for a failed attempt.
    pub cause: Option<String>,
}

/// One visit of one state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Visit {
    /// The state's name.
    pub name: String,
    /// Its type (`Task`, `Choice`, `Map`, ...).
    #[serde(rename = "type")]
    pub state_type: String,
    /// The Map iterations it ran in, outermost first; empty at the top level.
    pub iteration: Vec<Iteration>,
    /// When it was entered, in ms since the execution started.
    pub entered_ms: i64,
    /// How long it took; `None` while running.
    pub duration_ms: Option<i64>,
    /// How it ended.
    pub status: VisitStatus,
    /// Attempts beyond the first.
    pub retries: u32,
    /// Its Task attempts (empty for other types).
    pub attempts: Vec<Attempt>,
    /// For a Map: the number of items.
    pub items: Option<i32>,
}

impl Visit {
    /// The last failed attempt's error and message.
    pub fn last_error(&self) -> Option<(&str, Option<&str>)> {
        self.attempts.iter().rev().find_map(|a| Some((a.error.as_deref()?, a.cause.as_deref())))
    }

    /// `CountGrace[0] > GraceReached` for an iteration state, else the name.
    pub fn label(&self) -> String {
        self.iteration.iter().map(|it| format!("{}[{}] > ", it.map, it.index)).chain([self.name.clone()]).collect()
    }
}

/// Something worth a line in the live display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A state was entered (index into the visits).
    Entered(usize),
    /// An attempt of a visit failed.
    AttemptFailed(usize),
    /// A new attempt of a visit began after a failure.
    Retrying(usize),
    /// A Map started with this many items.
    MapItems(usize),
    /// A Map iteration failed.
    IterationFailed(Iteration),
    /// The execution ended.
    Ended { status: String, error: Option<String>, cause: Option<String> },
}

type Thread = Vec<Iteration>;

/// Builds the visits from events fed in order.
#[derive(Debug, Default)]
pub struct Tracker {
    origin_ms: Option<i64>,
    /// The thread each event was in, so the next event of that thread (`previous`) continues it.
    thread_of: HashMap<i64, Thread>,
    /// The visit each thread is in now.
    open: HashMap<Thread, usize>,
    last_thread: Thread,
    visits: Vec<Visit>,
    last_id: i64,
}

impl Tracker {
    /// A tracker measuring time from `origin_ms` (the execution's start), or from the first event.
    pub fn new(origin_ms: Option<i64>) -> Tracker {
        Tracker { origin_ms, ..Tracker::default() }
    }

    /// The visits so far.
    pub fn visits(&self) -> &[Visit] {
        &self.visits
    }

    /// Ms since the start for an event time.
    pub fn offset(&mut self, at_ms: i64) -> i64 {
        at_ms - *self.origin_ms.get_or_insert(at_ms)
    }

    /// Ends visit `idx` at `at`; `None`: as a visit left for another state ends, caught if its last attempt failed.
    fn close(&mut self, idx: usize, at: i64, status: Option<VisitStatus>) {
        let Some(v) = self.visits.get_mut(idx) else { return };
        let failed =
            v.attempts.last().is_some_and(|a| matches!(a.result, AttemptResult::Failed | AttemptResult::TimedOut));
        v.status = status.unwrap_or(if failed { VisitStatus::Caught } else { VisitStatus::Succeeded });
        v.duration_ms = Some((at - v.entered_ms).max(0));
        if let Some(a) = v.attempts.last_mut().filter(|a| a.result == AttemptResult::Running) {
            a.duration_ms = Some((at - a.started_ms).max(0));
        }
    }

    /// Feeds one event; events already seen (by id) are ignored.
    pub fn ingest(&mut self, e: &Event) -> Option<Note> {
        if e.id <= self.last_id {
            return None;
        }
        self.last_id = e.id;
        let at = self.offset(e.at_ms);
        let mut thread = self.thread_of.get(&e.previous).unwrap_or(&self.last_thread).clone();
        let note = self.apply(&e.kind, &mut thread, at);
        self.thread_of.insert(e.id, thread.clone());
        self.last_thread = thread;
        note
    }

    /// What one event does to the visits of its thread (which a Map iteration's start or end changes).
    fn apply(&mut self, kind: &Kind, thread: &mut Thread, at: i64) -> Option<Note> {
        let open = self.open.get(thread).copied();
        match kind {
            Kind::IterationStarted { map, index } => {
                if thread.last().is_some_and(|it| it.map == *map) {
                    thread.pop();
                }
                thread.push(Iteration { map: map.clone(), index: *index });
                None
            }
            Kind::IterationEnded { map, index, failed } => {
                if thread.last().is_some_and(|it| it.map == *map) {
                    if let Some(idx) = self.open.remove(thread) {
                        self.close(idx, at, Some(if *failed { VisitStatus::Failed } else { VisitStatus::Succeeded }));
                    }
                    thread.pop();
                }
                failed.then(|| Note::IterationFailed(Iteration { map: map.clone(), index: *index }))
            }
            Kind::StateEntered { name, state_type } => {
                // The previous state of this thread left without an exit event.
                if let Some(idx) = self.open.remove(thread) {
                    self.close(idx, at, None);
                }
                let (name, state_type, iteration) = (name.clone(), state_type.clone(), thread.clone());
                self.visits.push(Visit { name, state_type, iteration, entered_ms: at, ..Visit::default() });
                self.open.insert(thread.clone(), self.visits.len() - 1);
                Some(Note::Entered(self.visits.len() - 1))
            }
            Kind::StateExited { name } => {
                // This thread's visit, else (an exit placed in another thread) any open visit of that state.
                let named = |i: &usize| self.visits.get(*i).is_some_and(|v| v.name == *name);
                let key = match open.filter(named) {
                    Some(_) => Some(thread.clone()),
                    None => self.open.iter().find(|(_, i)| named(i)).map(|(t, _)| t.clone()),
                };
                if let Some(idx) = key.and_then(|t| self.open.remove(&t)) {
                    self.close(idx, at, None);
                }
                None
            }
            Kind::AttemptScheduled => {
                let v = self.visits.get_mut(open?)?;
                let waited_ms = v.attempts.last().and_then(|a| a.duration_ms.map(|d| at - (a.started_ms + d)));
                let number = u32::try_from(v.attempts.len()).unwrap_or(u32::MAX).saturating_add(1);
                v.attempts.push(Attempt { number, started_ms: at, waited_ms, ..Attempt::default() });
                v.retries = number - 1;
                open.filter(|_| number > 1).map(Note::Retrying)
            }
            Kind::AttemptEnded { end, error, cause } => {
                let a = self.visits.get_mut(open?)?.attempts.last_mut()?;
                a.duration_ms = Some((at - a.started_ms).max(0));
                a.result = *end;
                a.error.clone_from(error);
                a.cause = cause.as_deref().map(cause_message);
                open.filter(|_| *end != AttemptResult::Succeeded).map(Note::AttemptFailed)
            }
            Kind::MapStarted { items } => {
                self.visits.get_mut(open?)?.items = Some(*items);
                open.map(Note::MapItems)
            }
            Kind::ExecutionEnded { status, error, cause } => {
                let ended = if status == "SUCCEEDED" { VisitStatus::Succeeded } else { VisitStatus::Failed };
                for idx in self.open.drain().map(|(_, i)| i).collect::<Vec<_>>() {
                    self.close(idx, at, Some(ended));
                }
                Some(Note::Ended { status: status.clone(), error: error.clone(), cause: cause.clone() })
            }
            Kind::ExecutionStarted | Kind::Other(_) => None,
        }
    }
}

/// What DescribeExecution says about an execution (times in ms since the epoch; input and output as JSON when
/// they parse; error and cause of a failed one).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutionInfo {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, ...
    pub status: String,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// The timeline of one execution: the `history` document (schemas/history.schema.json).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    /// The execution's ARN.
    pub execution_arn: String,
    /// Its name.
    pub name: String,
    /// Its state machine.
    pub state_machine_arn: String,
    /// Its status.
    pub status: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 stop time; `None` while running.
    pub stopped_at: Option<String>,
    /// Run time; `None` while running.
    pub duration_ms: Option<i64>,
    /// The error of a failed execution.
    pub error: Option<String>,
    /// Its cause.
    pub cause: Option<String>,
    /// The states entered, in order, iteration states included.
    pub path: Vec<String>,
    /// Retries of all states together.
    pub retries: u32,
    /// Every visit of a state.
    pub states: Vec<Visit>,
    /// The result in a few lines for people (what albsync did, or why it failed).
    pub summary: Vec<String>,
    /// The execution's input.
    pub input: Option<Value>,
    /// The execution's output.
    pub output: Option<Value>,
}

/// RFC 3339 (UTC, ms) for ms since the epoch.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = u64::try_from(ms.div_euclid(1000)).unwrap_or(0);
    let base = albsync_core::state::rfc3339_utc(secs);
    let millis = ms.rem_euclid(1000);
    match base.strip_suffix('Z') {
        Some(b) => format!("{b}.{millis:03}Z"),
        None => base,
    }
}

impl Timeline {
    /// Reads an execution's events into its timeline.
    pub fn build(info: &ExecutionInfo, events: &[Event]) -> Timeline {
        let mut tracker = Tracker::new(Some(info.start_ms));
        for e in events {
            tracker.ingest(e);
        }
        let states = tracker.visits;
        let summary = summary(info, &states);
        Timeline {
            execution_arn: info.arn.clone(),
            name: info.name.clone(),
            state_machine_arn: info.state_machine_arn.clone(),
            status: info.status.clone(),
            started_at: rfc3339_ms(info.start_ms),
            stopped_at: info.stop_ms.map(rfc3339_ms),
            duration_ms: info.stop_ms.map(|s| s - info.start_ms),
            error: info.error.clone(),
            cause: info.cause.clone(),
            path: states.iter().map(|v| v.name.clone()).collect(),
            retries: states.iter().map(|v| v.retries).sum(),
            summary,
            input: info.input.clone(),
            output: info.output.clone(),
            states,
        }
    }
}

fn ips(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().or_else(|| v.get("ip").and_then(Value::as_str)))
        .map(str::to_owned)
        .collect()
}

/// The outcome for people: which end state, what DNS answered, what was registered, counted, deregistered; or
/// where and why it failed.
pub fn summary(info: &ExecutionInfo, visits: &[Visit]) -> Vec<String> {
    let mut out = Vec::new();
    let end = visits.iter().rev().find(|v| v.iteration.is_empty()).map(|v| v.name.as_str());
    match info.status.as_str() {
        "RUNNING" => {
            out.push(format!("still running{}", end.map(|e| format!(", in {e}")).unwrap_or_default()));
            return out;
        }
        "SUCCEEDED" => out.push(format!("succeeded at {}", end.unwrap_or("?"))),
        other => {
            let why = match (&info.error, &info.cause) {
                (Some(e), Some(c)) => format!("{e}: {c}"),
                (Some(e), None) => e.clone(),
                _ => "no error given".to_owned(),
            };
            let end = end.unwrap_or("?");
            // A Fail state's error usually repeats its name; say it once.
            let why = why.strip_prefix(&format!("{end}: ")).map_or(why.clone(), str::to_owned);
            out.push(format!("{} at {end}: {why}", other.to_ascii_lowercase()));
            let last = visits.iter().rev().find_map(|v| v.last_error().map(|(e, c)| (v.label(), e, c)));
            if let Some((state, error, cause)) = last {
                out.push(format!(
                    "last error: {error} in {state}{}",
                    cause.map(|c| format!(": {c}")).unwrap_or_default()
                ));
            }
        }
    }
    let Some(output) = &info.output else { return out };
    let at = |v: &Value, p: &str| v.pointer(p).cloned().unwrap_or(Value::Null);
    if output.get("resolved").is_some() {
        let addresses = ips(output.pointer("/resolved/addresses"));
        let strategy = at(output, "/resolved/strategy");
        let (strategy, queries) =
            (strategy.as_str().unwrap_or("?"), at(output, "/resolved/queries").as_u64().unwrap_or(0));
        out.push(format!("DNS answered {} ({strategy}, {queries} queries): {}", addresses.len(), addresses.join(" ")));
    }
    let register = ips(output.pointer("/plan/register"));
    if output.get("registered").is_some() && !register.is_empty() {
        out.push(format!("registered {}: {}", register.len(), register.join(" ")));
    }
    let grace = at(output, "/grace/all").as_array().cloned().unwrap_or_default();
    let grace_runs = at(output, "/plan/graceRuns").as_u64().unwrap_or(0);
    let mut expired = Vec::new();
    for c in &grace {
        let ip = at(c, "/ip").as_str().unwrap_or("?").to_owned();
        let misses = at(c, "/misses").as_u64().unwrap_or(0);
        let what = if at(c, "/expired") == Value::Bool(true) { "grace ran out" } else { "still counting" };
        out.push(format!("missing {ip}: {misses} of {grace_runs} runs, {what}"));
        if at(c, "/expired") == Value::Bool(true) && c.get("ip").is_some_and(Value::is_string) {
            expired.push(ip);
        }
    }
    if let Some(n) = output.pointer("/deregistered/deregistered").and_then(Value::as_u64) {
        // The expired addresses are what the deregister step removed (a rail refuses all or nothing).
        if n > 0 && usize::try_from(n).ok() == Some(expired.len()) {
            out.push(format!("deregistered {n}: {}", expired.join(" ")));
        } else {
            out.push(format!("deregistered {n}"));
        }
    }
    if output.get("saved").is_some() {
        out.push(format!("state saved ({} pending)", at(output, "/saved/pending").as_u64().unwrap_or(0)));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A compact way to write histories: (id, previous, ms, kind).
    pub(crate) fn ev(id: i64, previous: i64, at_ms: i64, kind: Kind) -> Event {
        Event { id, previous, at_ms, kind }
    }

    pub(crate) fn entered(name: &str, t: &str) -> Kind {
        Kind::StateEntered { name: name.into(), state_type: t.into() }
    }

    pub(crate) fn exited(name: &str) -> Kind {
        Kind::StateExited { name: name.into() }
    }

    pub(crate) fn failed(error: &str) -> Kind {
        Kind::AttemptEnded {
            end: AttemptResult::Failed,
            error: Some(error.into()),
            cause: Some(format!(r#"{{"errorType":"{error}","errorMessage":"alb.test: SERVFAIL"}}"#)),
        }
    }

    /// Resolve fails twice, succeeds on the third attempt; then a Map with two concurrent iterations.
    pub(crate) fn retried_run() -> Vec<Event> {
        let ok = Kind::AttemptEnded { end: AttemptResult::Succeeded, error: None, cause: None };
        vec![
            ev(1, 0, 1000, Kind::ExecutionStarted),
            ev(2, 1, 1000, entered("Resolve", "Task")),
            ev(3, 2, 1001, Kind::AttemptScheduled),
            ev(4, 3, 1010, failed("Albsync.DnsUnavailable")),
            ev(5, 4, 2010, Kind::AttemptScheduled),
            ev(6, 5, 2020, failed("Albsync.DnsUnavailable")),
            ev(7, 6, 3020, Kind::AttemptScheduled),
            ev(8, 7, 3030, ok),
            ev(9, 8, 3031, exited("Resolve")),
            ev(10, 9, 3031, entered("CountGrace", "Map")),
            ev(11, 10, 3032, Kind::MapStarted { items: 2 }),
            ev(12, 11, 3033, Kind::IterationStarted { map: "CountGrace".into(), index: 0 }),
            ev(13, 11, 3033, Kind::IterationStarted { map: "CountGrace".into(), index: 1 }),
            ev(14, 12, 3034, entered("GraceReached", "Choice")),
            ev(15, 13, 3034, entered("GraceReached", "Choice")),
            ev(16, 15, 3035, exited("GraceReached")),
            ev(17, 14, 3035, exited("GraceReached")),
            ev(18, 16, 3036, entered("Expire", "Pass")),
            ev(19, 17, 3036, entered("KeepCounting", "Pass")),
            ev(20, 18, 3037, exited("Expire")),
            ev(21, 19, 3037, exited("KeepCounting")),
            ev(22, 20, 3038, Kind::IterationEnded { map: "CountGrace".into(), index: 1, failed: false }),
            ev(23, 21, 3038, Kind::IterationEnded { map: "CountGrace".into(), index: 0, failed: false }),
            ev(24, 23, 3039, Kind::Other("MapStateSucceeded".into())),
            ev(25, 24, 3040, exited("CountGrace")),
            ev(26, 25, 3040, entered("Synced", "Succeed")),
            ev(27, 26, 3041, exited("Synced")),
            ev(28, 27, 3041, Kind::ExecutionEnded { status: "SUCCEEDED".into(), error: None, cause: None }),
        ]
    }

    pub(crate) fn info(status: &str) -> ExecutionInfo {
        ExecutionInfo {
            arn: "arn:aws:states:us-east-1:123456789012:execution:albsync:run-1".into(),
            name: "run-1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:albsync".into(),
            status: status.into(),
            start_ms: 1000,
            stop_ms: Some(3041),
            ..ExecutionInfo::default()
        }
    }

    #[test]
    fn retries_are_counted_with_their_errors_and_waits() {
        let t = Timeline::build(&info("SUCCEEDED"), &retried_run());
        let resolve = &t.states[0];
        assert_eq!(resolve.name, "Resolve");
        assert_eq!(resolve.retries, 2);
        assert_eq!(resolve.status, VisitStatus::Succeeded);
        assert_eq!(resolve.duration_ms, Some(2031));
        assert_eq!(resolve.attempts[1].waited_ms, Some(1000));
        assert_eq!(resolve.attempts[0].error.as_deref(), Some("Albsync.DnsUnavailable"));
        assert_eq!(resolve.attempts[0].cause.as_deref(), Some("alb.test: SERVFAIL"));
        assert_eq!(t.retries, 2);
    }

    #[test]
    fn concurrent_map_iterations_keep_their_own_states() {
        let t = Timeline::build(&info("SUCCEEDED"), &retried_run());
        let labels: Vec<String> = t.states.iter().map(Visit::label).collect();
        assert_eq!(
            labels,
            [
                "Resolve",
                "CountGrace",
                "CountGrace[0] > GraceReached",
                "CountGrace[1] > GraceReached",
                "CountGrace[1] > Expire",
                "CountGrace[0] > KeepCounting",
                "Synced"
            ]
        );
        assert!(t.states.iter().all(|v| v.status == VisitStatus::Succeeded), "{:?}", t.states);
        assert_eq!(t.states[1].items, Some(2));
        assert_eq!(
            t.path,
            ["Resolve", "CountGrace", "GraceReached", "GraceReached", "Expire", "KeepCounting", "Synced"]
        );
    }

    #[test]
    fn a_caught_failure_then_a_fail_state_end_the_run_failed() {
        let (error, cause) = (Some("ResolutionFailed".to_owned()), Some("DNS gave no usable answer".to_owned()));
        let events = vec![
            ev(1, 0, 0, Kind::ExecutionStarted),
            ev(2, 0, 0, entered("Resolve", "Task")),
            ev(3, 2, 1, Kind::AttemptScheduled),
            ev(4, 3, 9, failed("Albsync.DnsUnavailable")),
            ev(5, 4, 10, exited("Resolve")),
            ev(6, 5, 10, entered("ResolutionFailed", "Fail")),
            ev(7, 6, 10, Kind::ExecutionEnded { status: "FAILED".into(), error: error.clone(), cause: cause.clone() }),
        ];
        let i = ExecutionInfo { start_ms: 0, error, cause, ..info("FAILED") };
        let t = Timeline::build(&i, &events);
        assert_eq!(t.states[0].status, VisitStatus::Caught);
        assert_eq!(t.states[1].status, VisitStatus::Failed);
        assert_eq!(t.summary[0], "failed at ResolutionFailed: DNS gave no usable answer");
        assert_eq!(t.summary[1], "last error: Albsync.DnsUnavailable in Resolve: alb.test: SERVFAIL");
    }

    #[test]
    fn a_failure_left_without_an_exit_event_still_counts_as_caught() {
        let events = vec![
            ev(1, 0, 0, Kind::ExecutionStarted),
            ev(2, 1, 0, entered("Resolve", "Task")),
            ev(3, 2, 1, Kind::AttemptScheduled),
            ev(4, 3, 9, failed("Albsync.DnsNameNotFound")),
            ev(5, 4, 10, entered("ResolutionFailed", "Fail")),
        ];
        let t = Timeline::build(&ExecutionInfo { start_ms: 0, ..info("RUNNING") }, &events);
        assert_eq!((t.states[0].status, t.states[0].duration_ms), (VisitStatus::Caught, Some(10)));
        assert_eq!(t.states[1].status, VisitStatus::Running);
        assert_eq!(t.summary, ["still running, in ResolutionFailed"]);
    }

    #[test]
    fn the_live_notes_say_entered_failed_and_retrying() {
        let mut tracker = Tracker::new(None);
        let notes: Vec<Note> = retried_run().iter().filter_map(|e| tracker.ingest(e)).collect();
        assert_eq!(
            notes[..6],
            [
                Note::Entered(0),
                Note::AttemptFailed(0),
                Note::Retrying(0),
                Note::AttemptFailed(0),
                Note::Retrying(0),
                Note::Entered(1)
            ]
        );
        // Feeding the same events again changes nothing: polling re-reads the whole history.
        let before = tracker.visits().to_vec();
        assert!(retried_run().iter().all(|e| tracker.ingest(e).is_none()));
        assert_eq!(tracker.visits(), before.as_slice());
    }

    #[test]
    fn the_summary_reads_albsync_output() {
        let mut i = info("SUCCEEDED");
        i.output = Some(json!({
            "resolved": {"addresses": ["10.0.1.10"], "strategy": "sampled", "queries": 12},
            "plan": {"register": [{"ip": "10.0.1.10", "port": 443}], "graceRuns": 3},
            "grace": {"all": [{"ip": "10.0.1.11", "port": 443, "misses": 1, "expired": false}]},
            "saved": {"pending": 1},
            "registered": {"registered": 1, "calls": 1}
        }));
        let t = Timeline::build(&i, &retried_run());
        assert_eq!(
            t.summary,
            [
                "succeeded at Synced",
                "DNS answered 1 (sampled, 12 queries): 10.0.1.10",
                "registered 1: 10.0.1.10",
                "missing 10.0.1.11: 1 of 3 runs, still counting",
                "state saved (1 pending)"
            ]
        );
    }

    #[test]
    fn times_are_rfc3339_with_milliseconds() {
        assert_eq!(rfc3339_ms(1_795_608_000_123), "2026-11-25T12:00:00.123Z");
    }
}
