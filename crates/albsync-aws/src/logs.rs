//! The CloudWatch Logs read of the CLI (an Express execution's records, written by Step Functions into the state
//! machine's log group), as a signed awsJson1_1 request ([`crate::signed`]) instead of aws-sdk-cloudwatchlogs.
//!
//! Request and answer shapes: <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html>.
//! The service "can return empty results while there are more log events available through the token", so every
//! page is read until one comes without `nextToken`, with a bound ([`MAX_PAGES`]) so that a scan of a huge group
//! ends in an error naming it, never in a silently partial answer.

use serde::{Deserialize, Serialize};

use crate::error::AwsError;
use crate::signed::{LOGS, SetupError, SignedClient, collect_pages_up_to};

/// Pages of one FilterLogEvents scan at most. Far more than the pages of SSM or EC2: an empty page with a token
/// is normal while the service scans a large group, and each costs one request.
pub const MAX_PAGES: usize = 1000;

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    /// The stream it was written to.
    #[serde(default)]
    pub log_stream_name: String,
    /// Its id.
    #[serde(default)]
    pub event_id: String,
    /// When it happened, ms since the epoch.
    #[serde(default)]
    pub timestamp: i64,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// Which events of a group to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter<'a> {
    /// A filter pattern (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>).
    pub pattern: Option<&'a str>,
    /// Events at or after this time (ms since the epoch).
    pub start_ms: Option<i64>,
    /// Events at or before this time (ms since the epoch).
    pub end_ms: Option<i64>,
    /// Events per page (1 to 10,000; the service's default is as many as fit in 1 MB).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FilterLogEventsRequest<'a> {
    log_group_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_pattern: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterLogEventsResponse {
    #[serde(default)]
    events: Vec<LogEvent>,
    next_token: Option<String>,
}

/// CloudWatch Logs, read-only.
#[derive(Debug, Clone)]
pub struct Logs {
    client: SignedClient,
}

impl Logs {
    /// The client for `config` (`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, then `AWS_ENDPOINT_URL`, else the public
    /// endpoint).
    pub fn new(config: &aws_config::SdkConfig) -> Result<Logs, SetupError> {
        Ok(Logs { client: SignedClient::new(config, LOGS)? })
    }

    /// Where requests go.
    pub fn endpoint(&self) -> &str {
        self.client.endpoint()
    }

    /// FilterLogEvents over all pages. A missing group is an error of code `ResourceNotFoundException`.
    pub async fn filter_log_events(&self, group: &str, filter: &Filter<'_>) -> Result<Vec<LogEvent>, AwsError> {
        collect_pages_up_to("logs:FilterLogEvents", MAX_PAGES, |token| async move {
            let request = FilterLogEventsRequest {
                log_group_name: group,
                filter_pattern: filter.pattern,
                start_time: filter.start_ms,
                end_time: filter.end_ms,
                limit: filter.limit,
                next_token: token.as_deref(),
            };
            let out: FilterLogEventsResponse =
                self.client.json("logs:FilterLogEvents", "FilterLogEvents", &request).await?;
            Ok((out.events, out.next_token))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_have_the_documented_member_names() {
        let request = FilterLogEventsRequest {
            log_group_name: "/aws/vendedlogs/states/x",
            filter_pattern: Some("\"arn\""),
            start_time: Some(5),
            end_time: None,
            limit: None,
            next_token: None,
        };
        assert_eq!(
            serde_json::to_value(&request).expect("json"),
            serde_json::json!({"logGroupName": "/aws/vendedlogs/states/x", "filterPattern": "\"arn\"", "startTime": 5})
        );
        let answer = r#"{"events":[{"logStreamName":"s","timestamp":7,"message":"m","ingestionTime":8,"eventId":"e"}],
            "searchedLogStreams":[],"nextToken":"n"}"#;
        let out: FilterLogEventsResponse = serde_json::from_str(answer).expect("answer");
        assert_eq!(
            out.events,
            vec![LogEvent { log_stream_name: "s".into(), event_id: "e".into(), timestamp: 7, message: "m".into() }]
        );
        assert_eq!(out.next_token.as_deref(), Some("n"));
    }
}
