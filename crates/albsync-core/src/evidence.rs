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
    /// Digests of the distinct record sets seen, so a later pass does not count them again.
    #[serde(default)]
    pub digests: Vec<u64>,
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
            sets: previous.digests.iter().map(|d| (*d, u32::MAX)).collect(),
            largest: previous.largest_answer as usize,
            complete: previous.complete,
            countdown: previous.cached,
            ..Tally::default()
        }
    }

    /// Records one answer (its addresses and lowest TTL); true when it is a new independent answer.
    pub fn record(&mut self, addresses: &BTreeSet<IpAddr>, ttl: u32) -> bool {
        let d = digest(addresses);
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
            digests: self.sets.keys().copied().collect(),
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
        assert!(tally.record(&set(&full), 60));
        for ttl in [59, 59, 58] {
            assert!(!tally.record(&set(&full), ttl));
        }
        assert_eq!(tally.independent(), 1);
        assert!(tally.cached());
        assert!(!tally.settles(100));
    }

    #[test]
    fn an_answer_below_the_maximum_is_complete() {
        let mut tally = Tally::default();
        tally.record(&set(&[1, 2, 3, 4]), 60);
        assert!(tally.complete() && tally.settles(4));
    }

    #[test]
    fn a_later_pass_does_not_count_an_earlier_passes_sets_again() {
        let mut first = Tally::default();
        let full: Vec<u8> = (1..=8).collect();
        first.record(&set(&full), 60);
        let mut second = Tally::continuing(&first.summary());
        assert!(!second.record(&set(&full), 40));
        assert!(second.record(&set(&[2, 3, 4, 5, 6, 7, 8, 9]), 60));
        assert_eq!(second.independent(), 2);
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
            for s in &sets { tally.record(&set(&s.iter().copied().collect::<Vec<_>>()), 60); }
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
