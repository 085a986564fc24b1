//! Resolves a load balancer's DNS name to every address it currently has.
//!
//! # Why this is not one `getaddrinfo` call
//!
//! Route 53 answers at most 8 addresses per query for an ELB name; an ALB can have many more
//! (up to 100), and each answer holds a different subset. One lookup therefore sees only part of
//! the load balancer, and a reconciler that registered "what DNS said" would keep deregistering
//! healthy addresses it merely did not see this time.
//!
//! # The algorithm ([`resolve`])
//!
//! 1. **`all.<name>` is a claim to check, never the truth.** AWS's own ELB tooling asks `all.<name>`
//!    (and `all.ipv6.<name>` for AAAA), which may answer every address at once; the convention is not
//!    documented, and such an answer may be capped (8 records, like every Route 53 answer), partial or
//!    stale. So the plain name is asked a few times too, and the `all.` answer is taken as complete only
//!    when it holds every address the plain name answered and is not exactly the per-answer maximum.
//!    Otherwise the run samples, and the result says why (`resolution.fallback`, logged at info).
//! 2. **Targeted sampling of `<name>`**, stopped by the evidence rule of [`albsync_core::evidence`]:
//!    an answer below the per-answer maximum is complete (one query); otherwise sampling continues until
//!    every expected address was seen and a quiet stretch scaled to the rotation passed, or until the
//!    absence of the unseen ones is settled (a live one would have been absent from every *independent*
//!    answer with probability below 10^-6), or until no new record set comes (a caching answerer: more
//!    queries add no evidence), the budget is spent or the invocation's deadline is near. An expected
//!    address whose absence is not settled is *unconfirmed*: the caller neither counts nor resets it.
//! 3. **Every answered address must lie inside the allowed ranges**, checked on every answer
//!    before anything is returned ([`DnsError::ForeignAddress`]): a poisoned or misconfigured
//!    zone must not make the NLB forward traffic to an arbitrary address.
//!
//! The first plain answer decides the name's outcome (NXDOMAIN, no address, server failure,
//! timeout), unless another name server can be asked. Later, a failing query is retried within the
//! budget; if the budget or the `retries` limit runs out while failing, the failure is reported rather
//! than a partial set.
//!
//! # Wire
//!
//! Every query goes on the wire exactly once (no cache, no hidden re-sends) with a hard per-query
//! timeout; see [`Resolver`].

mod authoritative;
mod error;
mod resolver;
mod sampling;

use std::collections::BTreeSet;
use std::net::IpAddr;

use albsync_core::evidence::Tally;
use albsync_core::{Family, Resolution, Resolved, Strategy};
use hickory_resolver::proto::rr::Name;
use tokio::time::Instant;
use tracing::info;

pub mod binding;

pub use binding::{config_for, resolve_binding, resolve_binding_until};
pub use error::DnsError;
pub use resolver::{Resolver, ResolverConfig};
pub use sampling::DEADLINE_MARGIN;

use crate::sampling::Limits;

/// Resolves `name` to every address it has, looking in particular for `expected` (may be empty). See the
/// crate documentation for the rules.
pub async fn resolve(resolver: &Resolver, name: &str, expected: &BTreeSet<IpAddr>) -> Result<Resolved, DnsError> {
    resolve_pass(resolver, name, expected, None, None).await
}

/// One pass: the first (asks `all.`), or a later one continuing from `previous` (its addresses and its
/// evidence; `all.` is not asked again). Stops before `deadline`.
pub async fn resolve_pass(
    resolver: &Resolver,
    name: &str,
    expected: &BTreeSet<IpAddr>,
    previous: Option<&Resolved>,
    deadline: Option<Instant>,
) -> Result<Resolved, DnsError> {
    let name = parse_name(name)?;
    let config = resolver.config();
    let limits = Limits {
        max_queries: config.max_queries,
        settle_queries: config.settle_queries,
        retries: config.retries,
        check_queries: config.check_queries,
        timeout: config.timeout,
        allowed: config.allowed.clone(),
        deadline,
        servers: resolver.servers().len(),
    };
    // A name already at the 255-octet limit has no room for "all."; it can still be sampled.
    let alls: Vec<Name> = match (previous, config.family) {
        (Some(_), _) => Vec::new(),
        (None, Family::Ipv4) => name.prepend_label("all").ok().into_iter().collect(),
        (None, Family::Ipv6) => {
            [name.prepend_label("ipv6").and_then(|n| n.prepend_label("all")), name.prepend_label("all")]
                .into_iter()
                .filter_map(Result::ok)
                .collect()
        }
    };
    let known = previous.map(|p| p.addresses.clone()).unwrap_or_default();
    let tally = previous.map(|p| Tally::continuing(&p.resolution)).unwrap_or_default();
    let sent_before = resolver.sent();
    let pass = sampling::run(resolver, &limits, &name, &alls, expected, &known, tally).await?;
    let queries = resolver.sent().saturating_sub(sent_before);
    let mut resolution = Resolution {
        fallback: pass.fallback.or_else(|| previous.and_then(|p| p.resolution.fallback.clone())),
        timed_out: pass.timed_out,
        passes: previous.map_or(1, |p| p.resolution.passes.saturating_add(1)),
        ..pass.tally.summary()
    };
    resolution.may_look_again = false;
    let mut sought = expected.clone();
    let mut confirmed: BTreeSet<IpAddr> = expected.intersection(&pass.addresses).copied().collect();
    if let Some(previous) = previous {
        sought.extend(previous.sought.iter().copied());
        confirmed.extend(previous.confirmed.iter().copied());
    }
    let resolved = Resolved {
        addresses: pass.addresses,
        strategy: if pass.all { Strategy::All } else { Strategy::Sampled },
        queries: queries.saturating_add(previous.map_or(0, |p| p.queries)),
        sought,
        confirmed,
        resolution,
    };
    info!(
        name = %resolver::display_name(&name),
        strategy = ?resolved.strategy,
        queries,
        addresses = resolved.addresses.len(),
        independent = resolved.resolution.independent_answers,
        cached = resolved.resolution.cached,
        complete = resolved.resolution.complete,
        timed_out = resolved.resolution.timed_out,
        fallback = resolved.resolution.fallback.as_deref().unwrap_or("-"),
        "resolved"
    );
    Ok(resolved)
}

/// Parses a name as absolute (the caller's name never goes through search domains).
pub(crate) fn parse_name(text: &str) -> Result<Name, DnsError> {
    let invalid = |reason: &str| DnsError::InvalidName { name: text.to_owned(), reason: reason.to_owned() };
    if text.trim_end_matches('.').is_empty() {
        return Err(invalid("empty"));
    }
    if text.chars().any(|c| c.is_whitespace() || !c.is_ascii()) {
        return Err(invalid("contains whitespace or non-ASCII characters"));
    }
    let mut name = Name::from_ascii(text).map_err(|error| invalid(&error.to_string()))?;
    name.set_fqdn(true);
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_absolute_with_or_without_the_trailing_dot() {
        for text in ["alb.test", "alb.test.", "ALB.Test"] {
            let name = parse_name(text).expect("valid");
            assert!(name.is_fqdn());
            assert_eq!(name.to_lowercase().to_string(), "alb.test.");
        }
    }

    #[test]
    fn rejects_names_that_are_not_dns_names() {
        for text in ["", ".", "a b.test", "a..test", "é.test"] {
            assert!(matches!(parse_name(text), Err(DnsError::InvalidName { .. })), "{text:?} accepted");
        }
        let long_label = "a".repeat(64);
        assert!(parse_name(&format!("{long_label}.test")).is_err());
    }
}
