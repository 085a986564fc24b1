//! trigger: an ALB's interface was created or deleted (CloudTrail, via EventBridge): run its binding now.
//!
//! The event is EventBridge's "AWS API Call via CloudTrail" for `CreateNetworkInterface` or
//! `DeleteNetworkInterface` made by Elastic Load Balancing. A creation names the interface's description
//! (`ELB app/<name>/<id>`), so it starts the binding of that ALB; a deletion names only the interface id, so it
//! starts every binding with an ENI source. EventBridge cannot set an execution name, which is why this
//! function exists: the name is derived from the event, so a redelivered event starts nothing new, and a burst
//! of events within one [`BURST_SECONDS`] window collapses into one run (two when it straddles windows).

use albsync_aws::{Executions, StartOutcome};
use albsync_core::Binding;
use albsync_core::eni::CREATED_RUN_PREFIX;
use aws_lambda_events::event::cloudwatch_events::cloudtrail::AWSAPICall;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Serialize;
use serde_json::Value;

use crate::edge::{FunctionError, parse};

/// Events within one window of this many seconds share an execution name.
pub const BURST_SECONDS: i64 = 30;
/// The execution-name prefix of a run after an interface deletion.
pub const DELETED_RUN_PREFIX: &str = "eni-deleted-";
/// The service principal ELB's interface calls are made by.
pub const ELB_PRINCIPAL: &str = "elasticloadbalancing.amazonaws.com";

/// What the trigger needs.
#[derive(Debug)]
pub struct Deps<E> {
    /// Step Functions.
    pub executions: E,
    /// The albsync state machine.
    pub state_machine_arn: String,
    /// The deployment's bindings, each with the exact JSON the schedule passes as the execution input.
    pub bindings: Vec<(Binding, Value)>,
}

/// One execution the event asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The binding.
    pub binding: String,
    /// The execution name.
    pub name: String,
    /// `false` when an execution of this name existed already (a redelivery, or the same burst).
    pub started: bool,
}

/// The trigger's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerResult {
    /// The CloudTrail event name.
    pub event_name: String,
    /// Executions asked for, in binding order.
    pub runs: Vec<Run>,
}

/// `<prefix><binding>-<window start, UTC, yyyymmddThhmmss>`: at most 12 + 48 + 1 + 15 = 76 characters of
/// `[a-z0-9-T]`, inside the 80 characters StartExecution allows
/// (<https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html>).
pub fn execution_name(prefix: &str, binding: &str, event_time: chrono::DateTime<chrono::Utc>) -> String {
    let window = event_time.timestamp().div_euclid(BURST_SECONDS) * BURST_SECONDS;
    let start = chrono::DateTime::from_timestamp(window, 0).unwrap_or(event_time);
    format!("{prefix}{binding}-{}", start.format("%Y%m%dT%H%M%S"))
}

fn description_of(call: &AWSAPICall<Value, Value>) -> Option<String> {
    let from_request = call.request_parameters.get("description").and_then(Value::as_str);
    let from_response = call
        .response_elements
        .as_ref()
        .and_then(|r| r.get("networkInterface"))
        .and_then(|n| n.get("description"))
        .and_then(Value::as_str);
    from_request.or(from_response).map(str::to_owned)
}

/// Starts the executions an interface event asks for.
pub async fn handle<E: Executions>(deps: &Deps<E>, event: Value) -> Result<TriggerResult, FunctionError> {
    // A failed call (AccessDenied, a limit) changed nothing: CloudTrail records it with an errorCode.
    let error_code = event.pointer("/detail/errorCode").and_then(Value::as_str).map(str::to_owned);
    let event: EventBridgeEvent<AWSAPICall<Value, Value>> = parse(event)?;
    if event.detail_type != "AWS API Call via CloudTrail" || event.source != "aws.ec2" {
        return Err(FunctionError::InvalidInput(format!(
            "not an EC2 API call via CloudTrail: source {:?}, detail-type {:?}",
            event.source, event.detail_type
        )));
    }
    let call = &event.detail;
    let by_elb =
        call.user_identity.invoked_by.as_deref() == Some(ELB_PRINCIPAL) || call.source_ipaddress == ELB_PRINCIPAL;
    if !by_elb {
        return Err(FunctionError::InvalidInput(format!("{} was not made by {ELB_PRINCIPAL}", call.event_name)));
    }
    let prefix = match call.event_name.as_str() {
        "CreateNetworkInterface" => CREATED_RUN_PREFIX,
        "DeleteNetworkInterface" => DELETED_RUN_PREFIX,
        other => return Err(FunctionError::InvalidInput(format!("{other} is not an interface creation or deletion"))),
    };
    let mut result = TriggerResult { event_name: call.event_name.clone(), runs: Vec::new() };
    if let Some(code) = error_code {
        tracing::info!(event = %call.event_name, code, "the call failed; nothing changed, nothing to run");
        return Ok(result);
    }
    let time = chrono::DateTime::parse_from_rfc3339(&call.event_time)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| FunctionError::InvalidInput(format!("detail.eventTime {:?}: {e}", call.event_time)))?;
    let description = description_of(call);
    if prefix == CREATED_RUN_PREFIX && description.is_none() {
        return Err(FunctionError::InvalidInput("CreateNetworkInterface without a description".into()));
    }
    for (binding, input) in &deps.bindings {
        let Some(source) = &binding.eni else { continue };
        // A deletion does not say whose interface it was: every ENI binding looks.
        if prefix == CREATED_RUN_PREFIX && description.as_deref() != Some(source.description().as_str()) {
            continue;
        }
        let name = execution_name(prefix, &binding.name, time);
        let outcome = deps.executions.start(&deps.state_machine_arn, &name, input.to_string()).await?;
        let started = matches!(outcome, StartOutcome::Started(_));
        tracing::info!(binding = %binding.name, execution = %name, started, event = %call.event_name, "triggered");
        result.runs.push(Run { binding: binding.name.clone(), name, started });
    }
    if result.runs.is_empty() {
        tracing::info!(event = %call.event_name, description = ?description, "no binding has this ALB");
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_share_a_window_and_fit_the_limit() {
        let t = |s: u32| chrono::Utc.with_ymd_and_hms(2026, 12, 1, 13, 30, s).single().expect("time");
        assert_eq!(execution_name(CREATED_RUN_PREFIX, "web", t(0)), "eni-created-web-20261201T133000");
        assert_eq!(execution_name(CREATED_RUN_PREFIX, "web", t(0)), execution_name(CREATED_RUN_PREFIX, "web", t(29)));
        assert_ne!(execution_name(CREATED_RUN_PREFIX, "web", t(29)), execution_name(CREATED_RUN_PREFIX, "web", t(30)));
        let longest = execution_name(DELETED_RUN_PREFIX, &"a".repeat(48), t(59));
        assert!(longest.len() <= 80, "{}", longest.len());
        assert!(longest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
