//! The algorithm of [`crate::resolve`]: `all.` as a claim to check, then sampling governed by the evidence
//! rule of [`albsync_core::evidence`], within a query budget and the invocation's deadline.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use albsync_core::evidence::{MAX_PER_ANSWER, Tally, quiet_needed};
use hickory_resolver::proto::rr::Name;
use ipnet::IpNet;
use tokio::time::Instant;
use tracing::debug;

use crate::error::DnsError;
use crate::resolver::{Answer, Resolver, display_name};

/// The most a pass keeps back from the invocation's deadline: time to return the result to Lambda.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// What bounds one pass.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub max_queries: u32,
    pub settle_queries: u32,
    pub retries: u32,
    pub check_queries: u32,
    pub timeout: Duration,
    pub allowed: Vec<IpNet>,
    /// Stop before this instant (minus [`DEADLINE_MARGIN`]); `None`: no deadline (the CLI).
    pub deadline: Option<Instant>,
    /// Name servers asked in turn: a failure before the first answer is retried on another one.
    pub servers: usize,
}

/// Something that answers one query, and counts what it sent.
pub(crate) trait Source {
    async fn query(&self, name: &Name, timeout: Duration) -> Result<Answer, DnsError>;
    fn sent(&self) -> u32;
}

impl Source for Resolver {
    async fn query(&self, name: &Name, timeout: Duration) -> Result<Answer, DnsError> {
        Resolver::query(self, name, timeout).await
    }
    fn sent(&self) -> u32 {
        Resolver::sent(self)
    }
}

/// What one pass found.
#[derive(Debug)]
pub(crate) struct Pass {
    /// Every address the plain name answered (plus the earlier passes' addresses), or a checked `all.`.
    pub addresses: BTreeSet<IpAddr>,
    /// Whether a checked `all.` answer was taken.
    pub all: bool,
    pub tally: Tally,
    pub fallback: Option<String>,
    pub timed_out: bool,
}

/// The state of the sampling loop of one pass.
struct Sampler<'a, S> {
    source: &'a S,
    limits: &'a Limits,
    name: &'a Name,
    seen: BTreeSet<IpAddr>,
    tally: Tally,
    answered: bool,
    quiet: u32,
    stale: u32,
    failures_in_a_row: u32,
    pending_failure: Option<DnsError>,
    timed_out: bool,
    started_sent: u32,
}

enum Step {
    Answered,
    Stop,
}

impl<S: Source> Sampler<'_, S> {
    /// Time left for one more query, or `None` when the deadline is too near.
    fn time_for_a_query(&mut self) -> Option<Duration> {
        let Some(deadline) = self.limits.deadline else { return Some(self.limits.timeout) };
        let left = deadline.saturating_duration_since(Instant::now()).saturating_sub(DEADLINE_MARGIN);
        // A query with much less than its timeout left would likely be cut off as a false timeout.
        if left < self.limits.timeout.min(Duration::from_millis(200)) {
            self.timed_out = true;
            return None;
        }
        Some(left.min(self.limits.timeout))
    }

    fn spent(&self) -> u32 {
        self.source.sent().saturating_sub(self.started_sent)
    }

    /// One query of the plain name, folded into the evidence.
    async fn ask(&mut self) -> Result<Step, DnsError> {
        let Some(timeout) = self.time_for_a_query() else { return Ok(Step::Stop) };
        match self.source.query(self.name, timeout).await {
            Ok(answer) => {
                let addresses = allowed_addresses(self.name, answer.addresses, &self.limits.allowed)?;
                self.answered = true;
                self.failures_in_a_row = 0;
                self.pending_failure = None;
                if self.tally.record(&addresses, answer.ttl, unix_now()) {
                    self.stale = 0;
                } else {
                    self.stale += 1;
                }
                let before = self.seen.len();
                self.seen.extend(addresses);
                self.quiet = if self.seen.len() > before { 0 } else { self.quiet + 1 };
                Ok(Step::Answered)
            }
            // Before any answer, a failure is the name's outcome, unless another name server can be tried.
            Err(error) if !self.answered => {
                if error.is_retryable() && self.failures_in_a_row + 1 < self.limits.servers as u32 {
                    self.failures_in_a_row += 1;
                    debug!(%error, "first query failed; asking the next name server");
                    self.pending_failure = Some(error);
                    return Ok(Step::Answered);
                }
                Err(error)
            }
            Err(error) if error.is_retryable() => {
                self.failures_in_a_row += 1;
                if self.failures_in_a_row > self.limits.retries {
                    return Err(error);
                }
                debug!(%error, "query failed mid-run; retrying");
                self.pending_failure = Some(error);
                Ok(Step::Answered)
            }
            // NXDOMAIN or an empty answer after addresses were answered: the name changed under us, so no
            // set from this run can be trusted.
            Err(error) => Err(error),
        }
    }

    /// Whether the pass has what it came for: the stop rule of the evidence module.
    fn done(&self, expected: &BTreeSet<IpAddr>) -> bool {
        if !self.answered {
            return false;
        }
        if self.tally.complete() {
            return true;
        }
        let n = self.seen.union(expected).count();
        let k = self.tally.largest().max(1);
        let unseen = !expected.is_subset(&self.seen);
        if !unseen && self.quiet >= quiet_needed(self.limits.settle_queries, n, k) {
            return true;
        }
        if unseen && self.tally.settles(n) {
            return true;
        }
        // No new record set for a while (a cache, or a small rotation exhausted): more queries would
        // not add evidence in this pass.
        self.stale >= self.limits.settle_queries.max(1)
    }
}

/// Runs one pass for `name`. `alls` are the `all.` forms to try (none on a later pass); `known` the
/// addresses of earlier passes; `tally` their evidence.
pub(crate) async fn run(
    source: &impl Source,
    limits: &Limits,
    name: &Name,
    alls: &[Name],
    expected: &BTreeSet<IpAddr>,
    known: &BTreeSet<IpAddr>,
    tally: Tally,
) -> Result<Pass, DnsError> {
    let mut sampler = Sampler {
        source,
        limits,
        name,
        seen: known.clone(),
        tally,
        answered: !known.is_empty(),
        quiet: 0,
        stale: 0,
        failures_in_a_row: 0,
        pending_failure: None,
        timed_out: false,
        started_sent: source.sent(),
    };
    let budget = limits.max_queries.max(1);

    let mut fallback = None;
    let mut claim: Option<(Name, BTreeSet<IpAddr>)> = None;
    let mut reasons = Vec::new();
    for all in alls {
        let Some(timeout) = sampler.time_for_a_query() else { break };
        match source.query(all, timeout).await {
            Ok(answer) => {
                claim = Some((all.clone(), allowed_addresses(all, answer.addresses, &limits.allowed)?));
                break;
            }
            Err(error) => reasons.push(format!("{} not served ({error})", display_name(all))),
        }
    }
    if let Some((all, claimed)) = claim {
        // Check the claim against the plain name: every address it answers must be in the all. answer.
        let mut checks = 0;
        while checks < limits.check_queries.max(1) && sampler.spent() < budget && !sampler.tally.complete() {
            match sampler.ask().await? {
                Step::Answered => checks += 1,
                Step::Stop => break,
            }
        }
        if sampler.tally.complete() {
            // A plain answer below the per-answer maximum is the whole truth; all. is not needed (and an
            // address only all. claims would be stale).
            let fallback = (claimed != sampler.seen)
                .then(|| format!("{} differs from a complete answer of the plain name", display_name(&all)));
            return Ok(Pass { addresses: sampler.seen, all: false, tally: sampler.tally, fallback, timed_out: false });
        }
        let outside: Vec<&IpAddr> = sampler.seen.difference(&claimed).collect();
        let reason = if !sampler.answered {
            Some(format!("{} could not be checked: the plain name gave no answer in time", display_name(&all)))
        } else if let Some(first) = outside.first() {
            Some(format!(
                "{} lacks {first}{}, which the plain name answered",
                display_name(&all),
                if outside.len() > 1 { format!(" and {} more", outside.len() - 1) } else { String::new() }
            ))
        } else if claimed.len() == MAX_PER_ANSWER {
            Some(format!(
                "{} answered exactly {MAX_PER_ANSWER} records, the per-answer maximum: possibly capped",
                display_name(&all)
            ))
        } else {
            None
        };
        match reason {
            None => {
                // Complete for discovery, but not proof of an absence: a few plain answers cannot show that
                // the all. answer omitted one live address among many (with 100 addresses, 3 answers of 8
                // all miss a given one 78% of the time). An expected address absent here stays unconfirmed
                // until the plain name's own evidence settles it.
                let mut addresses = claimed;
                addresses.extend(sampler.seen.iter().copied());
                return Ok(Pass {
                    addresses,
                    all: true,
                    tally: sampler.tally,
                    fallback: None,
                    timed_out: sampler.timed_out,
                });
            }
            Some(reason) => fallback = Some(reason),
        }
    } else if !reasons.is_empty() {
        fallback = Some(reasons.join("; "));
    }

    while sampler.spent() < budget && !sampler.done(expected) {
        if let Step::Stop = sampler.ask().await? {
            break;
        }
    }
    if let Some(error) = sampler.pending_failure.take() {
        // The budget or the deadline ran out while a failure was being retried: a partial set would hide it.
        return Err(error);
    }
    if !sampler.answered {
        // Only the deadline ends a pass without an answer (a failure returned above).
        let budget_ms = limits
            .deadline
            .map_or(0, |d| u64::try_from(d.saturating_duration_since(Instant::now()).as_millis()).unwrap_or(u64::MAX));
        return Err(DnsError::DeadlineReached { name: display_name(name), budget_ms });
    }
    Ok(Pass { addresses: sampler.seen, all: false, tally: sampler.tally, fallback, timed_out: sampler.timed_out })
}

/// The wall clock in unix seconds: when an answer was seen, so a later run can tell a cached repeat from a
/// new answer (`albsync_core::evidence::CarriedEvidence`).
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
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
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;

    use super::*;

    /// Answers from a script, in order; counts every query as one sent.
    struct Script {
        all: RefCell<VecDeque<Result<Answer, DnsError>>>,
        plain: RefCell<VecDeque<Result<Answer, DnsError>>>,
        sent: Cell<u32>,
    }

    impl Script {
        fn new(all: Vec<Result<Answer, DnsError>>, plain: Vec<Result<Answer, DnsError>>) -> Self {
            Self { all: RefCell::new(all.into()), plain: RefCell::new(plain.into()), sent: Cell::new(0) }
        }
    }

    impl Source for Script {
        async fn query(&self, name: &Name, _timeout: Duration) -> Result<Answer, DnsError> {
            self.sent.set(self.sent.get() + 1);
            let text = display_name(name);
            let queue = if text.starts_with("all.") { &self.all } else { &self.plain };
            queue.borrow_mut().pop_front().unwrap_or_else(|| panic!("script has no more answers for {text}"))
        }
        fn sent(&self) -> u32 {
            self.sent.get()
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn answer(lasts: impl IntoIterator<Item = u8>, ttl: u32) -> Result<Answer, DnsError> {
        Ok(Answer { addresses: lasts.into_iter().map(ip).collect(), ttl })
    }

    fn set(lasts: impl IntoIterator<Item = u8>) -> BTreeSet<IpAddr> {
        lasts.into_iter().map(ip).collect()
    }

    fn limits() -> Limits {
        Limits {
            max_queries: 200,
            settle_queries: 3,
            retries: 3,
            check_queries: 3,
            timeout: Duration::from_secs(1),
            allowed: vec!["10.0.0.0/8".parse().expect("cidr")],
            deadline: None,
            servers: 1,
        }
    }

    fn names() -> (Name, Vec<Name>) {
        (Name::from_ascii("alb.test.").expect("name"), vec![Name::from_ascii("all.alb.test.").expect("name")])
    }

    async fn pass(script: &Script, expected: &BTreeSet<IpAddr>) -> Result<Pass, DnsError> {
        let (name, alls) = names();
        run(script, &limits(), &name, &alls, expected, &BTreeSet::new(), Tally::default()).await
    }

    fn nxdomain() -> Result<Answer, DnsError> {
        Err(DnsError::NameNotFound { name: "all.alb.test".into() })
    }

    #[tokio::test]
    async fn an_answer_below_the_maximum_ends_the_pass_complete() {
        let script = Script::new(vec![nxdomain()], vec![answer(1..=3, 60)]);
        let found = pass(&script, &set([1, 2, 3, 4])).await.expect("resolves");
        assert!(found.tally.complete());
        assert_eq!(script.sent(), 2);
        assert!(found.fallback.expect("reason").contains("all.alb.test not served"));
    }

    #[tokio::test]
    async fn a_cache_repeating_one_full_answer_ends_the_pass_after_the_settle_count_without_settling() {
        let plain = (0..10).map(|i| answer(1..=8, 60 - i)).collect();
        let script = Script::new(vec![nxdomain()], plain);
        let found = pass(&script, &set(1..=20)).await.expect("resolves");
        assert_eq!(found.tally.independent(), 1);
        assert!(found.tally.cached());
        assert!(!found.tally.settles(20));
        assert_eq!(script.sent(), 1 + 1 + 3, "all., the first answer, then 3 repeats");
    }

    #[tokio::test]
    async fn a_checked_all_answer_is_taken_when_it_holds_every_plain_address() {
        let script =
            Script::new(vec![answer(1..=12, 60)], vec![answer(1..=8, 60), answer(3..=10, 60), answer(5..=12, 60)]);
        let found = pass(&script, &BTreeSet::new()).await.expect("resolves");
        assert!(found.all);
        assert_eq!(found.addresses, set(1..=12));
        assert!(!found.tally.complete(), "all. does not settle absences");
        assert_eq!(script.sent(), 4);
    }

    #[tokio::test]
    async fn a_complete_plain_answer_ends_the_check_and_wins_over_a_stale_all_answer() {
        let script = Script::new(vec![answer(1..=5, 60)], vec![answer(1..=4, 60)]);
        let found = pass(&script, &BTreeSet::new()).await.expect("resolves");
        assert_eq!(script.sent(), 2);
        assert!(found.tally.complete() && !found.all);
        assert_eq!(found.addresses, set(1..=4), "10.0.0.5 only all. claims is not taken");
        assert!(found.fallback.expect("reason").contains("differs"));
    }

    #[tokio::test]
    async fn an_all_answer_of_exactly_eight_is_possibly_capped() {
        let mut plain = vec![answer(1..=8, 60); 3];
        plain.extend((0..40).map(|i| answer((i % 5 + 1)..=(i % 5 + 8), 60)));
        let script = Script::new(vec![answer(1..=8, 60)], plain);
        let found = pass(&script, &BTreeSet::new()).await.expect("resolves");
        assert!(!found.all);
        assert!(found.fallback.expect("reason").contains("possibly capped"));
    }

    #[tokio::test]
    async fn an_all_answer_lacking_a_plain_address_is_named_in_the_reason() {
        let mut plain = vec![answer(1..=8, 60), answer(2..=9, 60)];
        plain.extend((0..40).map(|i| answer((i % 5 + 1)..=(i % 5 + 8), 60)));
        let script = Script::new(
            vec![answer(1..=8, 60).map(|mut a| {
                a.addresses.push(ip(20));
                a
            })],
            plain,
        );
        let found = pass(&script, &BTreeSet::new()).await.expect("resolves");
        assert!(!found.all);
        assert!(found.fallback.expect("reason").contains("lacks 10.0.0.9"));
        assert!(!found.addresses.contains(&ip(20)), "a rejected all. answer registers nothing");
    }

    #[tokio::test]
    async fn a_failure_mid_run_that_outlasts_the_retries_is_reported() {
        let mut plain = vec![answer(1..=8, 60)];
        plain.extend((0..4).map(|_| Err(DnsError::ServerFailure { name: "alb.test".into(), code: "SERVFAIL".into() })));
        let script = Script::new(vec![nxdomain()], plain);
        let error = pass(&script, &set(1..=20)).await.expect_err("fails");
        assert!(matches!(error, DnsError::ServerFailure { .. }));
    }

    #[tokio::test]
    async fn the_first_plain_failure_is_the_names_outcome() {
        let script = Script::new(vec![nxdomain()], vec![Err(DnsError::NameNotFound { name: "alb.test".into() })]);
        let error = pass(&script, &BTreeSet::new()).await.expect_err("fails");
        assert_eq!(error, DnsError::NameNotFound { name: "alb.test".into() });
    }

    #[tokio::test]
    async fn a_foreign_address_fails_the_pass_naming_it() {
        let script = Script::new(
            vec![nxdomain()],
            vec![Ok(Answer { addresses: vec![ip(1), IpAddr::from([192, 0, 2, 7])], ttl: 60 })],
        );
        let error = pass(&script, &BTreeSet::new()).await.expect_err("fails");
        assert_eq!(error, DnsError::ForeignAddress { name: "alb.test".into(), address: IpAddr::from([192, 0, 2, 7]) });
    }
}
