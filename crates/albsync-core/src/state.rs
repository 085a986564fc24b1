//! The state document kept per binding between runs: which addresses were active, how many consecutive
//! runs each missing address has been missing, since when, and which schedule slot was last counted.
//!
//! The document is versioned and strict: an unknown version, an unknown field or a document that belongs to
//! another binding is an error, never a silent reset, because a reset would restart every grace count.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::binding::Binding;
use crate::evidence::CarriedEvidence;

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
    /// RFC 3339 UTC time each pending address was first missed. An address pending in a document written
    /// before this field existed has no entry: it counts as first missed when read, which only delays it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_missed: BTreeMap<IpAddr, String>,
    /// The schedule slot (unix seconds / `slotSeconds`) whose look was counted into `pending`: a run in the
    /// same slot must not count again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_slot: Option<u64>,
    /// Absence evidence carried to the next run (see [`crate::evidence`]): what the runs so far saw of the
    /// registered addresses DNS did not answer. Absent in documents written before it existed: no evidence.
    #[serde(default, skip_serializing_if = "CarriedEvidence::is_empty")]
    pub evidence: CarriedEvidence,
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
        // The evidence is read on its own first, so that a malformed one is named as such.
        if let Some(evidence) = value.get("evidence") {
            let evidence: CarriedEvidence = serde_json::from_value(evidence.clone()).map_err(|e| {
                StateError::Unparseable { key: key.to_owned(), reason: format!("field `evidence`: {e}") }
            })?;
            if let Some(reason) = evidence.problem() {
                return Err(StateError::Inconsistent { key: key.to_owned(), reason });
            }
        }
        let doc: StateDocument = serde_json::from_value(value)
            .map_err(|e| StateError::Unparseable { key: key.to_owned(), reason: e.to_string() })?;
        let found = identity(&doc.dns_name, &doc.target_group_arn, doc.port);
        let expected = identity(&binding.dns_name, binding.target_group_arn.as_str(), binding.port);
        if found != expected {
            return Err(StateError::ForeignBinding { key: key.to_owned(), found, expected });
        }
        if let Some((ip, at)) = doc.first_missed.iter().find(|(ip, _)| !doc.pending.contains_key(ip)) {
            return Err(StateError::Inconsistent {
                key: key.to_owned(),
                reason: format!("firstMissed {ip} ({at}) is not pending"),
            });
        }
        if let Some((ip, at)) = doc.first_missed.iter().find(|(_, at)| parse_rfc3339_utc(at).is_none()) {
            return Err(StateError::Inconsistent {
                key: key.to_owned(),
                reason: format!("firstMissed {ip}: {at:?} is not an RFC 3339 UTC time like 2026-11-25T12:00:00Z"),
            });
        }
        if let Some((ip, _)) = doc.pending.iter().find(|(_, misses)| **misses == 0) {
            return Err(StateError::Inconsistent { key: key.to_owned(), reason: format!("pending {ip} has 0 misses") });
        }
        let wrong_family = doc
            .active
            .iter()
            .chain(doc.pending.keys())
            .chain(doc.evidence.absence.keys())
            .find(|ip| !binding.family.contains(ip));
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
            first_missed: BTreeMap::new(),
            counted_slot: None,
            evidence: CarriedEvidence::default(),
            written_at,
            written_by,
        }
    }

    /// When `ip` was first missed, in unix seconds: the recorded time, or `now` for a pending address the
    /// document has no time for (older documents), which restarts its time grace and never shortens it.
    pub fn first_missed_secs(&self, ip: &IpAddr, now: u64) -> u64 {
        self.first_missed.get(ip).and_then(|t| parse_rfc3339_utc(t)).map_or(now, |t| t.min(now))
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

/// Parses the RFC 3339 UTC form [`rfc3339_utc`] writes (`2026-11-25T12:00:00Z`) into unix seconds; `None` for
/// anything else (other offsets, fractions, dates before 1970).
pub fn parse_rfc3339_utc(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !shape_ok {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> {
        let part = text.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if year < 1970 || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if day < 1 || day > month_days[usize::try_from(month - 1).ok()?] {
        return None;
    }
    // Howard Hinnant's days-from-civil, the inverse of the algorithm in `rfc3339_utc`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
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

    proptest::proptest! {
        #[test]
        fn timestamps_parse_back_to_the_same_second(t in 0u64..8_000_000_000) {
            proptest::prop_assert_eq!(parse_rfc3339_utc(&rfc3339_utc(t)), Some(t));
        }
    }

    #[test]
    fn only_our_utc_form_parses() {
        for bad in
            ["2026-11-25T12:00:00+01:00", "2026-02-30T00:00:00Z", "2026-11-25 12:00:00Z", "", "1969-12-31T23:59:59Z"]
        {
            assert_eq!(parse_rfc3339_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_first_miss_time_for_an_address_not_pending_or_unparseable_is_refused() {
        let b = binding();
        let mut v: serde_json::Value = serde_json::from_slice(&doc().to_bytes()).expect("json");
        v["firstMissed"] = serde_json::json!({"10.0.1.9": "2026-11-25T12:00:00Z"});
        let ok = StateDocument::parse(v.to_string().as_bytes(), "k", &b).expect("consistent");
        assert_eq!(ok.first_missed_secs(&"10.0.1.9".parse().expect("ip"), u64::MAX), 1_795_608_000);
        v["firstMissed"] = serde_json::json!({"10.0.1.8": "2026-11-25T12:00:00Z"});
        assert!(StateDocument::parse(v.to_string().as_bytes(), "k", &b).is_err());
        v["firstMissed"] = serde_json::json!({"10.0.1.9": "yesterday"});
        assert!(StateDocument::parse(v.to_string().as_bytes(), "k", &b).is_err());
    }

    #[test]
    fn a_document_without_evidence_parses_and_evidence_round_trips() {
        let b = binding();
        let old = doc().to_bytes();
        assert!(!String::from_utf8_lossy(&old).contains("evidence"), "empty evidence is not written");
        assert!(StateDocument::parse(&old, "k", &b).expect("old document").evidence.is_empty());
        let mut d = doc();
        d.evidence.absence.insert(
            "10.0.1.9".parse().expect("ip"),
            crate::evidence::Absence { answers: 3, addresses: 12, per_answer: 8 },
        );
        d.evidence.sets.push(crate::evidence::Remembered { digest: u64::MAX, until: 1_795_608_060 });
        assert_eq!(StateDocument::parse(&d.to_bytes(), "k", &b).expect("parses"), d);
    }

    #[test]
    fn a_malformed_evidence_field_is_refused_naming_it() {
        let b = binding();
        let mut v: serde_json::Value = serde_json::from_slice(&doc().to_bytes()).expect("json");
        for (bad, says) in [
            (
                serde_json::json!({"absence": {"10.0.1.9": {"answers": "three", "addresses": 12, "perAnswer": 8}}}),
                "field `evidence`",
            ),
            (serde_json::json!({"absence": {}, "extra": 1}), "field `evidence`"),
            (
                serde_json::json!({"absence": {"10.0.1.9": {"answers": 0, "addresses": 12, "perAnswer": 8}}}),
                "evidence.absence 10.0.1.9",
            ),
            (
                serde_json::json!({"absence": {"10.0.1.9": {"answers": 2, "addresses": 4, "perAnswer": 8}}}),
                "evidence.absence 10.0.1.9",
            ),
            (
                serde_json::json!({"absence": {"2001:db8::1": {"answers": 2, "addresses": 12, "perAnswer": 8}}}),
                "2001:db8::1 is not of the binding's family",
            ),
            (serde_json::json!({"sets": [{"digest": -1, "until": 5}]}), "field `evidence`"),
            (serde_json::json!({"sets": [{"digest": "12ab", "until": 5}]}), "not 16 hex digits"),
        ] {
            v["evidence"] = bad;
            let err = StateDocument::parse(v.to_string().as_bytes(), "k", &b).expect_err("refused");
            assert!(err.to_string().contains(says), "{err} does not say {says}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_608_000), "2026-11-25T12:00:00Z");
    }
}
