//! The state document kept per binding between runs: which addresses were active and how many consecutive
//! runs each missing address has been missing.
//!
//! The document is versioned and strict: an unknown version, an unknown field or a document that belongs to
//! another binding is an error, never a silent reset, because a reset would restart every grace count.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::binding::Binding;

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// What one run leaves for the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateDocument {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The binding's name when written (informational).
    pub binding: String,
    /// The DNS name the document belongs to.
    pub dns_name: String,
    /// The target group the document belongs to.
    pub target_group_arn: String,
    /// The port the document belongs to.
    pub port: u16,
    /// The addresses DNS answered in the run that wrote this document.
    pub active: Vec<IpAddr>,
    /// Consecutive misses per registered address that DNS no longer answers.
    pub pending: BTreeMap<IpAddr, u32>,
    /// RFC 3339 UTC time of the write.
    pub written_at: String,
    /// The execution (or tool) that wrote it.
    pub written_by: String,
}

/// Why a stored document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not JSON, or not our schema.
    #[error("state document at {key} does not parse: {reason}")]
    Unparseable { key: String, reason: String },
    /// A schema version this code does not know.
    #[error("state document at {key} has schemaVersion {found}; this version reads {SCHEMA_VERSION}")]
    UnknownVersion { key: String, found: u64 },
    /// Written for another DNS name, target group or port.
    #[error("state document at {key} belongs to {found}, not to {expected}")]
    ForeignBinding { key: String, found: String, expected: String },
    /// A pending counter of zero or an address of the wrong family.
    #[error("state document at {key} is inconsistent: {reason}")]
    Inconsistent { key: String, reason: String },
}

fn identity(dns_name: &str, tg: &str, port: u16) -> String {
    format!("{dns_name} -> {tg} port {port}")
}

impl StateDocument {
    /// The object key of a binding's document: derived from the DNS name, the target group and the port, so
    /// two bindings never share one (the original keyed on the ALB name alone).
    pub fn key(prefix: &str, binding: &Binding) -> String {
        format!(
            "{prefix}{}/{}-{}/{}.json",
            binding.dns_name,
            binding.target_group_arn.name(),
            binding.target_group_arn.id(),
            binding.port
        )
    }

    /// Parses a stored document and checks that it belongs to `binding`.
    pub fn parse(bytes: &[u8], key: &str, binding: &Binding) -> Result<StateDocument, StateError> {
        // Read the version first so that a future schema gets a precise message instead of a field error.
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| StateError::Unparseable { key: key.to_owned(), reason: e.to_string() })?;
        let version = value.get("schemaVersion").and_then(serde_json::Value::as_u64);
        match version {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(v) => return Err(StateError::UnknownVersion { key: key.to_owned(), found: v }),
            None => {
                return Err(StateError::Unparseable {
                    key: key.to_owned(),
                    reason: "missing numeric field `schemaVersion`".to_owned(),
                });
            }
        }
        let doc: StateDocument = serde_json::from_value(value)
            .map_err(|e| StateError::Unparseable { key: key.to_owned(), reason: e.to_string() })?;
        let found = identity(&doc.dns_name, &doc.target_group_arn, doc.port);
        let expected = identity(&binding.dns_name, binding.target_group_arn.as_str(), binding.port);
        if found != expected {
            return Err(StateError::ForeignBinding { key: key.to_owned(), found, expected });
        }
        if let Some((ip, _)) = doc.pending.iter().find(|(_, misses)| **misses == 0) {
            return Err(StateError::Inconsistent { key: key.to_owned(), reason: format!("pending {ip} has 0 misses") });
        }
        let wrong_family = doc.active.iter().chain(doc.pending.keys()).find(|ip| !binding.family.contains(ip));
        if let Some(ip) = wrong_family {
            return Err(StateError::Inconsistent {
                key: key.to_owned(),
                reason: format!("{ip} is not of the binding's family"),
            });
        }
        Ok(doc)
    }

    /// A new document for `binding`.
    pub fn new(
        binding: &Binding,
        active: Vec<IpAddr>,
        pending: BTreeMap<IpAddr, u32>,
        written_at: String,
        written_by: String,
    ) -> StateDocument {
        StateDocument {
            schema_version: SCHEMA_VERSION,
            binding: binding.name.clone(),
            dns_name: binding.dns_name.clone(),
            target_group_arn: binding.target_group_arn.as_str().to_owned(),
            port: binding.port,
            active,
            pending,
            written_at,
            written_by,
        }
    }

    /// The bytes stored in S3.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-11-25T12:00:00Z`) without a date library.
pub fn rfc3339_utc(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // Howard Hinnant's civil-from-days algorithm, valid for every date after 1970.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::binding;

    fn doc() -> StateDocument {
        let b = binding();
        let pending = [("10.0.1.9".parse().expect("ip"), 2)].into_iter().collect();
        StateDocument::new(&b, vec!["10.0.1.1".parse().expect("ip")], pending, rfc3339_utc(0), "test".into())
    }

    #[test]
    fn document_round_trips_through_its_bytes() {
        let b = binding();
        let d = doc();
        assert_eq!(StateDocument::parse(&d.to_bytes(), "k", &b).expect("parses"), d);
    }

    #[test]
    fn key_separates_port_target_group_and_name() {
        let b = binding();
        let mut other_port = b.clone();
        other_port.port = 8443;
        let key = StateDocument::key("albsync/", &b);
        assert_eq!(key, "albsync/alb.test/web-0123456789abcdef/443.json");
        assert_ne!(key, StateDocument::key("albsync/", &other_port));
    }

    #[test]
    fn garbage_unknown_versions_and_foreign_documents_are_errors() {
        let b = binding();
        assert!(matches!(StateDocument::parse(b"{not json", "k", &b), Err(StateError::Unparseable { .. })));
        let mut v: serde_json::Value = serde_json::from_slice(&doc().to_bytes()).expect("json");
        v["schemaVersion"] = 2.into();
        let err = StateDocument::parse(v.to_string().as_bytes(), "k", &b).expect_err("v2");
        assert!(err.to_string().contains("schemaVersion 2"), "{err}");
        let mut other = b.clone();
        other.port = 80;
        let err = StateDocument::parse(&doc().to_bytes(), "k", &other).expect_err("foreign");
        assert!(matches!(err, StateError::ForeignBinding { .. }), "{err}");
        let mut v: serde_json::Value = serde_json::from_slice(&doc().to_bytes()).expect("json");
        v["pending"]["10.0.1.9"] = 0.into();
        assert!(matches!(
            StateDocument::parse(v.to_string().as_bytes(), "k", &b),
            Err(StateError::Inconsistent { .. })
        ));
        v["extra"] = 1.into();
        assert!(StateDocument::parse(v.to_string().as_bytes(), "k", &b).is_err());
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_608_000), "2026-11-25T12:00:00Z");
    }
}
