//! The one list of error names that cross the Lambda edge.
//!
//! Step Functions matches `Retry` and `Catch` on the `errorType` a function reports, so these names are a
//! public, stable interface: the state machine definition, the CDK alarms and operators' runbooks use them.
//! `statemachine/errors.json` is generated from [`ErrorName::ALL`]; a test fails when it is stale.

use std::fmt;

/// A stable error name and whether retrying the same input can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorName {
    InvalidInput,
    DnsUnavailable,
    DnsTimeout,
    DnsNameNotFound,
    DnsNoAddresses,
    ForeignAddress,
    Throttled,
    AwsUnavailable,
    AccessDenied,
    TargetGroupNotFound,
    StateConflict,
    StateDocumentInvalid,
    TargetGroupPortOwned,
    SafetyRailTripped,
    AwsError,
    NotAnInterfaceAddress,
    InterfacesSettling,
}

impl ErrorName {
    /// Every name, in the order of the documentation table.
    pub const ALL: [ErrorName; 17] = [
        ErrorName::InvalidInput,
        ErrorName::DnsUnavailable,
        ErrorName::DnsTimeout,
        ErrorName::DnsNameNotFound,
        ErrorName::DnsNoAddresses,
        ErrorName::ForeignAddress,
        ErrorName::Throttled,
        ErrorName::AwsUnavailable,
        ErrorName::AccessDenied,
        ErrorName::TargetGroupNotFound,
        ErrorName::StateConflict,
        ErrorName::StateDocumentInvalid,
        ErrorName::TargetGroupPortOwned,
        ErrorName::SafetyRailTripped,
        ErrorName::AwsError,
        ErrorName::NotAnInterfaceAddress,
        ErrorName::InterfacesSettling,
    ];

    /// The `errorType` string reported to Step Functions.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorName::InvalidInput => "Albsync.InvalidInput",
            ErrorName::DnsUnavailable => "Albsync.DnsUnavailable",
            ErrorName::DnsTimeout => "Albsync.DnsTimeout",
            ErrorName::DnsNameNotFound => "Albsync.DnsNameNotFound",
            ErrorName::DnsNoAddresses => "Albsync.DnsNoAddresses",
            ErrorName::ForeignAddress => "Albsync.ForeignAddress",
            ErrorName::Throttled => "Albsync.Throttled",
            ErrorName::AwsUnavailable => "Albsync.AwsUnavailable",
            ErrorName::AccessDenied => "Albsync.AccessDenied",
            ErrorName::TargetGroupNotFound => "Albsync.TargetGroupNotFound",
            ErrorName::StateConflict => "Albsync.StateConflict",
            ErrorName::StateDocumentInvalid => "Albsync.StateDocumentInvalid",
            ErrorName::TargetGroupPortOwned => "Albsync.TargetGroupPortOwned",
            ErrorName::SafetyRailTripped => "Albsync.SafetyRailTripped",
            ErrorName::AwsError => "Albsync.AwsError",
            ErrorName::NotAnInterfaceAddress => "Albsync.NotAnInterfaceAddress",
            ErrorName::InterfacesSettling => "Albsync.InterfacesSettling",
        }
    }

    /// Whether the state machine should retry a task that failed with this name.
    ///
    /// Only conditions that go away by themselves are retryable; a conflict or a tripped rail must stop the run.
    pub const fn retryable(self) -> bool {
        matches!(
            self,
            ErrorName::DnsUnavailable | ErrorName::DnsTimeout | ErrorName::Throttled | ErrorName::AwsUnavailable
        )
    }

    /// One line for people: what the name means.
    pub const fn meaning(self) -> &'static str {
        match self {
            ErrorName::InvalidInput => "the event, binding or configuration given to a function is malformed",
            ErrorName::DnsUnavailable => "the name server failed (SERVFAIL, REFUSED or a network error)",
            ErrorName::DnsTimeout => "the name server did not answer in time",
            ErrorName::DnsNameNotFound => "the name does not exist (NXDOMAIN)",
            ErrorName::DnsNoAddresses => "the name exists but has no address of the family",
            ErrorName::ForeignAddress => "DNS answered an address outside the allowed CIDRs",
            ErrorName::Throttled => "an AWS API throttled the call",
            ErrorName::AwsUnavailable => "a transient AWS failure (5xx, timeout, connection)",
            ErrorName::AccessDenied => "IAM refused the call",
            ErrorName::TargetGroupNotFound => "the target group does not exist",
            ErrorName::StateConflict => {
                "the state document is not the version this run read or saved (HTTP 412 or changed since): another run won"
            }
            ErrorName::StateDocumentInvalid => "the stored state document does not parse or belongs to another binding",
            ErrorName::TargetGroupPortOwned => {
                "another binding owns the target group and port (its ownership record names it); nothing was changed"
            }
            ErrorName::SafetyRailTripped => "a safety rail refused the deregistration",
            ErrorName::AwsError => "another AWS error",
            ErrorName::NotAnInterfaceAddress => {
                "DNS answered an address that is on none of the ALB's network interfaces (ENI source)"
            }
            ErrorName::InterfacesSettling => {
                "a run after an interface creation: the new node is not in use or not in DNS yet (caught: look again)"
            }
        }
    }

    /// Looks a name up by its `errorType` string.
    pub fn from_type(error_type: &str) -> Option<ErrorName> {
        ErrorName::ALL.into_iter().find(|n| n.as_str() == error_type)
    }

    /// The JSON list published beside the state machine definition for the CDK tests and tools.
    pub fn catalogue_json() -> String {
        let items: Vec<serde_json::Value> = ErrorName::ALL
            .iter()
            .map(|n| {
                serde_json::json!({
                    "name": n.as_str(),
                    "retryable": n.retryable(),
                    "meaning": n.meaning(),
                })
            })
            .collect();
        let mut out = serde_json::to_string_pretty(&items).unwrap_or_default();
        out.push('\n');
        out
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_round_trip() {
        let set: BTreeSet<_> = ErrorName::ALL.iter().map(|n| n.as_str()).collect();
        assert_eq!(set.len(), ErrorName::ALL.len());
        for n in ErrorName::ALL {
            assert_eq!(ErrorName::from_type(n.as_str()), Some(n));
            assert!(n.as_str().starts_with("Albsync."));
        }
        assert_eq!(ErrorName::from_type("States.ALL"), None);
    }

    #[test]
    fn conflicts_and_rails_are_never_retryable() {
        assert!(!ErrorName::StateConflict.retryable());
        assert!(!ErrorName::SafetyRailTripped.retryable());
        assert!(ErrorName::Throttled.retryable());
    }
}
