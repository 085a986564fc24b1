//! deregister: removes the addresses whose grace ran out, if every safety rail holds.
//!
//! It acts only on the state this very run saved: it re-reads the state document and removes nothing unless
//! the document is still at the ETag SaveState returned. A later run that reset a count (the address came
//! back) has changed the document, so a late Deregister ends as superseded instead of acting on stale counts.
//! The expiry is then checked again from the document (misses and first-miss time), not from the event.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use albsync_aws::{Ec2NetworkInterfaces, NetworkInterfaces, StateStore, TargetGroup};
use albsync_core::StateDocument;
use albsync_core::eni::{Addresses, removable};
use albsync_core::events::{DeregisterRequest, DeregisterResult};
use albsync_core::rails::{check_deregistration, check_recorded};
use albsync_core::target::RegisteredTarget;

use crate::edge::{FunctionError, parse};

/// What the deregister handler needs.
#[derive(Debug)]
pub struct Deps<T, S, I = Ec2NetworkInterfaces> {
    /// The target group.
    pub targets: T,
    /// The state documents.
    pub store: S,
    /// Key prefix of the state documents.
    pub prefix: String,
    /// The ALB's network interfaces, read again for bindings with an `eni` source.
    pub interfaces: I,
}

/// Re-reads the state, checks the rails against the target group as it is now (after this run's
/// registrations), then deregisters the longest-missing expired targets up to the cap. For an ENI-source
/// binding, never an address on an interface in use as Deregister reads them now
/// (`albsync_core::eni::removable`).
pub async fn handle<T: TargetGroup, S: StateStore, I: NetworkInterfaces>(
    deps: &Deps<T, S, I>,
    event: serde_json::Value,
) -> Result<DeregisterResult, FunctionError> {
    let DeregisterRequest { binding, counted, active, etag, execution } = parse(event)?;
    let key = StateDocument::key(&deps.prefix, &binding);
    let stored = deps.store.read(&key).await?;
    let found = stored.as_ref().map(|s| s.etag.clone());
    let Some(stored) = stored.filter(|s| s.etag == etag) else {
        tracing::info!(binding = %binding.name, key, saved = etag, found = ?found, execution, "superseded: the state changed since this run saved it; nothing removed");
        return Err(FunctionError::Superseded { key, saved: etag, found });
    };
    let doc = StateDocument::parse(&stored.bytes, &key, &binding)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    for c in counted.iter().filter(|c| c.expired) {
        check_recorded(&binding, &doc, c.ip, now)?;
    }
    let arn = binding.target_group_arn.as_str();
    // A target group in another account is read and changed with the binding's role (albsync_aws::assume).
    let targets = deps.targets.for_role(binding.role_arn.as_ref()).await?;
    let live: Vec<RegisteredTarget> = targets.describe(arn).await?.into_iter().filter(|t| binding.is_live(t)).collect();
    let answered: BTreeSet<_> = active.into_iter().collect();
    let mut selection = check_deregistration(&binding, &counted, &live, &answered)?;
    let mut spared = Vec::new();
    if let Some(source) = binding.eni.as_ref().filter(|_| !selection.remove.is_empty()) {
        // Read last, just before the call: the window in which a new interface can take an address is then
        // this read's age, not the seconds since Diff. A failed read fails the step: nothing is removed.
        let interfaces = deps.interfaces.alb_interfaces(source).await?;
        let check = removable(std::mem::take(&mut selection.remove), &Addresses::of(&binding, &interfaces));
        for (ip, why) in &check.left {
            tracing::info!(binding = %binding.name, %ip, why, "expired but not deregistered");
        }
        spared = check.left.into_iter().map(|(ip, _)| ip).collect();
        selection.remove = check.act;
    }
    let calls = if selection.remove.is_empty() { 0 } else { targets.deregister(arn, &selection.remove).await? };
    for t in &selection.remove {
        tracing::info!(binding = %binding.name, ip = %t.ip, port = t.port, zone = ?t.availability_zone, "deregistered");
    }
    for ip in &selection.held_back {
        tracing::info!(binding = %binding.name, %ip, "expired, held back by the per-run cap: removed by a later run");
    }
    tracing::info!(binding = %binding.name, deregistered = selection.remove.len(), held_back = selection.held_back.len(), calls, "deregister done");
    Ok(DeregisterResult { deregistered: selection.remove.len(), calls, held_back: selection.held_back, spared })
}
