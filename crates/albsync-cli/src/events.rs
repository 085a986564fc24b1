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

/// How an attempt of a Task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    Succeeded,
    Failed,
    TimedOut,
}

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

/// Converts an SDK event.
pub fn from_sdk(e: &HistoryEvent) -> Event {
    let kind_name = e.r#type().as_str();
    let at_ms = e.timestamp().to_millis().unwrap_or(0);
    Event { id: e.id(), previous: e.previous_event_id(), at_ms, kind: kind(kind_name, e) }
}

fn own(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

fn kind(name: &str, e: &HistoryEvent) -> Kind {
    let ended = |end, error: Option<&str>, cause: Option<&str>| Kind::AttemptEnded {
        end,
        error: own(error),
        cause: own(cause),
    };
    match name {
        "ExecutionStarted" => Kind::ExecutionStarted,
        "ExecutionSucceeded" => Kind::ExecutionEnded { status: "SUCCEEDED".into(), error: None, cause: None },
        "ExecutionFailed" => {
            let d = e.execution_failed_event_details();
            Kind::ExecutionEnded {
                status: "FAILED".into(),
                error: own(d.and_then(|d| d.error())),
                cause: own(d.and_then(|d| d.cause())),
            }
        }
        "ExecutionAborted" => {
            let d = e.execution_aborted_event_details();
            Kind::ExecutionEnded {
                status: "ABORTED".into(),
                error: own(d.and_then(|d| d.error())),
                cause: own(d.and_then(|d| d.cause())),
            }
        }
        "ExecutionTimedOut" => {
            let d = e.execution_timed_out_event_details();
            Kind::ExecutionEnded {
                status: "TIMED_OUT".into(),
                error: own(d.and_then(|d| d.error())),
                cause: own(d.and_then(|d| d.cause())),
            }
        }
        "LambdaFunctionScheduled" | "TaskScheduled" | "ActivityScheduled" => Kind::AttemptScheduled,
        "LambdaFunctionSucceeded" | "TaskSucceeded" | "ActivitySucceeded" => ended(AttemptEnd::Succeeded, None, None),
        "LambdaFunctionFailed" => {
            let d = e.lambda_function_failed_event_details();
            ended(AttemptEnd::Failed, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "LambdaFunctionScheduleFailed" => {
            let d = e.lambda_function_schedule_failed_event_details();
            ended(AttemptEnd::Failed, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "LambdaFunctionStartFailed" => {
            let d = e.lambda_function_start_failed_event_details();
            ended(AttemptEnd::Failed, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "LambdaFunctionTimedOut" => {
            let d = e.lambda_function_timed_out_event_details();
            ended(AttemptEnd::TimedOut, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "TaskFailed" => {
            let d = e.task_failed_event_details();
            ended(AttemptEnd::Failed, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "TaskStartFailed" => {
            let d = e.task_start_failed_event_details();
            ended(AttemptEnd::Failed, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "TaskSubmitFailed" => {
            let d = e.task_submit_failed_event_details();
            ended(AttemptEnd::Failed, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "TaskTimedOut" => {
            let d = e.task_timed_out_event_details();
            ended(AttemptEnd::TimedOut, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "ActivityFailed" => {
            let d = e.activity_failed_event_details();
            ended(AttemptEnd::Failed, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "ActivityTimedOut" => {
            let d = e.activity_timed_out_event_details();
            ended(AttemptEnd::TimedOut, d.and_then(|d| d.error()), d.and_then(|d| d.cause()))
        }
        "MapStateStarted" => Kind::MapStarted { items: e.map_state_started_event_details().map_or(0, |d| d.length()) },
        "MapIterationStarted" => {
            let d = e.map_iteration_started_event_details();
            Kind::IterationStarted {
                map: d.and_then(|d| d.name()).unwrap_or_default().to_owned(),
                index: d.map_or(0, |d| d.index()),
            }
        }
        "MapIterationSucceeded" | "MapIterationFailed" | "MapIterationAborted" => {
            let d = match name {
                "MapIterationSucceeded" => e.map_iteration_succeeded_event_details(),
                "MapIterationFailed" => e.map_iteration_failed_event_details(),
                _ => e.map_iteration_aborted_event_details(),
            };
            Kind::IterationEnded {
                map: d.and_then(|d| d.name()).unwrap_or_default().to_owned(),
                index: d.map_or(0, |d| d.index()),
                failed: name != "MapIterationSucceeded",
            }
        }
        _ => {
            if let Some(state_type) = name.strip_suffix("StateEntered") {
                let state = e.state_entered_event_details().map(|d| d.name().to_owned()).unwrap_or_default();
                return Kind::StateEntered { name: state, state_type: state_type.to_owned() };
            }
            if name.ends_with("StateExited") {
                let state = e.state_exited_event_details().map(|d| d.name().to_owned()).unwrap_or_default();
                return Kind::StateExited { name: state };
            }
            Kind::Other(name.to_owned())
        }
    }
}

/// The message inside a Lambda error cause (`{"errorType":..,"errorMessage":..}`), else the cause as it is.
pub fn cause_message(cause: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(cause) {
        Ok(v) => match v.get("errorMessage").and_then(serde_json::Value::as_str) {
            Some(m) => m.to_owned(),
            None => cause.to_owned(),
        },
        Err(_) => cause.to_owned(),
    }
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
