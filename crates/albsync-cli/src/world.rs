//! What `status` and `plan` look at, read the way the functions read it: DNS through `albsync-dns` with the
//! binding's lookup settings, the target group through `albsync-aws`'s `TargetGroup`, the state document
//! through its `StateStore` at `StateDocument::key`. Nothing is written.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use albsync_aws::{ElbTargetGroup, S3StateStore, StateStore, TargetGroup};
use albsync_core::events::{Resolved, Strategy};
use albsync_core::target::RegisteredTarget;
use albsync_core::{Binding, Family, StateDocument};
use albsync_dns::{DnsError, Resolver, ResolverConfig};

use crate::error::{CliError, adapter_error};
use crate::session::Session;

/// The saved state as found.
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

/// Reads the target group and the state document.
pub async fn read(session: &Session, binding: &Binding, bucket: &str, prefix: &str) -> Result<Stored, CliError> {
    let tg = ElbTargetGroup::new(session.clients.elb.clone());
    let store = S3StateStore::new(session.clients.s3.clone(), bucket);
    let key = StateDocument::key(prefix, binding);
    let arn = binding.target_group_arn.as_str();
    let (registered, stored) = tokio::join!(tg.describe(arn), store.read(&key));
    let registered = registered.map_err(|e| adapter_error(&session.endpoints, &e, &format!("target group {arn}")))?;
    let stored = stored.map_err(|e| adapter_error(&session.endpoints, &e, &format!("state bucket {bucket}")))?;
    let saved = match stored {
        None => Saved::Absent,
        Some(s) => match StateDocument::parse(&s.bytes, &key, binding) {
            Ok(doc) => Saved::Found(doc),
            Err(e) => Saved::Invalid(e.to_string()),
        },
    };
    Ok(Stored { registered, saved, bucket: bucket.to_owned(), key })
}

/// The resolver settings the resolve function uses for this binding.
pub fn resolver_config(binding: &Binding, dns_server: Option<SocketAddr>) -> ResolverConfig {
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

/// Resolves the binding's name looking for `expected`, merged into `previous` as the resolve function merges
/// a second pass into the first.
pub async fn resolve(
    binding: &Binding,
    dns_server: Option<SocketAddr>,
    expected: &BTreeSet<IpAddr>,
    previous: Option<&Resolved>,
) -> Result<Resolved, DnsError> {
    let resolver = Resolver::new(resolver_config(binding, dns_server))?;
    let found = albsync_dns::resolve(&resolver, &binding.dns_name, expected).await?;
    if let Some(address) = found.addresses.iter().find(|ip| !binding.allows(ip)) {
        return Err(DnsError::ForeignAddress { name: binding.dns_name.clone(), address: *address });
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
    if let Some(previous) = previous {
        resolved.addresses.extend(previous.addresses.iter().copied());
        resolved.queries = resolved.queries.saturating_add(previous.queries);
        resolved.sought.extend(previous.sought.iter().copied());
        resolved.confirmed.extend(previous.confirmed.iter().copied());
    }
    Ok(resolved)
}
