//! Resolving a binding: its lookup settings, its allowed ranges and family, and a later pass continuing
//! from the first. The resolve function and the CLI's `status` and `plan` share this, so the CLI predicts
//! exactly what a run does.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use albsync_core::{Binding, Resolved};
use tokio::time::Instant;

use crate::{DnsError, Resolver, ResolverConfig};

/// The resolver settings for a binding; `name_server` `None`: the system configuration.
pub fn config_for(binding: &Binding, name_server: Option<SocketAddr>) -> ResolverConfig {
    ResolverConfig {
        family: binding.family,
        name_servers: name_server.into_iter().collect(),
        max_queries: binding.lookup.max_queries,
        settle_queries: binding.lookup.settle_queries,
        timeout: Duration::from_millis(u64::from(binding.lookup.timeout_ms)),
        allowed: binding.allowed_cidrs.clone(),
        ..ResolverConfig::default()
    }
}

/// Resolves the binding's name without a deadline (the CLI), looking in particular for `expected`, and
/// continuing from `previous` (the first pass, when this is the second).
pub async fn resolve_binding(
    binding: &Binding,
    name_server: Option<SocketAddr>,
    expected: &BTreeSet<IpAddr>,
    previous: Option<&Resolved>,
) -> Result<Resolved, DnsError> {
    resolve_binding_until(binding, name_server, expected, previous, None).await
}

/// Like [`resolve_binding`], stopping before `deadline` (the invocation's). Every address must be allowed
/// and of the binding's family. The result says whether the state machine may look again.
pub async fn resolve_binding_until(
    binding: &Binding,
    name_server: Option<SocketAddr>,
    expected: &BTreeSet<IpAddr>,
    previous: Option<&Resolved>,
    deadline: Option<Instant>,
) -> Result<Resolved, DnsError> {
    let config = crate::authoritative::config_for_mode(binding, name_server, deadline).await?;
    let resolver = Resolver::new(config)?;
    let mut resolved = crate::resolve_pass(&resolver, &binding.dns_name, expected, previous, deadline).await?;
    // The resolver checked the allowed ranges; the family is checked here, since a binding's ranges may
    // mix families.
    if let Some(address) = resolved.addresses.iter().find(|ip| !binding.allows(ip)) {
        return Err(DnsError::ForeignAddress { name: binding.dns_name.clone(), address: *address });
    }
    // passes counts the first resolve too: LookAgain is allowed while passes <= lookAgain.
    resolved.resolution.may_look_again = resolved.resolution.passes <= binding.lookup.look_again;
    Ok(resolved)
}
