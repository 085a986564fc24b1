//! deregister: removes the addresses whose grace ran out, if every safety rail holds.

use std::collections::BTreeSet;

use albsync_aws::TargetGroup;
use albsync_core::events::{DeregisterRequest, DeregisterResult};
use albsync_core::rails::check_deregistration;

use crate::edge::{FunctionError, parse};

/// What the deregister handler needs.
#[derive(Debug)]
pub struct Deps<T> {
    /// The target group.
    pub targets: T,
}

/// Checks the rails against the target group as it is now (after this run's registrations), then deregisters.
pub async fn handle<T: TargetGroup>(
    deps: &Deps<T>,
    event: serde_json::Value,
) -> Result<DeregisterResult, FunctionError> {
    let DeregisterRequest { binding, counted, active } = parse(event)?;
    let arn = binding.target_group_arn.as_str();
    let live: BTreeSet<_> = deps
        .targets
        .describe(arn)
        .await?
        .into_iter()
        .filter(|t| t.port == binding.port && !t.state.is_leaving())
        .map(|t| t.key())
        .collect();
    let answered: BTreeSet<_> = active.into_iter().collect();
    let remove = check_deregistration(&binding, &counted, &live, &answered)?;
    let calls = if remove.is_empty() { 0 } else { deps.targets.deregister(arn, &remove).await? };
    tracing::info!(binding = %binding.name, deregistered = remove.len(), calls, "deregistered");
    Ok(DeregisterResult { deregistered: remove.len(), calls })
}
