//! What `status` and `plan` look at, read the way the functions read it: DNS through `albsync-dns` with the
//! binding's lookup settings, the target group through `albsync-aws`'s `TargetGroup`, the state document
//! through its `StateStore` at `StateDocument::key`. Nothing is written.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use albsync_aws::{ElbTargetGroup, S3StateStore, StateStore, TargetGroup};
use albsync_core::target::RegisteredTarget;
use albsync_core::{Binding, StateDocument};

use crate::cli::{Global, WorldArgs};
use crate::error::{CliError, adapter_error};
use crate::stack::Context;

/// The saved state as found.
// One value per command: the size of a document (with its carried evidence) is not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// No document yet (no run has saved one).
    Absent,
    /// A valid document.
    Found(StateDocument),
    /// A document the functions would refuse (`StateDocumentInvalid`), with the reason.
    Invalid(String),
}

/// The target group and the state document of a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Every target, sorted.
    pub registered: Vec<RegisteredTarget>,
    /// The state document.
    pub saved: Saved,
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
}

impl Stored {
    /// The state document, if it is a valid one.
    pub fn doc(&self) -> Option<&StateDocument> {
        if let Saved::Found(doc) = &self.saved { Some(doc) } else { None }
    }

    /// Every address the target group (on `port`) or the state knows: the ones a run looks for in particular.
    pub fn known(&self, port: u16) -> BTreeSet<IpAddr> {
        let mut ips: BTreeSet<IpAddr> = self.registered.iter().filter(|t| t.port == port).map(|t| t.ip).collect();
        if let Some(doc) = self.doc() {
            ips.extend(doc.active.iter().chain(doc.pending.keys()));
        }
        ips
    }
}

/// The binding the arguments select, its target group and state document as they are now, and now (unix
/// seconds).
pub async fn look(global: &Global, args: &WorldArgs) -> Result<(Binding, Stored, u64), CliError> {
    let ctx = Context::new(global);
    let binding = ctx.binding(&args.binding).await?;
    let (bucket, prefix) = ctx.state_store(args.state_bucket.as_deref(), args.state_prefix.as_deref()).await?;
    let session = ctx.session().await?;
    let tg = ElbTargetGroup::new(session.clients.elb.clone());
    let store = S3StateStore::new(session.clients.s3.clone(), &bucket);
    let key = StateDocument::key(&prefix, &binding);
    let arn = binding.target_group_arn.as_str();
    let (registered, stored) = tokio::join!(tg.describe(arn), store.read(&key));
    let registered = registered.map_err(|e| adapter_error(&session.endpoints, &e, &format!("target group {arn}")))?;
    let stored = stored.map_err(|e| adapter_error(&session.endpoints, &e, &format!("state bucket {bucket}")))?;
    let saved = match stored.map(|s| StateDocument::parse(&s.bytes, &key, &binding)) {
        None => Saved::Absent,
        Some(Ok(doc)) => Saved::Found(doc),
        Some(Err(e)) => Saved::Invalid(e.to_string()),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok((binding, Stored { registered, saved, bucket, key }, now))
}

/// The world the view tests share: binding `web` (port 443, grace 3, VPC 10.0.0.0/16), addresses 10.0.1.N.
#[cfg(test)]
pub mod fixture {
    use albsync_core::events::{Resolved, Strategy};
    use albsync_core::target::HealthState;

    use super::*;

    /// The figures' clock (unix seconds).
    pub const NOW: u64 = 1_795_608_000;

    pub fn binding() -> Binding {
        Binding::from_json(
            r#"{"name":"web","dnsName":"alb.test","port":443,"vpcCidrs":["10.0.0.0/16"],
            "targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"}"#,
        )
        .expect("binding")
    }

    pub fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 1, last])
    }

    /// A complete answer of `all.` (absences are settled), one query.
    pub fn resolved(ips: &[u8]) -> Resolved {
        Resolved {
            addresses: ips.iter().map(|i| ip(*i)).collect(),
            strategy: Strategy::All,
            queries: 1,
            sought: BTreeSet::new(),
            confirmed: BTreeSet::new(),
            resolution: albsync_core::Resolution { complete: true, ..Default::default() },
        }
    }

    /// Targets (address, port, health) and a state document; pending addresses were first missed long ago,
    /// so only the count of looks decides.
    pub fn stored(targets: &[(u8, u16, HealthState)], active: &[u8], pending: &[(u8, u32)]) -> Stored {
        let mut doc = StateDocument::new(
            &binding(),
            active.iter().map(|i| ip(*i)).collect(),
            pending.iter().map(|(i, m)| (ip(*i), *m)).collect(),
            "2026-11-26T00:00:00Z".into(),
            "arn:run".into(),
        );
        doc.first_missed = pending.iter().map(|(i, _)| (ip(*i), "2000-01-01T00:00:00Z".to_owned())).collect();
        let registered = targets
            .iter()
            .map(|(i, port, state)| RegisteredTarget {
                ip: ip(*i),
                port: *port,
                state: *state,
                availability_zone: None,
            })
            .collect();
        Stored { registered, saved: Saved::Found(doc), bucket: "albsync-state".into(), key: "albsync/k.json".into() }
    }
}
