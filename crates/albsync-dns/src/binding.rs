//! Resolving a binding: its lookup settings, its allowed ranges and family, and the merge of a second,
//! targeted pass into the first. The resolve function and the CLI's `status` and `plan` share this, so the
//! CLI predicts exactly what a run does.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use albsync_core::events::{Resolved, Strategy as How};
use albsync_core::{Binding, Family as BindingFamily};

use crate::{DnsError, Family, Resolver, ResolverConfig, Strategy};

/// The resolver settings for a binding.
pub fn config_for(binding: &Binding, name_server: Option<SocketAddr>) -> ResolverConfig {
    ResolverConfig {
        family: match binding.family {
            BindingFamily::Ipv4 => Family::V4,
            BindingFamily::Ipv6 => Family::V6,
        },
        name_server,
        max_queries: binding.lookup.max_queries,
        settle_queries: binding.lookup.settle_queries,
        timeout: Duration::from_millis(u64::from(binding.lookup.timeout_ms)),
        allowed: binding.allowed_cidrs.clone(),
        ..ResolverConfig::default()
    }
}

/// Resolves the binding's name, looking in particular for `expected`, and merges `previous` (the first
/// pass, when this is the second). Every address must be allowed and of the binding's family.
pub async fn resolve_binding(
    binding: &Binding,
    name_server: Option<SocketAddr>,
    expected: &BTreeSet<IpAddr>,
    previous: Option<&Resolved>,
) -> Result<Resolved, DnsError> {
    let resolver = Resolver::new(config_for(binding, name_server))?;
    let found = crate::resolve(&resolver, &binding.dns_name, expected).await?;
    // The resolver checked the allowed ranges; the family is checked here, since a binding's ranges may
    // mix families.
    if let Some(address) = found.addresses.iter().find(|ip| !binding.allows(ip)) {
        return Err(DnsError::ForeignAddress { name: binding.dns_name.clone(), address: *address });
    }
    let mut resolved = Resolved {
        addresses: found.addresses,
        strategy: match found.strategy {
            Strategy::All => How::All,
            Strategy::Sampled => How::Sampled,
        },
        queries: found.queries,
        sought: found.sought,
        confirmed: found.confirmed,
    };
    if let Some(previous) = previous {
        resolved.addresses.extend(previous.addresses.iter().copied());
        resolved.queries = resolved.queries.saturating_add(previous.queries);
        resolved.sought.extend(previous.sought.iter().copied());
        resolved.confirmed.extend(previous.confirmed.iter().copied());
    }
    Ok(resolved)
}
