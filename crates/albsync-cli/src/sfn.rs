//! The Step Functions calls the commands make (no other module uses the SDK client), with their errors
//! classified: start an execution, describe it, read its whole history, list executions, read a definition.

use aws_sdk_sfn::error::ProvideErrorMetadata as _;
use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineOutput;
use aws_smithy_types::DateTime;

use crate::error::{CliError, sfn_error};
use crate::events::{Event, from_sdk};
use crate::session::Session;
use crate::timeline::ExecutionInfo;

/// Sends a request, classifying its error as `operation` on `what`.
macro_rules! send {
    ($s:expr, $op:literal, $what:expr, $request:expr) => {
        $request.send().await.map_err(|e| sfn_error(&$s.endpoints, $op, $what, e))
    };
}

fn ms(t: &DateTime) -> i64 {
    t.to_millis().unwrap_or(0)
}

/// Starts an execution; returns its ARN and start time (ms since the epoch).
pub async fn start(s: &Session, state_machine: &str, name: &str, input: &str) -> Result<(String, i64), CliError> {
    let request = s.sfn.start_execution().state_machine_arn(state_machine).name(name).input(input);
    let out = send!(s, "StartExecution", state_machine, request)?;
    Ok((out.execution_arn().to_owned(), ms(out.start_date())))
}

/// DescribeExecution.
pub async fn describe(s: &Session, arn: &str) -> Result<ExecutionInfo, CliError> {
    let d = send!(s, "DescribeExecution", arn, s.sfn.describe_execution().execution_arn(arn))?;
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

/// Every event of an execution (all pages), oldest first.
pub async fn history(s: &Session, arn: &str) -> Result<Vec<Event>, CliError> {
    let pages = s.sfn.get_execution_history().execution_arn(arn).max_results(1000).into_paginator().items();
    let events: Result<Vec<_>, _> = pages.send().collect().await;
    let mut events: Vec<Event> =
        events.map_err(|e| sfn_error(&s.endpoints, "GetExecutionHistory", arn, e))?.iter().map(from_sdk).collect();
    events.sort_by_key(|e| e.id);
    Ok(events)
}

/// One page of ListExecutions (up to 100), newest first, and the token of the next. An Express state machine
/// has no list: that refusal says where its executions are.
pub async fn list_page(s: &Session, state_machine: &str, token: Option<String>) -> Result<Page, CliError> {
    let request = s.sfn.list_executions().state_machine_arn(state_machine).max_results(100).set_next_token(token);
    let out = request.send().await.map_err(|e| {
        if e.as_service_error().and_then(|e| e.code()) == Some("StateMachineTypeNotSupported") {
            return CliError::Usage(format!(
                "{state_machine} is an Express state machine: Step Functions keeps no execution list for Express \
                 (ListExecutions); `history NAME` and `graph --execution NAME` read one run from the state machine's \
                 log group"
            ));
        }
        sfn_error(&s.endpoints, "ListExecutions", state_machine, e)
    })?;
    // Newest first, as ListExecutions promises; sort anyway (moto lists in creation order).
    let mut arns: Vec<(i64, String)> =
        out.executions().iter().map(|e| (ms(e.start_date()), e.execution_arn().to_owned())).collect();
    arns.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let next = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
    Ok((arns.into_iter().map(|(_, arn)| arn).collect(), next))
}

/// Execution ARNs, and the next page's token.
pub type Page = (Vec<String>, Option<String>);

/// DescribeStateMachine: its definition, type and logging.
pub async fn state_machine(s: &Session, arn: &str) -> Result<DescribeStateMachineOutput, CliError> {
    send!(s, "DescribeStateMachine", arn, s.sfn.describe_state_machine().state_machine_arn(arn))
}

/// A state machine's current definition.
pub async fn definition(s: &Session, arn: &str) -> Result<String, CliError> {
    Ok(state_machine(s, arn).await?.definition().to_owned())
}

/// The definition an execution ran.
pub async fn definition_for_execution(s: &Session, arn: &str) -> Result<String, CliError> {
    let request = s.sfn.describe_state_machine_for_execution().execution_arn(arn);
    Ok(send!(s, "DescribeStateMachineForExecution", arn, request)?.definition().to_owned())
}
