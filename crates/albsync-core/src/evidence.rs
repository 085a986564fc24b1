//! The evidence rule: when DNS answers allow saying an address is gone, and when sampling may stop.
//!
//! Route 53 puts at most [`MAX_PER_ANSWER`] address records into one answer and rotates them when a name has
//! more. So one answer is a sample: a live address may simply not be in it. The rule, stated once:
//!
//! - **Evidence counts per independent answer, not per query.** A caching resolver answers every query of a
//!   TTL window with the same record set (its TTL counting down). Repeating a record set adds nothing, so
//!   an answer whose record set was already seen (in this pass or an earlier pass of the same run) is not
//!   counted. Counting only *distinct* record sets never overstates the evidence: fresh answers that happen
//!   to repeat are merely undercounted.
//! - **An address may be counted missing only when the chance that a live address was absent from every
//!   independent answer is below [`MISS_PROBABILITY_LIMIT`] (10^-6).** With `n` addresses and `k` records
//!   per answer, a live address is absent from one answer with probability about `1 - k/n`, so from `m`
//!   independent answers with `(1 - k/n)^m` ([`miss_probability`]). Until then the address is
//!   *unconfirmed*: neither counted nor reset.
//! - **A complete answer settles at once.** An answer holding fewer records than the per-answer maximum
//!   holds every address the name has. A checked `all.<name>` answer is complete for *finding* addresses,
//!   but it does not settle an absence: a few plain answers cannot show that it omitted one live address
//!   among many, so an address absent from it is looked for in the plain name's answers like any other.
//! - **The stop rule is the same arithmetic.** Sampling that looks for unseen addresses may stop as soon as
//!   their absence is settled ([`answers_needed`]); one that found everything it looked for stops after a
//!   quiet stretch scaled to the rotation ([`quiet_needed`]), near the coupon-collector bound.
//!
//! - **Evidence is carried across runs** ([`CarriedEvidence`], kept in the state document). Behind a caching
//!   resolver a run sees one or two record sets, so with more than 8 addresses no single run can settle an
//!   absence. An address absent from a run keeps an [`Absence`] record: the independent answers that lacked
//!   it over consecutive runs. The combination is the same rule: `m` is summed over runs, and each answer
//!   is taken at its weakest, the largest `n` and the smallest `k` of those runs, so the product of the
//!   runs' `(1 - k/n)` factors is never overstated. The record is dropped when the address is answered again
//!   (the runs must be consecutive) or is no longer ours to look for.
//! - **Across runs an answer is counted once.** A cache keeps serving one record set until its TTL runs
//!   out (RFC 2181, section 8: the TTL bounds how long a record may be cached,
//!   <https://www.rfc-editor.org/rfc/rfc2181#section-8>). So each counted record set is remembered with
//!   the latest expiry any sighting showed (`sighting + TTL`, plus [`CLOCK_SLACK_SECS`] for clocks of other
//!   hosts). A record set seen again is a new answer only when it is seen after that expiry *and* with a
//!   TTL above [`STALE_ANSWER_TTL`]: a resolver that serves stale data when it cannot refresh (RFC 8767,
//!   which recommends a TTL of 30 s on such answers, <https://www.rfc-editor.org/rfc/rfc8767#section-4>)
//!   repeats an old answer with a fresh-looking expiry, and that must not count again. A record set not
//!   remembered is a new answer: a different set is a different authoritative answer. Counting only what
//!   these rules prove new never overstates the evidence; it may undercount (a refetch that happened to
//!   give the same set), which only delays.
//!
//! Route 53's per-answer limit: "If you have more than eight healthy records, Route 53 responds to each DNS
//! query with up to eight healthy records"
//! (<https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-multivalue.html>); ELB names
//! are served the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Most address records Route 53 puts into one answer.
pub const MAX_PER_ANSWER: usize = 8;

/// An address counts as missing only when a live one would have been this unlikely to be absent from every
/// independent answer.
pub const MISS_PROBABILITY_LIMIT: f64 = 1e-6;

/// Default number of LookAgain passes per execution after the first resolve.
pub const DEFAULT_LOOK_AGAIN: u32 = 1;

/// A record set seen again after its remembered expiry is a new answer only with a TTL above this (RFC 8767
/// recommends 30 s for stale answers; a refetched ELB record carries up to its 60 s TTL).
pub const STALE_ANSWER_TTL: u32 = 30;

/// Added to every remembered expiry: the sighting times come from the clocks of different Lambda hosts.
pub const CLOCK_SLACK_SECS: u64 = 5;

/// Record sets remembered across runs at most (those expiring last are kept). About 40 bytes each in the plan,
/// so the state passed to SaveState stays far below Step Functions' 256 KiB per state input
/// (<https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>). Those dropped first are those
/// whose expiry passed first; a dropped set a cache still served would be counted again (a known limit, only
/// reached with more than 1024 distinct sets while an address stays absent).
pub const REMEMBERED_SETS: usize = 1024;

/// How long after its expiry a record set stays remembered, so that a stale repeat is still recognised.
pub const REMEMBER_SECS: u64 = 3600;

/// How a run's DNS answers can be trusted: the `resolution` field of the resolve result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    /// Independent answers (distinct record sets of the plain name) over every pass of this run.
    pub independent_answers: u32,
    /// The largest answer seen (records), `k` of the rule.
    pub largest_answer: u32,
    /// Whether one answer held every address (fewer records than the per-answer maximum): every absence
    /// is then settled.
    pub complete: bool,
    /// Whether the answers came from a cache (a record set repeated with its TTL counting down, or every
    /// answer the same full record set).
    pub cached: bool,
    /// Why `all.<name>` was not taken as complete, when it was asked; `None` when it was, or not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Resolve passes in this execution (1 for the first, 2 after one LookAgain).
    pub passes: u32,
    /// Whether the state machine may look again once more in this execution.
    pub may_look_again: bool,
    /// Whether the pass stopped at the invocation's deadline before its stop rule was met.
    pub timed_out: bool,
    /// The distinct record sets seen (digest, first sighting, TTL then), so that a later pass does not count
    /// them again and a later run can tell a cached repeat from a new answer ([`CarriedEvidence`]).
    #[serde(default)]
    pub sets: Vec<SeenSet>,
}

/// One distinct record set of a run: its [`digest`], when it was first seen (unix seconds, the resolver's
/// clock) and the TTL it had then, and the latest expiry (`at + ttl`) any sighting in the run showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SeenSet {
    /// [`digest`] of the addresses, written as 16 hex digits (see [`hex_digest`]).
    #[serde(with = "hex_digest")]
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub digest: u64,
    /// Unix seconds of the first sighting in the run.
    pub at: u64,
    /// The TTL of that first sighting.
    pub ttl: u32,
    /// The latest `sighting + TTL` of the run (unix seconds).
    pub expires: u64,
}

/// The evidence that a live address would have been seen: independent answers over consecutive runs that
/// lacked it, each taken at its weakest (the largest `n`, the smallest `k` of those runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Absence {
    /// Independent answers that lacked the address (`m`).
    pub answers: u32,
    /// The most addresses the name had in any of those runs (`n`).
    pub addresses: u32,
    /// The smallest largest-answer of those runs (`k`).
    pub per_answer: u32,
}

impl Absence {
    /// The one combination: answers add up, `n` and `k` take their weakest values.
    #[must_use]
    pub fn and(self, later: Absence) -> Absence {
        Absence {
            answers: self.answers.saturating_add(later.answers),
            addresses: self.addresses.max(later.addresses),
            per_answer: self.per_answer.min(later.per_answer),
        }
    }

    /// Whether this evidence settles the absence: a live address would have been absent from all these
    /// answers with probability below [`MISS_PROBABILITY_LIMIT`].
    pub fn settled(&self) -> bool {
        absence_settled(false, self.addresses as usize, self.per_answer as usize, self.answers)
    }
}

/// A record set remembered across runs: its [`digest`] and until when (unix seconds) a cache may still
/// serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Remembered {
    /// [`digest`] of the record set, written as 16 hex digits (see [`hex_digest`]).
    #[serde(with = "hex_digest")]
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub digest: u64,
    /// Latest expiry of any sighting plus [`CLOCK_SLACK_SECS`], unix seconds.
    pub until: u64,
}

/// Absence evidence carried from run to run (the state document's `evidence`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CarriedEvidence {
    /// Per address not answered: the evidence so far.
    #[serde(default)]
    pub absence: BTreeMap<IpAddr, Absence>,
    /// The record sets already counted (kept only while some address has evidence).
    #[serde(default)]
    pub sets: Vec<Remembered>,
}

impl CarriedEvidence {
    /// Nothing carried.
    pub fn is_empty(&self) -> bool {
        self.absence.is_empty() && self.sets.is_empty()
    }

    /// How many of a run's distinct record sets are new independent answers, by the rule above.
    pub fn new_answers(&self, run: &[SeenSet]) -> u32 {
        let remembered: BTreeMap<u64, u64> = self.sets.iter().map(|r| (r.digest, r.until)).collect();
        let new = run.iter().filter(|s| match remembered.get(&s.digest) {
            None => true,
            Some(until) => s.at > *until && s.ttl > STALE_ANSWER_TTL,
        });
        u32::try_from(new.count()).unwrap_or(u32::MAX)
    }

    /// The evidence after a run whose answers are `run`, at `now` (unix seconds): each address of `absent`
    /// (registered or counted, not answered) gains this run's new answers at this run's `n`
    /// (`addresses`); every other address loses its record (answered again, or no longer ours).
    #[must_use]
    pub fn after_run(
        &self,
        run: &Resolution,
        absent: &BTreeSet<IpAddr>,
        addresses: usize,
        now: u64,
    ) -> CarriedEvidence {
        let answers = if run.largest_answer == 0 { 0 } else { self.new_answers(&run.sets) };
        let this_run = Absence {
            answers,
            addresses: u32::try_from(addresses).unwrap_or(u32::MAX),
            per_answer: run.largest_answer,
        };
        let absence: BTreeMap<IpAddr, Absence> = absent
            .iter()
            .filter_map(|ip| {
                let combined = match self.absence.get(ip) {
                    Some(before) => before.and(this_run),
                    None => this_run,
                };
                (combined.answers > 0).then_some((*ip, combined))
            })
            .collect();
        if absence.is_empty() {
            return CarriedEvidence::default();
        }
        let mut until: BTreeMap<u64, u64> = self.sets.iter().map(|r| (r.digest, r.until)).collect();
        for s in &run.sets {
            let expiry = s.expires.saturating_add(CLOCK_SLACK_SECS);
            let entry = until.entry(s.digest).or_insert(expiry);
            *entry = (*entry).max(expiry);
        }
        let mut sets: Vec<Remembered> = until
            .into_iter()
            .filter(|(_, until)| until.saturating_add(REMEMBER_SECS) >= now)
            .map(|(digest, until)| Remembered { digest, until })
            .collect();
        if sets.len() > REMEMBERED_SETS {
            sets.sort_by(|a, b| b.until.cmp(&a.until).then(a.digest.cmp(&b.digest)));
            sets.truncate(REMEMBERED_SETS);
            sets.sort_by_key(|r| r.digest);
        }
        CarriedEvidence { absence, sets }
    }

    /// Whether the carried evidence settles the absence of `ip`.
    pub fn settles(&self, ip: &IpAddr) -> bool {
        self.absence.get(ip).is_some_and(Absence::settled)
    }

    /// Why a stored or passed `evidence` cannot be used, naming the entry; `None` when it is consistent.
    pub fn problem(&self) -> Option<String> {
        self.absence.iter().find_map(|(ip, a)| {
            (a.answers == 0 || a.per_answer == 0 || a.per_answer > a.addresses).then(|| {
                format!(
                    "evidence.absence {ip}: answers {}, addresses {}, perAnswer {} (answers and perAnswer start at 1, perAnswer <= addresses)",
                    a.answers, a.addresses, a.per_answer
                )
            })
        })
    }
}

/// Digests in JSON as 16 hex digits, not numbers: they pass through Step Functions (the plan's `evidence`,
/// the resolve result's `sets`), and a JSON number above 2^53 is not safe in every JSON implementation
/// (RFC 8259, section 6: <https://www.rfc-editor.org/rfc/rfc8259#section-6>); a rounded digest would make a
/// cached repeat look new.
pub mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `digest` as 16 lower-case hex digits.
    pub fn serialize<S: Serializer>(digest: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{digest:016x}"))
    }

    /// Reads 16 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.len() != 16 {
            return Err(serde::de::Error::custom(format!("digest {text:?} is not 16 hex digits")));
        }
        u64::from_str_radix(&text, 16)
            .map_err(|_| serde::de::Error::custom(format!("digest {text:?} is not 16 hex digits")))
    }
}

/// The chance that one live address is absent from `m` independent answers of `k` records out of `n`.
/// Zero when one answer holds them all (`k >= n`).
pub fn miss_probability(n: usize, k: usize, m: u32) -> f64 {
    if n == 0 || k >= n {
        return 0.0;
    }
    if k == 0 {
        return 1.0;
    }
    let absent_once = 1.0 - (k as f64) / (n as f64);
    absent_once.powi(i32::try_from(m).unwrap_or(i32::MAX))
}

/// The fewest independent answers that settle an absence among `n` addresses, `k` per answer:
/// the smallest `m` with `miss_probability(n, k, m) < MISS_PROBABILITY_LIMIT`. `None` when no number does
/// (`k == 0`).
pub fn answers_needed(n: usize, k: usize) -> Option<u32> {
    if n == 0 || k >= n {
        return Some(0);
    }
    if k == 0 {
        return None;
    }
    let absent_once = 1.0 - (k as f64) / (n as f64);
    let estimate = (MISS_PROBABILITY_LIMIT.ln() / absent_once.ln()).floor().max(0.0);
    // The float estimate may be one off either way; step to the exact boundary.
    let mut m = estimate as u32;
    while m > 0 && miss_probability(n, k, m - 1) < MISS_PROBABILITY_LIMIT {
        m -= 1;
    }
    while miss_probability(n, k, m) >= MISS_PROBABILITY_LIMIT {
        m += 1;
    }
    Some(m)
}

/// Whether `m` independent answers of up to `k` records settle an absence among `n` addresses.
pub fn absence_settled(complete: bool, n: usize, k: usize, m: u32) -> bool {
    complete || miss_probability(n, k, m) < MISS_PROBABILITY_LIMIT
}

/// Answers in a row without a new address after which sampling that saw everything it looked for stops:
/// `max(settle, 4 n / k)`. After that one address not seen yet escapes with probability about `e^-4`
/// (2%); it is found by a later pass or run: a registered one is looked for again before anything is
/// counted, a new one is registered a run later.
pub fn quiet_needed(settle: u32, n: usize, k: usize) -> u32 {
    let rounds = (4 * n).div_ceil(k.max(1));
    settle.max(u32::try_from(rounds).unwrap_or(u32::MAX))
}

/// A stable digest of a record set (FNV-1a over the sorted addresses), carried between passes.
pub fn digest(addresses: &BTreeSet<IpAddr>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for address in addresses {
        let bytes: Vec<u8> = match address {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        for byte in bytes.into_iter().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The evidence of a run as it accumulates, answer by answer.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// TTL last seen per distinct record set.
    sets: BTreeMap<u64, u32>,
    /// First sighting and latest expiry per distinct record set.
    seen: BTreeMap<u64, SeenSet>,
    largest: usize,
    complete: bool,
    countdown: bool,
    answers: u32,
    last: Option<u64>,
    same_full_in_a_row: u32,
}

impl Tally {
    /// Continues from an earlier pass's evidence.
    pub fn continuing(previous: &Resolution) -> Self {
        Tally {
            // An earlier pass's TTLs are not kept: a repeat is recognised by its record set alone.
            sets: previous.sets.iter().map(|s| (s.digest, u32::MAX)).collect(),
            seen: previous.sets.iter().map(|s| (s.digest, *s)).collect(),
            largest: previous.largest_answer as usize,
            complete: previous.complete,
            countdown: previous.cached,
            ..Tally::default()
        }
    }

    /// Records one answer (its addresses and lowest TTL), received at `at` (unix seconds); true when it is a
    /// new independent answer of this run.
    pub fn record(&mut self, addresses: &BTreeSet<IpAddr>, ttl: u32, at: u64) -> bool {
        let d = digest(addresses);
        let expires = at.saturating_add(u64::from(ttl));
        self.seen.entry(d).and_modify(|s| s.expires = s.expires.max(expires)).or_insert(SeenSet {
            digest: d,
            at,
            ttl,
            expires,
        });
        self.answers += 1;
        self.largest = self.largest.max(addresses.len());
        if !addresses.is_empty() && addresses.len() < MAX_PER_ANSWER {
            self.complete = true;
        }
        let full = addresses.len() >= MAX_PER_ANSWER;
        if full && self.last == Some(d) {
            self.same_full_in_a_row += 1;
        } else {
            self.same_full_in_a_row = 0;
        }
        self.last = Some(d);
        match self.sets.insert(d, ttl) {
            None => true,
            Some(before) => {
                if ttl < before && before != u32::MAX {
                    self.countdown = true;
                }
                false
            }
        }
    }

    /// Independent answers so far.
    pub fn independent(&self) -> u32 {
        u32::try_from(self.sets.len()).unwrap_or(u32::MAX)
    }

    /// The largest answer so far.
    pub fn largest(&self) -> usize {
        self.largest
    }

    /// Whether one answer was complete.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Whether the answers look cached: a TTL counted down on a repeated set, or three answers in a row
    /// repeated the same full set.
    pub fn cached(&self) -> bool {
        self.countdown || self.same_full_in_a_row >= 2
    }

    /// Whether an absence among `n` addresses is settled by this evidence.
    pub fn settles(&self, n: usize) -> bool {
        absence_settled(self.complete, n, self.largest, self.independent())
    }

    /// The evidence as the result reports it (pass bookkeeping is the caller's).
    pub fn summary(&self) -> Resolution {
        Resolution {
            independent_answers: self.independent(),
            largest_answer: u32::try_from(self.largest).unwrap_or(u32::MAX),
            complete: self.complete,
            cached: self.cached(),
            sets: self.seen.values().copied().collect(),
            ..Resolution::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(lasts: &[u8]) -> BTreeSet<IpAddr> {
        lasts.iter().map(|l| IpAddr::from([10, 0, 0, *l])).collect()
    }

    #[test]
    fn a_few_known_figures() {
        assert_eq!(answers_needed(12, 8), Some(13), "(1/3)^13 = 6.3e-7");
        assert_eq!(answers_needed(100, 8), Some(166));
        assert_eq!(answers_needed(9, 8), Some(7));
        assert_eq!(answers_needed(4, 8), Some(0), "fits in one answer");
        assert_eq!(answers_needed(10, 0), None);
        assert_eq!(quiet_needed(10, 100, 8), 50);
        assert_eq!(quiet_needed(10, 20, 8), 10);
    }

    #[test]
    fn a_cached_answer_repeated_counts_once_and_is_recognised() {
        let mut tally = Tally::default();
        let full: Vec<u8> = (1..=8).collect();
        assert!(tally.record(&set(&full), 60, 1_000));
        for ttl in [59, 59, 58] {
            assert!(!tally.record(&set(&full), ttl, 1_000));
        }
        assert_eq!(tally.independent(), 1);
        assert!(tally.cached());
        assert!(!tally.settles(100));
    }

    #[test]
    fn an_answer_below_the_maximum_is_complete() {
        let mut tally = Tally::default();
        tally.record(&set(&[1, 2, 3, 4]), 60, 1_000);
        assert!(tally.complete() && tally.settles(4));
    }

    #[test]
    fn a_later_pass_does_not_count_an_earlier_passes_sets_again() {
        let mut first = Tally::default();
        let full: Vec<u8> = (1..=8).collect();
        first.record(&set(&full), 60, 1_000);
        let mut second = Tally::continuing(&first.summary());
        assert!(!second.record(&set(&full), 40, 1_000));
        assert!(second.record(&set(&[2, 3, 4, 5, 6, 7, 8, 9]), 60, 1_000));
        assert_eq!(second.independent(), 2);
    }

    fn seen(digest: u64, at: u64, ttl: u32) -> SeenSet {
        SeenSet { digest, at, ttl, expires: at + u64::from(ttl) }
    }

    fn run_of(sets: &[SeenSet]) -> Resolution {
        Resolution {
            independent_answers: sets.len() as u32,
            largest_answer: 8,
            sets: sets.to_vec(),
            cached: true,
            ..Resolution::default()
        }
    }

    fn ips(lasts: &[u8]) -> BTreeSet<IpAddr> {
        set(lasts)
    }

    #[test]
    fn a_cached_set_repeated_by_later_runs_within_its_ttl_counts_once() {
        let absent = ips(&[9]);
        let first = CarriedEvidence::default().after_run(&run_of(&[seen(1, 1_000, 60)]), &absent, 12, 1_000);
        // The next run, 20 s later, gets the same set from the cache with its TTL counted down.
        let second = first.after_run(&run_of(&[seen(1, 1_020, 40)]), &absent, 12, 1_020);
        assert_eq!(second.absence[&ip_of(9)].answers, 1);
        // A minute later the cache refetched and the answer is another set: a new answer.
        let third = second.after_run(&run_of(&[seen(2, 1_080, 60)]), &absent, 12, 1_080);
        assert_eq!(third.absence[&ip_of(9)].answers, 2);
    }

    fn ip_of(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_set_seen_again_after_its_expiry_counts_only_with_a_fresh_ttl_not_a_stale_one() {
        let absent = ips(&[9]);
        let first = CarriedEvidence::default().after_run(&run_of(&[seen(1, 1_000, 60)]), &absent, 12, 1_000);
        // Within the slack after the expiry: still possibly the same cached answer.
        assert_eq!(first.new_answers(&[seen(1, 1_063, 60)]), 0);
        // After it, with a fresh TTL: the cache refetched and happened to get the same set.
        assert_eq!(first.new_answers(&[seen(1, 1_070, 60)]), 1);
        // A stale answer (RFC 8767: served with TTL 30 when the resolver cannot refresh) is not new.
        assert_eq!(first.new_answers(&[seen(1, 1_070, STALE_ANSWER_TTL)]), 0);
        assert_eq!(first.new_answers(&[seen(1, 5_000, 0)]), 0);
    }

    #[test]
    fn an_address_answered_again_loses_its_evidence_and_nothing_is_kept_for_no_one() {
        let absent = ips(&[9, 10]);
        let first = CarriedEvidence::default().after_run(&run_of(&[seen(1, 1_000, 60)]), &absent, 12, 1_000);
        let second = first.after_run(&run_of(&[seen(2, 1_060, 60)]), &ips(&[10]), 12, 1_060);
        assert!(!second.absence.contains_key(&ip_of(9)));
        assert_eq!(second.absence[&ip_of(10)].answers, 2);
        let third = second.after_run(&run_of(&[seen(3, 1_120, 60)]), &BTreeSet::new(), 12, 1_120);
        assert!(third.is_empty(), "no address absent: no evidence and no remembered sets");
    }

    #[test]
    fn runs_combine_at_their_weakest_n_and_k() {
        let absent = ips(&[9]);
        let small = Resolution { largest_answer: 6, ..run_of(&[seen(1, 1_000, 60)]) };
        let first = CarriedEvidence::default().after_run(&small, &absent, 7, 1_000);
        let second = first.after_run(&run_of(&[seen(2, 1_060, 60)]), &absent, 20, 1_060);
        assert_eq!(second.absence[&ip_of(9)], Absence { answers: 2, addresses: 20, per_answer: 6 });
    }

    #[test]
    fn a_gone_address_among_12_is_settled_by_the_fifteenth_new_answer_across_runs() {
        let absent = ips(&[99]);
        let mut carried = CarriedEvidence::default();
        for i in 0..15u64 {
            assert!(!carried.settles(&ip_of(99)), "settled after only {i} answers");
            let at = 1_000 + 60 * i;
            carried = carried.after_run(&run_of(&[seen(i, at, 60)]), &absent, 13, at);
            // Three more runs in the same cache window add nothing.
            for r in 1..=3 {
                carried = carried.after_run(&run_of(&[seen(i, at + 10 * r, 60 - 10 * r as u32)]), &absent, 13, at);
            }
        }
        assert!(carried.settles(&ip_of(99)));
        assert_eq!(carried.absence[&ip_of(99)].answers, 15);
    }

    #[test]
    fn inconsistent_evidence_is_named() {
        let mut e = CarriedEvidence::default();
        e.absence.insert(ip_of(9), Absence { answers: 0, addresses: 12, per_answer: 8 });
        assert!(e.problem().expect("problem").contains("evidence.absence 10.0.0.9"));
        e.absence.insert(ip_of(9), Absence { answers: 3, addresses: 12, per_answer: 8 });
        assert_eq!(e.problem(), None);
    }

    proptest! {
        #[test]
        fn across_runs_repeats_of_one_cache_never_add_evidence(
            runs in proptest::collection::vec((0u64..6, 0u64..600, 0u32..=30), 1..60)
        ) {
            // Sets drawn from 6 and served stale-or-short TTLs, at any times: each counts at most once.
            let absent = ips(&[9]);
            let mut carried = CarriedEvidence::default();
            let mut distinct = BTreeSet::new();
            for (digest, at, ttl) in runs {
                carried = carried.after_run(&run_of(&[seen(digest, 1_000 + at, ttl)]), &absent, 12, 1_000 + at);
                distinct.insert(digest);
                prop_assert_eq!(carried.absence[&ip_of(9)].answers as usize, distinct.len());
            }
        }

        #[test]
        fn carried_evidence_settles_exactly_when_the_rule_says(m in 1u32..300, n in 9u32..=101, k in 1u32..=8) {
            let a = Absence { answers: m, addresses: n, per_answer: k };
            prop_assert_eq!(a.settled(), miss_probability(n as usize, k as usize, m) < MISS_PROBABILITY_LIMIT);
        }

        #[test]
        fn combining_never_strengthens_an_answer(
            a in (1u32..50, 9u32..100, 1u32..=8), b in (1u32..50, 9u32..100, 1u32..=8)
        ) {
            let (x, y) = (Absence { answers: a.0, addresses: a.1, per_answer: a.2 }, Absence { answers: b.0, addresses: b.1, per_answer: b.2 });
            let both = x.and(y);
            let product = miss_probability(a.1 as usize, a.2 as usize, a.0) * miss_probability(b.1 as usize, b.2 as usize, b.0);
            let combined = miss_probability(both.addresses as usize, both.per_answer as usize, both.answers);
            prop_assert!(combined >= product * (1.0 - 1e-9), "{} < {}", combined, product);
        }
    }

    proptest! {
        #[test]
        fn answers_needed_is_the_exact_boundary(n in 1usize..200, k in 1usize..16) {
            let m = answers_needed(n, k).expect("k > 0");
            prop_assert!(miss_probability(n, k, m) < MISS_PROBABILITY_LIMIT);
            if m > 0 { prop_assert!(miss_probability(n, k, m - 1) >= MISS_PROBABILITY_LIMIT); }
        }

        #[test]
        fn more_addresses_never_need_fewer_answers(n in 1usize..200, k in 1usize..16) {
            prop_assert!(answers_needed(n + 1, k) >= answers_needed(n, k));
        }

        #[test]
        fn repeats_never_add_evidence(sets in proptest::collection::vec(proptest::collection::btree_set(0u8..30, 8..=8), 1..40)) {
            let mut tally = Tally::default();
            let distinct: BTreeSet<Vec<u8>> = sets.iter().map(|s| s.iter().copied().collect()).collect();
            for s in &sets { tally.record(&set(&s.iter().copied().collect::<Vec<_>>()), 60, 1_000); }
            prop_assert_eq!(tally.independent() as usize, distinct.len());
            prop_assert!(!tally.complete());
        }

        #[test]
        fn a_settled_absence_is_truly_unlikely(n in 9usize..=100, m in 0u32..400) {
            let tally_settles = absence_settled(false, n, MAX_PER_ANSWER, m);
            let p = (1.0 - MAX_PER_ANSWER as f64 / n as f64).powi(m as i32);
            prop_assert_eq!(tally_settles, p < MISS_PROBABILITY_LIMIT);
        }
    }
}
