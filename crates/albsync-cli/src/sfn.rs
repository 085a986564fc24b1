//! The Step Functions calls the commands make, with their errors classified: start an execution, describe it,
//! read its whole history (all pages), and fetch a definition.

use aws_smithy_types::DateTime;

use crate::error::CliError;
use crate::error::sfn_error;
use crate::events::{Event, from_sdk};
use crate::session::Session;
use crate::timeline::ExecutionInfo;

fn ms(t: &DateTime) -> i64 {
    t.to_millis().unwrap_or(0)
}

/// Starts an execution; returns its ARN and start time (ms since the epoch).
pub async fn start(s: &Session, state_machine: &str, name: &str, input: &str) -> Result<(String, i64), CliError> {
    let out = s
        .sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input)
        .send()
        .await
        .map_err(|e| sfn_error(&s.endpoints, "StartExecution", state_machine, e))?;
    Ok((out.execution_arn().to_owned(), ms(out.start_date())))
}

/// DescribeExecution.
pub async fn describe(s: &Session, arn: &str) -> Result<ExecutionInfo, CliError> {
    let d = s
        .sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| sfn_error(&s.endpoints, "DescribeExecution", arn, e))?;
    let json = |text: Option<&str>| text.and_then(|t| serde_json::from_str(t).ok());
    Ok(ExecutionInfo {
        arn: d.execution_arn().to_owned(),
        name: d.name().unwrap_or_default().to_owned(),
        state_machine_arn: d.state_machine_arn().to_owned(),
        status: d.status().as_str().to_owned(),
        start_ms: ms(d.start_date()),
        stop_ms: d.stop_date().map(ms),
        input: json(d.input()),
        output: json(d.output()),
        error: d.error().map(str::to_owned),
        cause: d.cause().map(str::to_owned),
    })
}

/// Every event of an execution, oldest first.
pub async fn history(s: &Session, arn: &str) -> Result<Vec<Event>, CliError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| sfn_error(&s.endpoints, "GetExecutionHistory", arn, e))?;
        events.extend(out.events().iter().map(from_sdk));
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.id);
    Ok(events)
}

/// The definition an execution ran.
pub async fn definition_for_execution(s: &Session, arn: &str) -> Result<String, CliError> {
    let out = s
        .sfn
        .describe_state_machine_for_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| sfn_error(&s.endpoints, "DescribeStateMachineForExecution", arn, e))?;
    Ok(out.definition().to_owned())
}

/// A state machine's current definition.
pub async fn definition(s: &Session, arn: &str) -> Result<String, CliError> {
    let out = s
        .sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .map_err(|e| sfn_error(&s.endpoints, "DescribeStateMachine", arn, e))?;
    Ok(out.definition().to_owned())
}
