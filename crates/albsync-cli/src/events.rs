//! Execution history events, reduced to what the timeline, the live display and the graph need, and converted
//! from the Step Functions SDK's `HistoryEvent`. Keeping our own small type makes everything downstream pure
//! and testable without the SDK.

use aws_sdk_sfn::types::HistoryEvent;

/// One history event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Event id (increasing).
    pub id: i64,
    /// The id of the event it follows in its own thread (an iteration of a Map has a thread of its own).
    pub previous: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// What happened.
    pub kind: Kind,
}

/// How an attempt of a Task ended: the result the timeline records (never `Running`).
pub use crate::timeline::AttemptResult as AttemptEnd;

/// The events albsync cares about; everything else is `Other` with its type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `ExecutionStarted`.
    ExecutionStarted,
    /// `ExecutionSucceeded`, `ExecutionFailed`, `ExecutionAborted`, `ExecutionTimedOut`.
    ExecutionEnded { status: String, error: Option<String>, cause: Option<String> },
    /// `<Type>StateEntered`.
    StateEntered { name: String, state_type: String },
    /// `<Type>StateExited`.
    StateExited { name: String },
    /// `LambdaFunctionScheduled`, `TaskScheduled`, `ActivityScheduled`: an attempt begins.
    AttemptScheduled,
    /// The end of an attempt (`LambdaFunctionSucceeded`, `TaskFailed`, `ActivityTimedOut`, ...).
    AttemptEnded { end: AttemptEnd, error: Option<String>, cause: Option<String> },
    /// `MapStateStarted` with the number of items.
    MapStarted { items: i32 },
    /// `MapIterationStarted`.
    IterationStarted { map: String, index: i32 },
    /// `MapIterationSucceeded`, `MapIterationFailed`, `MapIterationAborted`.
    IterationEnded { map: String, index: i32, failed: bool },
    /// Anything else.
    Other(String),
}

/// The fields of an event's details that albsync reads, whichever source they came from: the API's
/// `HistoryEvent` (one `*EventDetails` structure per type) or a CloudWatch Logs record's `details` object,
/// which carries the same fields (see [`crate::express`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// A state's or a Map iteration's name.
    pub name: Option<String>,
    /// An error name.
    pub error: Option<String>,
    /// An error cause.
    pub cause: Option<String>,
    /// A Map iteration's index.
    pub index: Option<i32>,
    /// A Map's number of items.
    pub length: Option<i32>,
}

/// Converts an SDK event.
pub fn from_sdk(e: &HistoryEvent) -> Event {
    let kind_name = e.r#type().as_str();
    let at_ms = e.timestamp().to_millis().unwrap_or(0);
    Event { id: e.id(), previous: e.previous_event_id(), at_ms, kind: classify(kind_name, &sdk_details(e)) }
}

fn own(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

/// The details of an SDK event: an event holds only the one structure of its type, so taking the first that is
/// present is taking that one.
fn sdk_details(e: &HistoryEvent) -> Details {
    macro_rules! failure {
        ($($field:ident),*) => { None$(.or_else(|| e.$field().map(|d| (own(d.error()), own(d.cause())))))* };
    }
    let (error, cause) = failure!(
        execution_failed_event_details,
        execution_aborted_event_details,
        execution_timed_out_event_details,
        lambda_function_failed_event_details,
        lambda_function_schedule_failed_event_details,
        lambda_function_start_failed_event_details,
        lambda_function_timed_out_event_details,
        task_failed_event_details,
        task_start_failed_event_details,
        task_submit_failed_event_details,
        task_timed_out_event_details,
        activity_failed_event_details,
        activity_timed_out_event_details
    )
    .unwrap_or_default();
    let iteration = e
        .map_iteration_started_event_details()
        .or(e.map_iteration_succeeded_event_details())
        .or(e.map_iteration_failed_event_details())
        .or(e.map_iteration_aborted_event_details());
    let name = e
        .state_entered_event_details()
        .map(|d| d.name().to_owned())
        .or_else(|| e.state_exited_event_details().map(|d| d.name().to_owned()))
        .or_else(|| iteration.and_then(|d| own(d.name())));
    Details {
        name,
        error,
        cause,
        index: iteration.map(|d| d.index()),
        length: e.map_state_started_event_details().map(|d| d.length()),
    }
}

/// What an event of type `name` with these details means to albsync.
pub fn classify(name: &str, d: &Details) -> Kind {
    let (error, cause) = (d.error.clone(), d.cause.clone());
    let (map, index) = (d.name.clone().unwrap_or_default(), d.index.unwrap_or(0));
    let attempt = |end| Kind::AttemptEnded { end, error: error.clone(), cause: cause.clone() };
    let execution =
        |status: &str| Kind::ExecutionEnded { status: status.into(), error: error.clone(), cause: cause.clone() };
    match name {
        "ExecutionStarted" => Kind::ExecutionStarted,
        "ExecutionSucceeded" => Kind::ExecutionEnded { status: "SUCCEEDED".into(), error: None, cause: None },
        "ExecutionFailed" => execution("FAILED"),
        "ExecutionAborted" => execution("ABORTED"),
        "ExecutionTimedOut" => execution("TIMED_OUT"),
        "LambdaFunctionScheduled" | "TaskScheduled" | "ActivityScheduled" => Kind::AttemptScheduled,
        "LambdaFunctionSucceeded" | "TaskSucceeded" | "ActivitySucceeded" => {
            Kind::AttemptEnded { end: AttemptEnd::Succeeded, error: None, cause: None }
        }
        "LambdaFunctionFailed"
        | "LambdaFunctionScheduleFailed"
        | "LambdaFunctionStartFailed"
        | "TaskFailed"
        | "TaskStartFailed"
        | "TaskSubmitFailed"
        | "ActivityFailed" => attempt(AttemptEnd::Failed),
        "LambdaFunctionTimedOut" | "TaskTimedOut" | "ActivityTimedOut" => attempt(AttemptEnd::TimedOut),
        "MapStateStarted" => Kind::MapStarted { items: d.length.unwrap_or(0) },
        "MapIterationStarted" => Kind::IterationStarted { map, index },
        "MapIterationSucceeded" => Kind::IterationEnded { map, index, failed: false },
        "MapIterationFailed" | "MapIterationAborted" => Kind::IterationEnded { map, index, failed: true },
        _ if name.ends_with("StateEntered") => {
            let state_type = name.strip_suffix("StateEntered").unwrap_or_default().to_owned();
            Kind::StateEntered { name: d.name.clone().unwrap_or_default(), state_type }
        }
        _ if name.ends_with("StateExited") => Kind::StateExited { name: d.name.clone().unwrap_or_default() },
        _ => Kind::Other(name.to_owned()),
    }
}

/// The message inside a Lambda error cause (`{"errorType":..,"errorMessage":..}`), else the cause as it is.
pub fn cause_message(cause: &str) -> String {
    let parsed = serde_json::from_str::<serde_json::Value>(cause).ok();
    parsed.and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned)).unwrap_or_else(|| cause.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{HistoryEventType, LambdaFunctionFailedEventDetails, StateEnteredEventDetails};
    use aws_smithy_types::DateTime;

    fn sdk(kind: HistoryEventType) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder().id(5).previous_event_id(4).timestamp(DateTime::from_millis(1_000)).r#type(kind)
    }

    #[test]
    fn sdk_events_keep_their_state_names_and_errors() {
        let entered = sdk(HistoryEventType::TaskStateEntered)
            .state_entered_event_details(StateEnteredEventDetails::builder().name("Resolve").build().expect("built"))
            .build()
            .expect("event");
        let e = from_sdk(&entered);
        assert_eq!((e.id, e.previous, e.at_ms), (5, 4, 1_000));
        assert_eq!(e.kind, Kind::StateEntered { name: "Resolve".into(), state_type: "Task".into() });
        let failed = sdk(HistoryEventType::LambdaFunctionFailed)
            .lambda_function_failed_event_details(
                LambdaFunctionFailedEventDetails::builder().error("Albsync.DnsTimeout").cause("{}").build(),
            )
            .build()
            .expect("event");
        assert_eq!(
            from_sdk(&failed).kind,
            Kind::AttemptEnded {
                end: AttemptEnd::Failed,
                error: Some("Albsync.DnsTimeout".into()),
                cause: Some("{}".into())
            }
        );
    }

    #[test]
    fn a_lambda_cause_is_shown_by_its_message() {
        let cause =
            r#"{"errorType":"Albsync.DnsUnavailable","errorMessage":"alb.test: the name server answered SERVFAIL"}"#;
        assert_eq!(cause_message(cause), "alb.test: the name server answered SERVFAIL");
        assert_eq!(cause_message("plain words"), "plain words");
    }
}
