//! The Lambda edge: every error a function returns, mapped to its stable name.
//!
//! Step Functions sees only `errorType` and `errorMessage`. The names come from
//! [`albsync_core::ErrorName`], the one list; this module decides which name each failure gets.

use albsync_aws::{AwsError, AwsErrorKind};
use albsync_core::ErrorName;
use albsync_core::eni::EniError;
use albsync_core::owner::OwnedByAnother;
use albsync_core::rails::RailError;
use albsync_core::state::StateError;
use albsync_dns::DnsError;
use lambda_runtime::Diagnostic;

/// Anything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The event (or the binding in it) is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// DNS gave no usable answer.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// An address outside the binding's allowed CIDRs reached a function.
    #[error("{address} is outside the binding's allowed CIDRs")]
    Foreign { address: std::net::IpAddr },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The stored state document cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// A safety rail refused a deregistration.
    #[error(transparent)]
    Rail(#[from] RailError),
    /// Another binding owns the binding's target group + port.
    #[error(transparent)]
    Owned(#[from] Box<OwnedByAnother>),
    /// The state document is no longer the version this run saved: another run owns this round.
    #[error("state document {key} changed since this run saved it (saved {saved}, now {found:?}): nothing removed")]
    Superseded { key: String, saved: String, found: Option<String> },
    /// The ENI source refused the answer or an interface.
    #[error(transparent)]
    Eni(#[from] EniError),
    /// After an interface creation the new node is not visible everywhere yet: the state machine looks again.
    #[error("after an interface creation: {0}; looking again")]
    InterfacesSettling(String),
}

impl FunctionError {
    /// The stable name Step Functions matches on.
    pub fn name(&self) -> ErrorName {
        match self {
            FunctionError::InvalidInput(_) => ErrorName::InvalidInput,
            FunctionError::Dns(e) => match e {
                DnsError::NameNotFound { .. } => ErrorName::DnsNameNotFound,
                DnsError::NoAddresses { .. } => ErrorName::DnsNoAddresses,
                DnsError::Timeout { .. } | DnsError::DeadlineReached { .. } => ErrorName::DnsTimeout,
                DnsError::ServerFailure { .. } | DnsError::Io { .. } | DnsError::NoNameServers { .. } => {
                    ErrorName::DnsUnavailable
                }
                DnsError::ForeignAddress { .. } => ErrorName::ForeignAddress,
                DnsError::InvalidName { .. } | DnsError::Configuration { .. } => ErrorName::InvalidInput,
            },
            FunctionError::Foreign { .. } => ErrorName::ForeignAddress,
            FunctionError::Aws(e) => match e.kind {
                AwsErrorKind::Throttled => ErrorName::Throttled,
                AwsErrorKind::Transient => ErrorName::AwsUnavailable,
                AwsErrorKind::AccessDenied => ErrorName::AccessDenied,
                AwsErrorKind::Conflict => ErrorName::StateConflict,
                AwsErrorKind::NotFound if e.operation.starts_with("elasticloadbalancing:") => {
                    ErrorName::TargetGroupNotFound
                }
                AwsErrorKind::NotFound | AwsErrorKind::Other => ErrorName::AwsError,
            },
            FunctionError::State(_) => ErrorName::StateDocumentInvalid,
            FunctionError::Rail(_) => ErrorName::SafetyRailTripped,
            FunctionError::Superseded { .. } => ErrorName::StateConflict,
            FunctionError::Eni(EniError::NotAnInterface { .. }) => ErrorName::NotAnInterfaceAddress,
            FunctionError::Eni(EniError::Foreign { .. }) => ErrorName::ForeignAddress,
            FunctionError::Eni(EniError::Clock(_)) => ErrorName::InvalidInput,
            FunctionError::InterfacesSettling(_) => ErrorName::InterfacesSettling,
            FunctionError::Owned(_) => ErrorName::TargetGroupPortOwned,
        }
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(e: FunctionError) -> Diagnostic {
        let name = e.name();
        // One structured line per failure, so that logs and the execution history tell the same story.
        tracing::error!(error_type = name.as_str(), retryable = name.retryable(), "{e}");
        Diagnostic { error_type: name.as_str().to_owned(), error_message: e.to_string() }
    }
}

/// Parses an event, turning any shape or validation problem into `Albsync.InvalidInput`.
pub fn parse<T: serde::de::DeserializeOwned>(event: serde_json::Value) -> Result<T, FunctionError> {
    serde_json::from_value(event).map_err(|e| FunctionError::InvalidInput(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_gets_its_stable_name() {
        let cases: Vec<(FunctionError, &str)> = vec![
            (DnsError::Timeout { name: "a".into() }.into(), "Albsync.DnsTimeout"),
            (DnsError::ServerFailure { name: "a".into(), code: "SERVFAIL".into() }.into(), "Albsync.DnsUnavailable"),
            (DnsError::NameNotFound { name: "a".into() }.into(), "Albsync.DnsNameNotFound"),
            (DnsError::NoAddresses { name: "a".into() }.into(), "Albsync.DnsNoAddresses"),
            (AwsError::new(AwsErrorKind::Conflict, "s3:PutObject", "412").into(), "Albsync.StateConflict"),
            (
                AwsError::new(AwsErrorKind::Throttled, "elasticloadbalancing:RegisterTargets", "").into(),
                "Albsync.Throttled",
            ),
            (
                AwsError::new(AwsErrorKind::NotFound, "elasticloadbalancing:DescribeTargetHealth", "").into(),
                "Albsync.TargetGroupNotFound",
            ),
            (AwsError::new(AwsErrorKind::NotFound, "s3:GetObject", "NoSuchBucket").into(), "Albsync.AwsError"),
            (RailError::LastTarget { count: 1 }.into(), "Albsync.SafetyRailTripped"),
            (FunctionError::InvalidInput("x".into()), "Albsync.InvalidInput"),
        ];
        for (err, name) in cases {
            let d: Diagnostic = err.into();
            assert_eq!(d.error_type, name);
        }
    }
}
