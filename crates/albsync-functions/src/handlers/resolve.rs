//! resolve: the binding's DNS name to every address it has right now.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use albsync_aws::Metrics;
use albsync_core::events::{ResolveEvent, Resolved};
use albsync_core::metrics::Metric;
use albsync_dns::resolve_binding;

use crate::edge::{FunctionError, parse};

/// What the resolve handler needs.
#[derive(Debug)]
pub struct Deps<M> {
    /// Where the resolved count goes (EMF lines on stdout in Lambda).
    pub metrics: M,
    /// The name server to ask; `None`: the system configuration.
    pub dns_server: Option<SocketAddr>,
}

/// Resolves the binding's name, looking in particular for `expected`, and merges a previous pass.
pub async fn handle<M: Metrics>(deps: &Deps<M>, event: serde_json::Value) -> Result<Resolved, FunctionError> {
    let event: ResolveEvent = parse(event)?;
    let binding = &event.binding;
    let expected: BTreeSet<_> = event.expected.iter().copied().collect();
    let resolved = resolve_binding(binding, deps.dns_server, &expected, event.previous.as_ref()).await?;
    tracing::info!(
        binding = %binding.name,
        addresses = resolved.addresses.len(),
        queries = resolved.queries,
        strategy = ?resolved.strategy,
        unconfirmed = resolved.sought.len() - resolved.confirmed.len(),
        "resolved"
    );
    // A failed metric must not fail the run: the alarm on the metric going missing reports it, and
    // retrying would repeat every DNS query. A LookAgain pass reports the merged answer.
    let count = u64::try_from(resolved.addresses.len()).unwrap_or(u64::MAX);
    if let Err(e) = deps.metrics.publish(&binding.name, &[(Metric::ResolvedAddresses, count)]) {
        tracing::warn!(binding = %binding.name, "could not write the resolved count: {e}");
    }
    Ok(resolved)
}
