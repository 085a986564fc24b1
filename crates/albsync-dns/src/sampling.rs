//! The lookup algorithm: `all.<name>` first, targeted sampling of `<name>` otherwise, and the
//! allowed-range check on every answer. Written against [`Source`] so the stop and retry rules
//! can be tested with scripted answer sequences as well as against a real server.

use std::collections::BTreeSet;
use std::net::IpAddr;

use hickory_resolver::proto::rr::Name;
use ipnet::IpNet;
use tracing::debug;

use crate::error::DnsError;
use crate::resolver::{Resolver, display_name};

/// How the addresses were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// One answer for `all.<name>`, which lists every address of the load balancer.
    All,
    /// The union of repeated answers for `<name>`.
    Sampled,
}

/// The outcome of [`crate::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Every address seen (each inside the allowed ranges); never empty.
    pub addresses: BTreeSet<IpAddr>,
    /// How they were found.
    pub strategy: Strategy,
    /// Queries sent, the `all.` query included.
    pub queries: u32,
    /// The expected addresses this run looked for (the caller's `expected`).
    pub sought: BTreeSet<IpAddr>,
    /// The sought addresses that were seen. A sought address missing here was not found, which
    /// after sampling does NOT mean it is gone: the budget may have run out first. Only with
    /// [`Strategy::All`] is the answer complete.
    pub confirmed: BTreeSet<IpAddr>,
}

/// The rules of one run, taken from the resolver's configuration.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub max_queries: u32,
    pub settle_queries: u32,
    pub settle_factor: u32,
    pub retries: u32,
    pub allowed: Vec<IpNet>,
}

/// Something that answers one query with at least one address, or a typed error.
pub(crate) trait Source {
    async fn query(&self, name: &Name) -> Result<Vec<IpAddr>, DnsError>;
}

impl Source for Resolver {
    async fn query(&self, name: &Name) -> Result<Vec<IpAddr>, DnsError> {
        Resolver::query(self, name).await
    }
}

/// Runs the algorithm for `name` (with `all` = `all.<name>` when that is a valid name).
/// How many answers in a row must bring nothing new before sampling stops.
///
/// With `n` addresses rotated `k` at a time, one particular unseen address stays unseen through `m` answers
/// with probability about `exp(-m k / n)`. Waiting `factor n / k` answers (default factor 4) puts that near 2%, so the caller's
/// second, targeted look (and its extra state transitions) is rarely needed; queries are free, transitions
/// are not. Small sets that fit in one answer need only the configured minimum.
pub(crate) fn settle_after(settle_queries: u32, factor: u32, seen: usize, largest_answer: usize) -> u32 {
    let scaled = (factor as usize).saturating_mul(seen.div_ceil(largest_answer.max(1)));
    settle_queries.max(u32::try_from(scaled).unwrap_or(u32::MAX))
}

pub(crate) async fn run(
    source: &impl Source,
    limits: &Limits,
    name: &Name,
    all: Option<&Name>,
    expected: &BTreeSet<IpAddr>,
) -> Result<Resolution, DnsError> {
    let mut queries = 0u32;

    if let Some(all) = all {
        queries += 1;
        match source.query(all).await {
            Ok(answer) => {
                let addresses = allowed_addresses(all, answer, &limits.allowed)?;
                // all. lists every address, so an expected address absent here is really
                // absent: it is sought and simply not confirmed.
                let confirmed = expected.intersection(&addresses).copied().collect();
                return Ok(Resolution {
                    addresses,
                    strategy: Strategy::All,
                    queries,
                    sought: expected.clone(),
                    confirmed,
                });
            }
            // The convention is not served for this name: sample instead.
            Err(DnsError::NameNotFound { .. } | DnsError::NoAddresses { .. }) => {}
            // The plain name may still work; if it fails too, its own error is the one that
            // describes the name, so this one is only logged.
            Err(error) => debug!(%error, "all. lookup failed; sampling the plain name"),
        }
    }

    let budget = limits.max_queries.max(1);
    let mut seen = BTreeSet::new();
    let mut answered = false;
    let mut quiet = 0u32;
    let mut largest_answer = 0usize;
    let mut failures_in_a_row = 0u32;
    let mut pending_failure = None;
    for _ in 0..budget {
        queries += 1;
        match source.query(name).await {
            Ok(answer) => {
                let answer = allowed_addresses(name, answer, &limits.allowed)?;
                answered = true;
                failures_in_a_row = 0;
                pending_failure = None;
                let before = seen.len();
                largest_answer = largest_answer.max(answer.len());
                seen.extend(answer);
                if seen.len() > before {
                    quiet = 0;
                } else {
                    quiet += 1;
                }
                if quiet >= settle_after(limits.settle_queries, limits.settle_factor, seen.len(), largest_answer)
                    && expected.is_subset(&seen)
                {
                    break;
                }
            }
            // The first answer is the name's outcome: NXDOMAIN, no address, or a failure.
            Err(error) if !answered => return Err(error),
            Err(error) if error.is_retryable() => {
                failures_in_a_row += 1;
                if failures_in_a_row > limits.retries {
                    return Err(error);
                }
                debug!(%error, "query failed mid-run; retrying");
                pending_failure = Some(error);
            }
            // NXDOMAIN or an empty answer after addresses were answered: the name changed
            // under us, so no set from this run can be trusted.
            Err(error) => return Err(error),
        }
    }
    // The budget ran out while a failure was being retried: a partial set would hide it.
    if let Some(error) = pending_failure {
        return Err(error);
    }

    let confirmed = expected.intersection(&seen).copied().collect();
    Ok(Resolution { addresses: seen, strategy: Strategy::Sampled, queries, sought: expected.clone(), confirmed })
}

/// The answer as a set, or the first address outside every allowed range as an error.
fn allowed_addresses(name: &Name, answer: Vec<IpAddr>, allowed: &[IpNet]) -> Result<BTreeSet<IpAddr>, DnsError> {
    if let Some(address) = answer.iter().find(|address| !allowed.iter().any(|net| net.contains(*address))) {
        return Err(DnsError::ForeignAddress { name: display_name(name), address: *address });
    }
    Ok(answer.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;

    /// Answers from a script, in order; records every name asked.
    struct Script {
        all: RefCell<VecDeque<Result<Vec<IpAddr>, DnsError>>>,
        plain: RefCell<VecDeque<Result<Vec<IpAddr>, DnsError>>>,
        asked: RefCell<Vec<String>>,
    }

    impl Script {
        fn new(all: Vec<Result<Vec<IpAddr>, DnsError>>, plain: Vec<Result<Vec<IpAddr>, DnsError>>) -> Self {
            Self { all: RefCell::new(all.into()), plain: RefCell::new(plain.into()), asked: RefCell::new(Vec::new()) }
        }

        fn plain_queries(&self) -> usize {
            self.asked.borrow().iter().filter(|n| *n == "alb.test").count()
        }
    }

    impl Source for Script {
        async fn query(&self, name: &Name) -> Result<Vec<IpAddr>, DnsError> {
            let text = display_name(name);
            self.asked.borrow_mut().push(text.clone());
            let queue = if text.starts_with("all.") { &self.all } else { &self.plain };
            queue.borrow_mut().pop_front().unwrap_or_else(|| panic!("script has no more answers for {text}"))
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn ips(lasts: &[u8]) -> Vec<IpAddr> {
        lasts.iter().copied().map(ip).collect()
    }

    fn set(lasts: &[u8]) -> BTreeSet<IpAddr> {
        lasts.iter().copied().map(ip).collect()
    }

    #[test]
    fn settling_waits_longer_when_answers_rotate_through_many_addresses() {
        assert_eq!(settle_after(10, 4, 3, 3), 10, "everything fits in one answer");
        assert_eq!(settle_after(10, 4, 100, 8), 52, "100 addresses, 8 per answer");
        assert_eq!(settle_after(10, 4, 0, 0), 10);
        assert_eq!(settle_after(10, 0, 100, 8), 10, "factor 0: the fixed minimum only");
    }

    fn limits(max_queries: u32, settle_queries: u32) -> Limits {
        // Factor 0: these scripts test the fixed rule; the scaled one has its own test.
        Limits {
            max_queries,
            settle_queries,
            settle_factor: 0,
            retries: 3,
            allowed: vec!["10.0.0.0/8".parse().expect("cidr")],
        }
    }

    fn names() -> (Name, Name) {
        (Name::from_ascii("alb.test.").expect("name"), Name::from_ascii("all.alb.test.").expect("name"))
    }

    fn servfail(name: &str) -> DnsError {
        DnsError::ServerFailure { name: name.to_owned(), code: "SERVFAIL".to_owned() }
    }

    fn nxdomain(name: &str) -> DnsError {
        DnsError::NameNotFound { name: name.to_owned() }
    }

    async fn run_script(script: &Script, limits: &Limits, expected: &BTreeSet<IpAddr>) -> Result<Resolution, DnsError> {
        let (name, all) = names();
        run(script, limits, &name, Some(&all), expected).await
    }

    #[tokio::test]
    async fn the_all_answer_is_complete_so_an_expected_address_missing_there_is_sought_not_confirmed() {
        let script = Script::new(vec![Ok(ips(&[1, 2]))], vec![]);
        let resolution = run_script(&script, &limits(200, 10), &set(&[2, 3])).await.expect("resolves");
        assert_eq!(resolution.strategy, Strategy::All);
        assert_eq!(resolution.addresses, set(&[1, 2]));
        assert_eq!(resolution.sought, set(&[2, 3]));
        assert_eq!(resolution.confirmed, set(&[2]));
        assert_eq!(resolution.queries, 1);
    }

    #[tokio::test]
    async fn stops_when_every_expected_address_is_seen_and_answers_settle() {
        // 1 new, 2 new, then nothing new twice: settled after 4 plain queries.
        let script = Script::new(
            vec![Err(nxdomain("all.alb.test"))],
            vec![Ok(ips(&[1])), Ok(ips(&[2])), Ok(ips(&[1])), Ok(ips(&[2])), Ok(ips(&[3]))],
        );
        let resolution = run_script(&script, &limits(200, 2), &set(&[1, 2])).await.expect("resolves");
        assert_eq!(resolution.strategy, Strategy::Sampled);
        assert_eq!(resolution.addresses, set(&[1, 2]));
        assert_eq!(resolution.confirmed, set(&[1, 2]));
        assert_eq!(resolution.queries, 5);
        assert_eq!(script.plain_queries(), 4);
    }

    #[tokio::test]
    async fn keeps_sampling_past_a_quiet_stretch_while_an_expected_address_is_unseen() {
        // The original stopped on quiet answers; an expected address seen late must still count.
        let mut plain: Vec<_> = (0..6).map(|_| Ok(ips(&[1]))).collect();
        plain.push(Ok(ips(&[2])));
        plain.extend((0..2).map(|_| Ok(ips(&[1]))));
        let script = Script::new(vec![Err(nxdomain("all.alb.test"))], plain);
        let resolution = run_script(&script, &limits(200, 2), &set(&[1, 2])).await.expect("resolves");
        assert_eq!(resolution.confirmed, set(&[1, 2]));
        assert_eq!(script.plain_queries(), 9);
    }

    #[tokio::test]
    async fn a_spent_budget_leaves_unseen_expected_addresses_unconfirmed_without_error() {
        let script =
            Script::new(vec![Err(nxdomain("all.alb.test"))], vec![Ok(ips(&[1])), Ok(ips(&[1])), Ok(ips(&[1]))]);
        let resolution =
            run_script(&script, &limits(3, 1), &set(&[1, 2])).await.expect("a spent budget is not an error");
        assert_eq!(resolution.addresses, set(&[1]));
        assert_eq!(resolution.sought, set(&[1, 2]));
        assert_eq!(resolution.confirmed, set(&[1]));
        assert_eq!(resolution.queries, 4);
    }

    #[tokio::test]
    async fn a_transient_failure_mid_run_is_retried_within_the_budget() {
        let script = Script::new(
            vec![Err(nxdomain("all.alb.test"))],
            vec![Ok(ips(&[1])), Err(servfail("alb.test")), Ok(ips(&[2])), Ok(ips(&[2]))],
        );
        let resolution = run_script(&script, &limits(200, 1), &set(&[1, 2])).await.expect("recovers");
        assert_eq!(resolution.addresses, set(&[1, 2]));
        assert_eq!(script.plain_queries(), 4);
    }

    #[tokio::test]
    async fn a_budget_spent_on_failing_retries_reports_the_failure_not_a_partial_set() {
        let script = Script::new(
            vec![Err(nxdomain("all.alb.test"))],
            vec![Ok(ips(&[1])), Err(servfail("alb.test")), Err(servfail("alb.test"))],
        );
        let error = run_script(&script, &limits(3, 10), &BTreeSet::new()).await.expect_err("must fail");
        assert_eq!(error, servfail("alb.test"));
    }

    #[tokio::test]
    async fn too_many_failures_in_a_row_end_the_run_before_the_budget() {
        let mut plain = vec![Ok(ips(&[1]))];
        plain.extend((0..4).map(|_| Err(servfail("alb.test"))));
        let script = Script::new(vec![Err(nxdomain("all.alb.test"))], plain);
        let error = run_script(&script, &limits(200, 10), &BTreeSet::new()).await.expect_err("must fail");
        assert_eq!(error, servfail("alb.test"));
        assert_eq!(script.plain_queries(), 5);
    }

    #[tokio::test]
    async fn the_first_plain_failure_is_reported_as_is() {
        let script = Script::new(vec![Err(nxdomain("all.alb.test"))], vec![Err(servfail("alb.test"))]);
        let error = run_script(&script, &limits(200, 10), &BTreeSet::new()).await.expect_err("must fail");
        assert_eq!(error, servfail("alb.test"));
        assert_eq!(script.plain_queries(), 1);
    }

    #[tokio::test]
    async fn an_all_failure_falls_back_but_the_plain_names_error_is_reported() {
        let script = Script::new(
            vec![Err(DnsError::Timeout { name: "all.alb.test".to_owned() })],
            vec![Err(nxdomain("alb.test"))],
        );
        let error = run_script(&script, &limits(200, 10), &BTreeSet::new()).await.expect_err("must fail");
        assert_eq!(error, nxdomain("alb.test"));
    }

    #[tokio::test]
    async fn an_all_failure_falls_back_to_a_working_plain_name() {
        let script = Script::new(vec![Err(servfail("all.alb.test"))], vec![Ok(ips(&[1])), Ok(ips(&[1]))]);
        let resolution = run_script(&script, &limits(200, 1), &set(&[1])).await.expect("resolves");
        assert_eq!(resolution.strategy, Strategy::Sampled);
        assert_eq!(resolution.addresses, set(&[1]));
    }

    #[tokio::test]
    async fn the_name_vanishing_mid_run_is_an_error() {
        let script = Script::new(vec![Err(nxdomain("all.alb.test"))], vec![Ok(ips(&[1])), Err(nxdomain("alb.test"))]);
        let error = run_script(&script, &limits(200, 10), &BTreeSet::new()).await.expect_err("must fail");
        assert_eq!(error, nxdomain("alb.test"));
    }

    #[tokio::test]
    async fn a_foreign_address_in_any_answer_fails_the_run_naming_it() {
        let foreign = IpAddr::from([192, 0, 2, 7]);
        let script = Script::new(vec![Err(nxdomain("all.alb.test"))], vec![Ok(ips(&[1])), Ok(vec![ip(2), foreign])]);
        let error = run_script(&script, &limits(200, 10), &BTreeSet::new()).await.expect_err("must fail");
        assert_eq!(error, DnsError::ForeignAddress { name: "alb.test".to_owned(), address: foreign });
    }

    #[tokio::test]
    async fn a_foreign_address_in_the_all_answer_fails_the_run() {
        let foreign = IpAddr::from([192, 0, 2, 7]);
        let script = Script::new(vec![Ok(vec![ip(1), foreign])], vec![]);
        let error = run_script(&script, &limits(200, 10), &BTreeSet::new()).await.expect_err("must fail");
        assert!(
            matches!(error, DnsError::ForeignAddress { name, address } if name == "all.alb.test" && address == foreign)
        );
    }

    #[tokio::test]
    async fn a_zero_budget_still_asks_once() {
        let script = Script::new(vec![Err(nxdomain("all.alb.test"))], vec![Ok(ips(&[1]))]);
        let resolution = run_script(&script, &limits(0, 10), &BTreeSet::new()).await.expect("resolves");
        assert_eq!(resolution.addresses, set(&[1]));
    }
}
