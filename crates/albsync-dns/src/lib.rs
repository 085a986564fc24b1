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
//! 1. **`all.<name>` once.** AWS's own ELB tooling uses this convention: it answers every
//!    address of the load balancer in one response. If it yields addresses, they are the
//!    answer ([`Strategy::All`]); since the answer is complete, an expected address absent from
//!    it is genuinely gone. The convention is not documented for every name form, so NXDOMAIN
//!    or an empty answer falls back to sampling, and so does a failure (SERVFAIL, timeout): the
//!    plain name may still work, and if it fails too, the plain name's error is reported.
//! 2. **Targeted sampling of `<name>`** ([`Strategy::Sampled`]): query repeatedly and union the
//!    answers until every *expected* address (the caller's current targets) has been seen and
//!    the last `settle_queries` answers brought nothing new, or until the `max_queries` budget
//!    is spent. The original Lambda (2017) stopped as soon as an answer held fewer than 8
//!    records, or after a fixed count, so with more than 8 addresses it routinely missed some,
//!    and a missed address looked exactly like a vanished one. Here the stop rule looks for the
//!    addresses whose absence would have consequences, and the result says which of them were
//!    confirmed: an expected address that was not seen is *unconfirmed* (the caller looks again
//!    or waits), never "missing". Spending the budget is therefore not an error.
//! 3. **Every answered address must lie inside the allowed ranges**, checked on every answer
//!    before anything is returned ([`DnsError::ForeignAddress`]): a poisoned or misconfigured
//!    zone must not make the NLB forward traffic to an arbitrary address.
//!
//! The first plain answer decides the name's outcome (NXDOMAIN, no address, server failure,
//! timeout). Later, a failing query is retried within the budget; if the budget or the
//! `retries` limit runs out while failing, the failure is reported rather than a partial set.
//!
//! # Resolver settings
//!
//! No cache (every query must reach the name server, or sampling sees the same 8 addresses
//! forever), no hidden retries (the loop above decides), a hard per-query timeout (a dead
//! server costs at most `timeout` per query), A or AAAA per [`Family`], and either an explicit
//! name server (tests, the demo) or the system configuration (Lambda).

mod error;
mod resolver;
mod sampling;

use std::collections::BTreeSet;
use std::net::IpAddr;

use hickory_resolver::proto::rr::Name;
use tracing::info;

pub mod binding;

pub use binding::{config_for, resolve_binding};
pub use error::DnsError;
pub use resolver::{Family, Resolver, ResolverConfig};
pub use sampling::{Resolution, Strategy};

use crate::sampling::Limits;

/// Resolves `name` to every address it has, looking in particular for `expected` (the
/// addresses currently registered; may be empty). See the crate documentation for the rules.
pub async fn resolve(resolver: &Resolver, name: &str, expected: &BTreeSet<IpAddr>) -> Result<Resolution, DnsError> {
    let name = parse_name(name)?;
    // A name already at the 255-octet limit has no room for "all."; it can still be sampled.
    let all = name.prepend_label("all").ok();
    let config = resolver.config();
    let limits = Limits {
        max_queries: config.max_queries,
        settle_queries: config.settle_queries,
        settle_factor: config.settle_factor,
        retries: config.retries,
        allowed: config.allowed.clone(),
    };
    let resolution = sampling::run(resolver, &limits, &name, all.as_ref(), expected).await?;
    info!(
        name = %resolver::display_name(&name),
        strategy = ?resolution.strategy,
        queries = resolution.queries,
        addresses = resolution.addresses.len(),
        sought = resolution.sought.len(),
        confirmed = resolution.confirmed.len(),
        "resolved"
    );
    Ok(resolution)
}

/// Parses a name as absolute (the caller's name never goes through search domains).
fn parse_name(text: &str) -> Result<Name, DnsError> {
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
