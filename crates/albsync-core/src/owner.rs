//! The ownership record of a target group + port: which binding may sync it.
//!
//! Two bindings on one target group and port would deregister each other's live targets forever (each sees
//! the other's addresses as "missing from my DNS"). The state documents cannot catch that: they are keyed by
//! DNS name, target group and port, so a second binding with another DNS name has a document of its own.
//! One record per target group + port, created with a conditional create (`If-None-Match: *`), names the
//! binding that owns it; any other binding is refused before it changes anything.

use serde::{Deserialize, Serialize};

use crate::binding::Binding;
use crate::state::{SCHEMA_VERSION, StateError};

/// Who owns a target group + port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OwnerRecord {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The owning binding's name.
    pub binding: String,
    /// The owning binding's DNS name.
    pub dns_name: String,
    /// The target group the record is for.
    pub target_group_arn: String,
    /// The port the record is for.
    pub port: u16,
    /// RFC 3339 UTC time of the claim.
    pub claimed_at: String,
    /// The execution (or tool) that claimed it.
    pub claimed_by: String,
}

/// A binding refused because another one owns its target group + port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "target group {target_group_arn} port {port} is owned by binding {owner:?} ({owner_dns_name}), not by {claimant:?} ({claimant_dns_name}) (ownership record {key}); nothing was changed. Point one binding at a target group and port, or delete the record if {owner:?} is gone"
)]
pub struct OwnedByAnother {
    /// The record's key.
    pub key: String,
    /// The target group.
    pub target_group_arn: String,
    /// The port.
    pub port: u16,
    /// The owner's name.
    pub owner: String,
    /// The owner's DNS name.
    pub owner_dns_name: String,
    /// The refused binding's name.
    pub claimant: String,
    /// The refused binding's DNS name.
    pub claimant_dns_name: String,
}

impl OwnerRecord {
    /// The record's key: `<prefix>owners/<targetGroupName>-<targetGroupId>/<port>.owner.json`.
    ///
    /// The `.owner.json` ending keeps it apart from a state document even for a binding whose DNS name is
    /// the single label `owners` (state documents end in `<port>.json`).
    pub fn key(prefix: &str, binding: &Binding) -> String {
        format!(
            "{prefix}owners/{}-{}/{}.owner.json",
            binding.target_group_arn.name(),
            binding.target_group_arn.id(),
            binding.port
        )
    }

    /// A record naming `binding` as the owner.
    pub fn new(binding: &Binding, claimed_at: String, claimed_by: String) -> OwnerRecord {
        OwnerRecord {
            schema_version: SCHEMA_VERSION,
            binding: binding.name.clone(),
            dns_name: binding.dns_name.clone(),
            target_group_arn: binding.target_group_arn.as_str().to_owned(),
            port: binding.port,
            claimed_at,
            claimed_by,
        }
    }

    /// Serialized form.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Parses a stored record of `binding`'s target group + port. A record of another target group or port
    /// under this key (hand-made or copied) is refused rather than trusted.
    pub fn parse(bytes: &[u8], key: &str, binding: &Binding) -> Result<OwnerRecord, StateError> {
        let record: OwnerRecord = serde_json::from_slice(bytes)
            .map_err(|e| StateError::Unparseable { key: key.to_owned(), reason: e.to_string() })?;
        if record.schema_version != SCHEMA_VERSION {
            return Err(StateError::UnknownVersion { key: key.to_owned(), found: u64::from(record.schema_version) });
        }
        if record.target_group_arn != binding.target_group_arn.as_str() || record.port != binding.port {
            return Err(StateError::ForeignBinding {
                key: key.to_owned(),
                found: format!("{} port {}", record.target_group_arn, record.port),
                expected: format!("{} port {}", binding.target_group_arn.as_str(), binding.port),
            });
        }
        Ok(record)
    }

    /// `Ok` when the record names `binding` (name and DNS name), else the refusal naming both bindings.
    pub fn check(&self, key: &str, binding: &Binding) -> Result<(), Box<OwnedByAnother>> {
        if self.binding == binding.name && self.dns_name == binding.dns_name {
            return Ok(());
        }
        Err(Box::new(OwnedByAnother {
            key: key.to_owned(),
            target_group_arn: self.target_group_arn.clone(),
            port: self.port,
            owner: self.binding.clone(),
            owner_dns_name: self.dns_name.clone(),
            claimant: binding.name.clone(),
            claimant_dns_name: binding.dns_name.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateDocument;
    use crate::testing::binding;

    #[test]
    fn a_record_names_its_binding_and_round_trips() {
        let b = binding();
        let key = OwnerRecord::key("albsync/", &b);
        assert_eq!(key, "albsync/owners/web-0123456789abcdef/443.owner.json");
        let r = OwnerRecord::new(&b, "2026-12-01T00:00:00Z".into(), "e1".into());
        let back = OwnerRecord::parse(&r.to_bytes(), &key, &b).expect("parses");
        assert_eq!(back, r);
        assert_eq!(back.check(&key, &b), Ok(()));
    }

    #[test]
    fn another_name_or_dns_name_is_refused_with_both_bindings_named() {
        let owner = binding();
        let r = OwnerRecord::new(&owner, "2026-12-01T00:00:00Z".into(), "e1".into());
        let key = OwnerRecord::key("albsync/", &owner);
        let mut renamed = owner.clone();
        renamed.name = "api".into();
        let mut other_dns = owner.clone();
        other_dns.dns_name = "other.test".into();
        for claimant in [renamed, other_dns] {
            let err = r.check(&key, &claimant).expect_err("refused");
            let text = err.to_string();
            for part in
                ["\"web\"", "alb.test", &claimant.name, &claimant.dns_name, "port 443", &key, "targetgroup/web/"]
            {
                assert!(text.contains(part), "{text} lacks {part}");
            }
        }
    }

    #[test]
    fn a_record_of_another_port_or_a_corrupt_one_is_refused() {
        let b = binding();
        let mut other_port = b.clone();
        other_port.port = 8443;
        let r = OwnerRecord::new(&other_port, "t".into(), "e".into());
        let key = OwnerRecord::key("albsync/", &b);
        assert!(matches!(OwnerRecord::parse(&r.to_bytes(), &key, &b), Err(StateError::ForeignBinding { .. })));
        assert!(matches!(OwnerRecord::parse(b"{", &key, &b), Err(StateError::Unparseable { .. })));
    }

    #[test]
    fn the_record_key_never_equals_a_state_document_key() {
        let mut b = binding();
        b.dns_name = "owners".into();
        assert_ne!(OwnerRecord::key("albsync/", &b), StateDocument::key("albsync/", &b));
    }
}
