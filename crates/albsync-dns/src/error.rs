//! The typed outcomes of a lookup that yields no usable address set. The Lambda edge maps each
//! variant to one stable error name; [`DnsError::is_retryable`] says which ones may succeed when
//! simply tried again.

use std::net::IpAddr;

/// Why a name could not be resolved to a usable set of addresses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// NXDOMAIN: the name does not exist.
    #[error("{name}: no such name (NXDOMAIN)")]
    NameNotFound {
        /// The name asked for (no trailing dot).
        name: String,
    },
    /// NOERROR without an address of the asked family.
    #[error("{name}: the name exists but has no address of the asked family")]
    NoAddresses {
        /// The name asked for (no trailing dot).
        name: String,
    },
    /// The name server answered with an error code (SERVFAIL, REFUSED, ...).
    #[error("{name}: the name server answered {code}")]
    ServerFailure {
        /// The name asked for (no trailing dot).
        name: String,
        /// The response code's mnemonic, e.g. `SERVFAIL`.
        code: String,
    },
    /// The name server did not answer within the per-query timeout.
    #[error("{name}: the name server did not answer in time")]
    Timeout {
        /// The name asked for (no trailing dot).
        name: String,
    },
    /// Authoritative mode found no name server for the name's zone (no NS records, or none with an address).
    #[error("{name}: no authoritative name server found for its zone (lookup.mode authoritative)")]
    NoNameServers {
        /// The name asked for (no trailing dot).
        name: String,
    },
    /// The invocation's deadline came before any usable answer; nothing was confirmed.
    #[error("{name}: no answer before the invocation's deadline ({budget_ms} ms were left for DNS)")]
    DeadlineReached {
        /// The name asked for (no trailing dot).
        name: String,
        /// How much time the pass had.
        budget_ms: u64,
    },
    /// An answer held an address outside the allowed ranges; nothing is returned then, since
    /// registering such an address would send traffic somewhere unintended.
    #[error("{name} answered {address}, which is outside the allowed address ranges")]
    ForeignAddress {
        /// The name whose answer held the address (no trailing dot).
        name: String,
        /// The offending address.
        address: IpAddr,
    },
    /// Talking to the name server failed below DNS (connection refused, unreadable response...).
    #[error("{name}: cannot talk to the name server: {message}")]
    Io {
        /// The name asked for (no trailing dot).
        name: String,
        /// What went wrong.
        message: String,
    },
    /// The name given is not a DNS name.
    #[error("{name:?} is not a valid DNS name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The resolver could not be built (for example, the system resolver configuration is
    /// unreadable).
    #[error("cannot set up the DNS resolver: {message}")]
    Configuration {
        /// What went wrong.
        message: String,
    },
}

impl DnsError {
    /// Whether the same lookup may succeed if simply repeated: true for server failures,
    /// timeouts and network errors; false for answers that say something about the name
    /// (NXDOMAIN, no address, foreign address) and for invalid input or configuration.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::ServerFailure { .. }
                | Self::Timeout { .. }
                | Self::DeadlineReached { .. }
                | Self::NoNameServers { .. }
                | Self::Io { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<DnsError> {
        let name = "alb.test".to_owned();
        vec![
            DnsError::NameNotFound { name: name.clone() },
            DnsError::NoAddresses { name: name.clone() },
            DnsError::ServerFailure { name: name.clone(), code: "SERVFAIL".to_owned() },
            DnsError::Timeout { name: name.clone() },
            DnsError::DeadlineReached { name: name.clone(), budget_ms: 900 },
            DnsError::NoNameServers { name: name.clone() },
            DnsError::ForeignAddress { name: name.clone(), address: IpAddr::from([8, 8, 8, 8]) },
            DnsError::Io { name: name.clone(), message: "connection refused".to_owned() },
            DnsError::InvalidName { name, reason: "empty".to_owned() },
            DnsError::Configuration { message: "no resolv.conf".to_owned() },
        ]
    }

    #[test]
    fn only_server_failures_timeouts_and_network_errors_are_retryable() {
        let retryable: Vec<bool> = every_variant().iter().map(DnsError::is_retryable).collect();
        assert_eq!(retryable, [false, false, true, true, true, true, false, true, false, false]);
    }

    #[test]
    fn messages_name_the_name_and_the_address() {
        for error in every_variant() {
            let message = error.to_string();
            if !matches!(error, DnsError::Configuration { .. }) {
                assert!(message.contains("alb.test"), "{message}");
            }
        }
        let foreign = DnsError::ForeignAddress { name: "alb.test".to_owned(), address: IpAddr::from([8, 8, 8, 8]) };
        assert!(foreign.to_string().contains("8.8.8.8"));
    }
}
