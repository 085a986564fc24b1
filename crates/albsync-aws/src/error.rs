//! AWS errors, classified in one place.
//!
//! Every SDK error becomes an [`AwsError`] whose [`AwsErrorKind`] decides retries (throttled, transient),
//! the outcome of conditional writes (conflict) and the error name the function reports.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

/// The kinds the rest of albsync distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Rate exceeded: retry later with backoff.
    Throttled,
    /// A conditional write lost: HTTP 412 PreconditionFailed only. S3's 409 ConditionalRequestConflict means a
    /// concurrent conflicting request and is to be retried
    /// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html): it is `Transient`.
    Conflict,
    /// The resource does not exist.
    NotFound,
    /// IAM refused.
    AccessDenied,
    /// 5xx, timeout, connection failure: retrying the same call can succeed.
    Transient,
    /// Anything else (a validation error, an invalid target...).
    Other,
}

/// A classified AWS error with the operation that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed ({kind:?}): {message}")]
pub struct AwsError {
    /// The classification.
    pub kind: AwsErrorKind,
    /// The API operation, e.g. `s3:PutObject`.
    pub operation: &'static str,
    /// The service's error code (`NoSuchKey`, `Throttling`, ...), when the service answered.
    pub code: Option<String>,
    /// The service's code and message, or the transport failure.
    pub message: String,
}

impl AwsError {
    /// An error of `kind` for `operation`.
    pub fn new(kind: AwsErrorKind, operation: &'static str, message: impl Into<String>) -> AwsError {
        AwsError { kind, operation, code: None, message: message.into() }
    }
}

/// Classifies an error code and HTTP status as the AWS services report them.
pub fn kind_of(code: Option<&str>, status: Option<u16>) -> AwsErrorKind {
    match code {
        Some(
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "RequestThrottled"
            | "RequestThrottledException",
        ) => return AwsErrorKind::Throttled,
        Some("PreconditionFailed") => return AwsErrorKind::Conflict,
        Some("ConditionalRequestConflict") => return AwsErrorKind::Transient,
        Some(
            "TargetGroupNotFound"
            | "NoSuchKey"
            | "NoSuchBucket"
            | "NotFound"
            | "ResourceNotFoundException"
            | "ParameterNotFound",
        ) => {
            return AwsErrorKind::NotFound;
        }
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException",
        ) => {
            return AwsErrorKind::AccessDenied;
        }
        Some("InternalError" | "InternalFailure" | "ServiceUnavailable" | "ServiceUnavailableException") => {
            return AwsErrorKind::Transient;
        }
        _ => {}
    }
    match status {
        Some(412) => AwsErrorKind::Conflict,
        Some(409) => AwsErrorKind::Transient,
        Some(429) => AwsErrorKind::Throttled,
        Some(403) => AwsErrorKind::AccessDenied,
        Some(404) => AwsErrorKind::NotFound,
        Some(s) if s >= 500 => AwsErrorKind::Transient,
        _ => AwsErrorKind::Other,
    }
}

/// Classifies any SDK error of any service.
pub fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::DispatchFailure(_) = &err
        && let Some(refused) = assume_role_refused(&err)
    {
        return refused;
    }
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => AwsError::new(
            AwsErrorKind::Transient,
            operation,
            format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&err)),
        ),
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let e = service.err();
            let code = e.code();
            let message = format!("{} (HTTP {status}): {}", code.unwrap_or("no code"), e.message().unwrap_or(""));
            AwsError { code: code.map(str::to_owned), ..AwsError::new(kind_of(code, Some(status)), operation, message) }
        }
        _ => AwsError::new(
            AwsErrorKind::Other,
            operation,
            format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&err)),
        ),
    }
}

/// A call made with a binding's role whose sts:AssumeRole STS answered with an error. The SDK reports that as a
/// dispatch failure of the call that needed the credentials ("an error occurred while loading credentials"),
/// which alone would read as transient and be retried for nothing. STS's own answer decides instead: a role
/// whose trust policy does not name the caller is `AccessDenied` (403), a throttled STS is `Throttled`
/// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, "Errors";
/// https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html). Failures to reach STS stay transient.
fn assume_role_refused(err: &(dyn std::error::Error + 'static)) -> Option<AwsError> {
    type AssumeRoleFailure =
        SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError, aws_smithy_runtime_api::http::Response>;
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(SdkError::ServiceError(service)) = e.downcast_ref::<AssumeRoleFailure>() {
            let status = service.raw().status().as_u16();
            let code = aws_sdk_sts::error::ProvideErrorMetadata::code(service.err());
            let message = aws_sdk_sts::error::ProvideErrorMetadata::message(service.err()).unwrap_or("");
            let text = format!("{} (HTTP {status}): {message}", code.unwrap_or("no code"));
            return Some(AwsError {
                code: code.map(str::to_owned),
                ..AwsError::new(kind_of(code, Some(status)), "sts:AssumeRole", text)
            });
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_statuses_and_statuses_fill_in() {
        assert_eq!(kind_of(Some("Throttling"), Some(400)), AwsErrorKind::Throttled);
        assert_eq!(kind_of(Some("PreconditionFailed"), Some(412)), AwsErrorKind::Conflict);
        assert_eq!(kind_of(None, Some(412)), AwsErrorKind::Conflict);
        assert_eq!(kind_of(Some("ConditionalRequestConflict"), Some(409)), AwsErrorKind::Transient, "409: retry");
        assert_eq!(kind_of(None, Some(409)), AwsErrorKind::Transient);
        assert_eq!(kind_of(Some("TargetGroupNotFound"), Some(400)), AwsErrorKind::NotFound);
        assert_eq!(kind_of(Some("AccessDenied"), Some(403)), AwsErrorKind::AccessDenied);
        assert_eq!(kind_of(None, Some(503)), AwsErrorKind::Transient);
        assert_eq!(kind_of(Some("InvalidTarget"), Some(400)), AwsErrorKind::Other);
    }
}
