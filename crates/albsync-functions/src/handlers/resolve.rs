//! resolve: the binding's DNS name to every address it has right now.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use albsync_aws::Metrics;
use albsync_core::events::{ResolveEvent, Resolved, Strategy};
use albsync_core::{Binding, Family};
use albsync_dns::{Resolver, ResolverConfig};

use crate::edge::{FunctionError, parse};

/// What the resolve handler needs.
#[derive(Debug)]
pub struct Deps<M> {
    /// Where the resolved count goes.
    pub metrics: M,
    /// The name server to ask; `None`: the system configuration.
    pub dns_server: Option<SocketAddr>,
}

fn resolver_config(binding: &Binding, dns_server: Option<SocketAddr>) -> ResolverConfig {
    ResolverConfig {
        family: match binding.family {
            Family::Ipv4 => albsync_dns::Family::V4,
            Family::Ipv6 => albsync_dns::Family::V6,
        },
        name_server: dns_server,
        max_queries: binding.lookup.max_queries,
        settle_queries: binding.lookup.settle_queries,
        timeout: Duration::from_millis(u64::from(binding.lookup.timeout_ms)),
        allowed: binding.allowed_cidrs.clone(),
        ..ResolverConfig::default()
    }
}

/// Resolves the binding's name, looking in particular for `expected`, and merges a previous pass.
pub async fn handle<M: Metrics>(deps: &Deps<M>, event: serde_json::Value) -> Result<Resolved, FunctionError> {
    let event: ResolveEvent = parse(event)?;
    let binding = &event.binding;
    let resolver = Resolver::new(resolver_config(binding, deps.dns_server))?;
    let expected: BTreeSet<_> = event.expected.iter().copied().collect();
    let found = albsync_dns::resolve(&resolver, &binding.dns_name, &expected).await?;
    // The resolver checked the allowed ranges; the family is ours to check, since a binding's ranges may
    // mix families.
    if let Some(address) = found.addresses.iter().find(|ip| !binding.allows(ip)) {
        return Err(FunctionError::Foreign { address: *address });
    }
    let mut resolved = Resolved {
        addresses: found.addresses,
        strategy: match found.strategy {
            albsync_dns::Strategy::All => Strategy::All,
            albsync_dns::Strategy::Sampled => Strategy::Sampled,
        },
        queries: found.queries,
        sought: found.sought,
        confirmed: found.confirmed,
    };
    if let Some(previous) = event.previous {
        resolved.addresses.extend(previous.addresses);
        resolved.queries = resolved.queries.saturating_add(previous.queries);
        resolved.sought.extend(previous.sought);
        resolved.confirmed.extend(previous.confirmed);
    }
    tracing::info!(
        binding = %binding.name,
        addresses = resolved.addresses.len(),
        queries = resolved.queries,
        strategy = ?resolved.strategy,
        unconfirmed = resolved.sought.len() - resolved.confirmed.len(),
        "resolved"
    );
    // A failed metric must not fail the run: the alarm on the metric going missing reports it, and
    // retrying would repeat every DNS query.
    if let Err(e) = deps.metrics.put_resolved_count(&binding.name, resolved.addresses.len()).await {
        tracing::warn!(binding = %binding.name, "could not publish the resolved count: {e}");
    }
    Ok(resolved)
}
