//! The CLI's errors, each one line for people, and the documented exit codes (the table is in `albsync --help`,
//! [`crate::cli`]): 2 for usage and configuration (bad flags or files, no credentials, no region), 3 for AWS and
//! DNS (unreachable, not found, denied, throttled, no answer).

use albsync_aws::{AwsError, AwsErrorKind};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the execution did not succeed.
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: AWS or DNS error.
pub const EXIT_AWS: u8 = 3;

/// Everything that stops a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Bad arguments, unknown binding, unreadable or invalid input files.
    #[error("{0}")]
    Usage(String),
    /// The environment lacks something (credentials, region).
    #[error("{0}")]
    Config(String),
    /// The endpoint cannot be reached.
    #[error("cannot reach {service} at {endpoint}: {detail}")]
    Unreachable { service: String, endpoint: String, detail: String },
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Any other AWS failure.
    #[error("{0}")]
    Aws(String),
    /// DNS gave no usable answer.
    #[error("DNS: {0}")]
    Dns(String),
}

impl CliError {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => EXIT_USAGE,
            CliError::Unreachable { .. } | CliError::NotFound(_) | CliError::Aws(_) | CliError::Dns(_) => EXIT_AWS,
        }
    }
}

/// Where a service's requests go: the SDK's endpoint settings, else the public AWS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `--endpoint-url` or `AWS_ENDPOINT_URL`.
    pub global: Option<String>,
    /// The region, for the public endpoint's name.
    pub region: String,
}

impl Endpoints {
    /// The URL requests for `service` go to. `env_suffix` is the service's part of `AWS_ENDPOINT_URL_<SERVICE>`
    /// and `host` its public host prefix.
    pub fn of(&self, env_suffix: &str, host: &str) -> String {
        let url = std::env::var(format!("AWS_ENDPOINT_URL_{env_suffix}")).ok().filter(|u| !u.is_empty());
        url.or_else(|| self.global.clone()).unwrap_or_else(|| format!("https://{host}.{}.amazonaws.com", self.region))
    }
}

fn looks_like_credentials(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("credential") && (lower.contains("no ") || lower.contains("not load") || lower.contains("provider"))
}

/// A request that got no answer from `service` at `endpoint`, the transport failure's `text` shortened to what
/// people need; missing credentials (the SDK fails those before sending) are a configuration error.
fn transport(service: &str, endpoint: String, text: &str) -> CliError {
    if looks_like_credentials(text) {
        return no_credentials(text);
    }
    let lower = text.to_ascii_lowercase();
    let detail = if lower.contains("connection refused") {
        "connection refused (is the endpoint, or the local stand-in, running?)"
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "timed out"
    } else if lower.contains("dns error") || lower.contains("failed to lookup") {
        "its host name does not resolve"
    } else {
        text
    };
    CliError::Unreachable { service: service.to_owned(), endpoint, detail: detail.to_owned() }
}

/// The one-line hint for missing credentials.
pub fn no_credentials(detail: &str) -> CliError {
    CliError::Config(format!(
        "no AWS credentials: {detail} (configure a profile, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    ))
}

/// Classifies a Step Functions SDK error; `what` names the thing asked for (`execution arn:...`).
pub fn sfn_error<E>(endpoints: &Endpoints, operation: &str, what: &str, err: SdkError<E, HttpResponse>) -> CliError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("");
            let message = e.message().unwrap_or("");
            match code {
                "ExecutionDoesNotExist" => CliError::NotFound(format!("no such execution: {what}")),
                "StateMachineDoesNotExist" => CliError::NotFound(format!("no such state machine: {what}")),
                "InvalidArn" => CliError::Usage(format!("not a valid ARN for {operation}: {what} ({message})")),
                "InvalidExecutionInput" => CliError::Usage(format!("the state machine refused the input: {message}")),
                "ExecutionAlreadyExists" => CliError::Usage(format!("an execution with that name exists: {message}")),
                "AccessDeniedException" | "AccessDenied" => CliError::Aws(format!("{operation} was denied: {message}")),
                "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => {
                    CliError::Config(format!("AWS refused the credentials ({code}): {message}"))
                }
                _ => CliError::Aws(format!(
                    "{operation} failed: {} (HTTP {}){}",
                    if code.is_empty() { "no error code" } else { code },
                    service.raw().status().as_u16(),
                    if message.is_empty() { String::new() } else { format!(": {message}") }
                )),
            }
        }
        other => transport("Step Functions", endpoints.of("SFN", "states"), &DisplayErrorContext(other).to_string()),
    }
}

/// An error of a signed request without a service error code (SSM, CloudWatch Logs): a transport failure names
/// the service and its endpoint; missing credentials are a configuration error.
pub fn service_error(endpoint: &str, service: &str, err: &AwsError) -> CliError {
    match err.kind {
        _ if looks_like_credentials(&err.message) => no_credentials(&err.message),
        AwsErrorKind::Transient if err.code.is_none() => transport(service, endpoint.to_owned(), &err.message),
        _ => CliError::Aws(err.to_string()),
    }
}

/// Turns an error of the albsync-aws adapters (ELB, S3) into a CLI error.
pub fn adapter_error(endpoints: &Endpoints, err: &AwsError, what: &str) -> CliError {
    let m = &err.message;
    match err.kind {
        AwsErrorKind::NotFound => CliError::NotFound(format!("{what}: {m}")),
        AwsErrorKind::Transient if ["dispatch failure", "io error", "timeout"].iter().any(|s| m.contains(s)) => {
            let (service, env, host) = match err.operation.starts_with("s3:") {
                true => ("S3", "S3", "s3"),
                false => ("Elastic Load Balancing", "ELASTIC_LOAD_BALANCING_V2", "elasticloadbalancing"),
            };
            transport(service, endpoints.of(env, host), m)
        }
        AwsErrorKind::AccessDenied if m.contains("InvalidClientTokenId") => {
            CliError::Config(format!("AWS refused the credentials: {m}"))
        }
        _ if looks_like_credentials(m) => no_credentials(m),
        _ => CliError::Aws(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints { global: Some("http://127.0.0.1:1".into()), region: "us-east-1".into() }
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(CliError::Config("x".into()).exit_code(), 2);
        assert_eq!(CliError::NotFound("x".into()).exit_code(), 3);
        assert_eq!(CliError::Dns("x".into()).exit_code(), 3);
        let down = CliError::Unreachable { service: "S3".into(), endpoint: "e".into(), detail: "d".into() };
        assert_eq!(down.exit_code(), 3);
    }

    #[test]
    fn a_refused_connection_names_the_service_and_endpoint() {
        let err = AwsError::new(
            AwsErrorKind::Transient,
            "elasticloadbalancing:DescribeTargetHealth",
            "dispatch failure: io error: error trying to connect: tcp connect error: Connection refused (os error 111)",
        );
        let e = adapter_error(&endpoints(), &err, "target group");
        assert_eq!(
            e.to_string(),
            "cannot reach Elastic Load Balancing at http://127.0.0.1:1: connection refused (is the endpoint, or the \
             local stand-in, running?)"
        );
    }

    #[test]
    fn the_public_endpoint_is_named_without_an_override() {
        let e = Endpoints { global: None, region: "eu-west-1".into() };
        assert_eq!(e.of("NO_SUCH_SERVICE_FOR_TEST", "states"), "https://states.eu-west-1.amazonaws.com");
    }

    #[test]
    fn missing_credentials_are_a_configuration_error() {
        let e = transport("S3", "http://127.0.0.1:1".into(), "failed to construct request: no credentials provider");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().starts_with("no AWS credentials:"), "{e}");
    }

    #[test]
    fn not_found_from_the_adapters_is_a_not_found() {
        let err = AwsError::new(AwsErrorKind::NotFound, "s3:GetObject", "NoSuchBucket (HTTP 404): nope");
        assert_eq!(
            adapter_error(&endpoints(), &err, "state bucket b").to_string(),
            "state bucket b: NoSuchBucket (HTTP 404): nope"
        );
    }
}
