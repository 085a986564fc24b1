//! resolve: the binding's DNS name to every address it has right now.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albsync_aws::Metrics;
use albsync_core::events::{ResolveEvent, Resolved};
use albsync_core::metrics::Metric;
use albsync_dns::resolve_binding_until;
use tokio::time::Instant;

use crate::edge::{FunctionError, parse};

/// What the resolve handler needs.
#[derive(Debug)]
pub struct Deps<M> {
    /// Where the resolved count goes (EMF lines on stdout in Lambda).
    pub metrics: M,
    /// The name server to ask; `None`: the system configuration.
    pub dns_server: Option<SocketAddr>,
}

/// Resolves the binding's name without a deadline; see [`handle_until`].
pub async fn handle<M: Metrics>(deps: &Deps<M>, event: serde_json::Value) -> Result<Resolved, FunctionError> {
    handle_until(deps, event, None).await
}

/// The invocation's deadline (Lambda's `deadline`, milliseconds since the epoch) as an instant on the
/// monotonic clock; `None` when it is already past or unreadable, which the resolver treats as "no time".
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let left = u128::from(deadline_ms).saturating_sub(now_ms);
    Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX))
}

/// Resolves the binding's name, looking in particular for `expected`, continuing from a previous pass, and
/// stopping before `deadline` (the invocation's) with what it confirmed.
pub async fn handle_until<M: Metrics>(
    deps: &Deps<M>,
    event: serde_json::Value,
    deadline: Option<Instant>,
) -> Result<Resolved, FunctionError> {
    let event: ResolveEvent = parse(event)?;
    let binding = &event.binding;
    let expected: BTreeSet<_> = event.expected.iter().copied().collect();
    let resolved =
        resolve_binding_until(binding, deps.dns_server, &expected, event.previous.as_ref(), deadline).await?;
    let r = &resolved.resolution;
    tracing::info!(
        binding = %binding.name,
        addresses = resolved.addresses.len(),
        queries = resolved.queries,
        strategy = ?resolved.strategy,
        unconfirmed = resolved.sought.len() - resolved.confirmed.len(),
        independent = r.independent_answers,
        cached = r.cached,
        complete = r.complete,
        passes = r.passes,
        timed_out = r.timed_out,
        fallback = r.fallback.as_deref().unwrap_or("-"),
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
