//! The diff: from what DNS answered, what the target group holds and what the last run saved, a plan.
//!
//! Pure and deterministic (sorted outputs; the time is an argument). Keyed by address and port; targets on
//! other ports are not ours, draining targets are already leaving, and registered targets outside the
//! binding's allowed ranges are reported as `foreign`, never counted or removed (someone else put them there).
//! The grace counting itself runs in the state machine; the [`count_grace`] here is its reference, used by
//! the CLI's `plan` and by tests that compare the two.
//!
//! Grace is counted in looks and in time: an address expires after `graceRuns` counted looks AND when it was
//! first missed at or before `cutoff` (now - `graceSeconds`). A look is counted at most once per schedule slot:
//! when the state document says this slot was already counted (another execution of the same minute), the
//! plan sets `slotCounted` and the run carries the counts unchanged and removes nothing.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::binding::Binding;
use crate::events::Resolved;
use crate::evidence::CarriedEvidence;
use crate::state::{StateDocument, parse_rfc3339_utc, rfc3339_utc};
use crate::target::{RegisteredTarget, TargetSpec};

/// A registered address that DNS did not answer in this run, with its consecutive misses before this run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Miss {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
    /// Consecutive runs it was missing before this one.
    pub misses: u32,
    /// RFC 3339 UTC time it was first missed (this run's time when it is new).
    pub first_missed_at: String,
}

/// A missing address after this run's count: `misses` includes this run; `expired` when it reached the grace
/// in looks and in time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counted {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
    /// Consecutive runs missing, this one included.
    pub misses: u32,
    /// RFC 3339 UTC time it was first missed.
    pub first_missed_at: String,
    /// Whether it is to be deregistered now.
    pub expired: bool,
}

/// What a run should do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Nothing to register, count, forget or save: the run can end here.
    pub noop: bool,
    /// Addresses registered or pending that DNS did not answer but that the resolver was not asked to look
    /// for: the state machine resolves again for them before anything is counted.
    pub unconfirmed: Vec<IpAddr>,
    /// Unconfirmed addresses with a count from earlier runs: saved unchanged (neither counted nor reset) when
    /// the run ends without settling them.
    #[serde(default)]
    pub held: Vec<Counted>,
    /// Targets to register now.
    pub register: Vec<TargetSpec>,
    /// Registered targets DNS did not answer (and was asked about), with their misses so far.
    pub missing: Vec<Miss>,
    /// Pending addresses that DNS answered again: their counts reset.
    pub returned: Vec<IpAddr>,
    /// Pending addresses neither registered nor answered (deregistered, or removed by someone): forgotten.
    pub forgotten: Vec<IpAddr>,
    /// Addresses DNS answered, sorted: the next state's `active`.
    pub active: Vec<IpAddr>,
    /// The binding's grace, copied for the state machine's comparison.
    pub grace_runs: u32,
    /// Targets on the binding's port that count as registered (not draining, not foreign).
    pub registered_count: usize,
    /// Targets registered on the binding's port outside its allowed ranges: reported, never counted or removed.
    #[serde(default)]
    pub foreign: Vec<TargetSpec>,
    /// This run's time (RFC 3339 UTC).
    pub now: String,
    /// now - `graceSeconds`: a missing address first missed at or before this may expire.
    pub cutoff: String,
    /// This run's schedule slot (unix seconds / `slotSeconds`).
    pub slot: u64,
    /// The state document already counted this slot: carry the counts (`carried`), count nothing, remove nothing.
    pub slot_counted: bool,
    /// The counts as they stand, unchanged, for a run whose slot was already counted.
    #[serde(default)]
    pub carried: Vec<Counted>,
    /// The `countedSlot` the next state document holds.
    pub counted_slot: Option<u64>,
    /// The absence evidence the next state document holds: the saved evidence combined with this run's
    /// answers ([`CarriedEvidence::after_run`]). An absence it settles is counted even when no single run
    /// could settle it (behind a caching resolver).
    #[serde(default)]
    pub evidence: CarriedEvidence,
}

/// Computes the plan at `now` (unix seconds). Never lists an answered address as missing.
pub fn plan(
    binding: &Binding,
    resolved: &Resolved,
    registered: &[RegisteredTarget],
    state: Option<&StateDocument>,
    now: u64,
) -> Plan {
    // Every input is sorted (the answer is a set, describe sorts, the state's maps are ordered), so the
    // whole diff is a few linear merges; this runs on every execution.
    let ours = |t: &&RegisteredTarget| binding.is_live(t);
    let mut foreign: Vec<TargetSpec> =
        registered.iter().filter(ours).filter(|t| !binding.allows(&t.ip)).map(RegisteredTarget::description).collect();
    foreign.sort();
    foreign.dedup();
    let mut live: Vec<IpAddr> =
        registered.iter().filter(ours).filter(|t| binding.allows(&t.ip)).map(|t| t.ip).collect();
    if !live.is_sorted() {
        live.sort_unstable();
    }
    live.dedup();
    let empty = BTreeMap::new();
    let pending = state.map_or(&empty, |s| &s.pending);
    let answered = &resolved.addresses;

    let (new_answers, _, absent_live) = merge(answered.iter(), live.iter());
    let register: Vec<TargetSpec> = new_answers
        .into_iter()
        .map(|ip| TargetSpec { ip, port: binding.port, availability_zone: binding.availability_zone_for(&ip) })
        .collect();
    let (_, returned, absent_pending) = merge(answered.iter(), pending.keys());
    let (live_only, both, pending_only) = merge(absent_live.iter(), absent_pending.iter());

    let mut unconfirmed = Vec::new();
    let mut held = Vec::new();
    let mut missing = Vec::new();
    let mut forgotten = Vec::new();
    // Few addresses are ever absent: sorting this short list is cheaper than another merge.
    let mut absent: Vec<(IpAddr, bool)> = live_only.into_iter().chain(both).map(|ip| (ip, true)).collect();
    absent.extend(pending_only.into_iter().map(|ip| (ip, false)));
    absent.sort_unstable();
    // Absent addresses are not answered ones, so n is the sum.
    let absent_ips: std::collections::BTreeSet<IpAddr> = absent.iter().map(|(ip, _)| *ip).collect();
    let no_evidence = CarriedEvidence::default();
    let saved_evidence = state.map_or(&no_evidence, |s| &s.evidence);
    let evidence = saved_evidence.after_run(&resolved.resolution, &absent_ips, answered.len() + absent_ips.len(), now);
    for (ip, is_live) in absent {
        if !resolved.looked_for(&ip) && !evidence.settles(&ip) {
            unconfirmed.push(ip);
            if let Some(misses) = pending.get(&ip) {
                let first_missed_at = rfc3339_utc(state.map_or(now, |s| s.first_missed_secs(&ip, now)));
                held.push(Counted { ip, port: binding.port, misses: *misses, first_missed_at, expired: false });
            }
        } else if is_live {
            let first_missed_at = rfc3339_utc(state.map_or(now, |s| s.first_missed_secs(&ip, now)));
            missing.push(Miss {
                ip,
                port: binding.port,
                misses: pending.get(&ip).copied().unwrap_or(0),
                first_missed_at,
            });
        } else {
            forgotten.push(ip);
        }
    }
    let active: Vec<IpAddr> = answered.iter().copied().collect();
    let state_current = state.is_some_and(|s| {
        // Saved documents are sorted; a hand-edited one may not be, and must not cause a write every run.
        if s.active.is_sorted() {
            s.active.iter().eq(answered.iter())
        } else {
            let mut saved = s.active.clone();
            saved.sort_unstable();
            saved.iter().eq(answered.iter())
        }
    });
    let slot = now / u64::from(binding.slot_seconds.max(1));
    let (slot_counted, carried, counted_slot) = slot_fields(&missing, slot, state);
    let noop = register.is_empty()
        && unconfirmed.is_empty()
        && missing.is_empty()
        && returned.is_empty()
        && forgotten.is_empty()
        && state_current
        && *saved_evidence == evidence;
    Plan {
        noop,
        unconfirmed,
        held,
        register,
        missing,
        returned,
        forgotten,
        active,
        grace_runs: binding.grace_runs,
        registered_count: live.len(),
        foreign,
        now: rfc3339_utc(now),
        cutoff: rfc3339_utc(now.saturating_sub(u64::from(binding.grace_seconds))),
        slot,
        slot_counted,
        carried,
        counted_slot,
        evidence,
    }
}

impl Plan {
    /// Counts this plan's look in the schedule slot of `started` (unix seconds), the execution's start,
    /// rather than of the moment the plan was made. Duplicate executions of one scheduled invocation (EventBridge
    /// Scheduler delivers at least once) start moments apart, but their Diffs can run seconds apart (cold
    /// starts, retries): keyed by the start they share a slot, and one look is counted once.
    #[must_use]
    pub fn in_slot_of(mut self, started: u64, slot_seconds: u32, state: Option<&StateDocument>) -> Plan {
        self.slot = started / u64::from(slot_seconds.max(1));
        (self.slot_counted, self.carried, self.counted_slot) = slot_fields(&self.missing, self.slot, state);
        self
    }
}

/// Splits two ascending sequences into (only in `a`, in both, only in `b`), in one pass.
fn merge<'a>(
    a: impl Iterator<Item = &'a IpAddr>,
    b: impl Iterator<Item = &'a IpAddr>,
) -> (Vec<IpAddr>, Vec<IpAddr>, Vec<IpAddr>) {
    let (mut only_a, mut both, mut only_b) = (Vec::new(), Vec::new(), Vec::new());
    let (mut a, mut b) = (a.peekable(), b.peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.cmp(y) {
                std::cmp::Ordering::Less => only_a.extend(a.next()),
                std::cmp::Ordering::Greater => only_b.extend(b.next()),
                std::cmp::Ordering::Equal => {
                    both.extend(a.next());
                    b.next();
                }
            },
            (Some(_), None) => only_a.extend(a.next()),
            (None, Some(_)) => only_b.extend(b.next()),
            (None, None) => break,
        }
    }
    (only_a, both, only_b)
}

/// The reference grace count, the same rule the state machine applies: when the slot was already counted,
/// the carried counts; otherwise one more miss each, expired at `graceRuns` misses when first missed at or
/// before the cutoff (an unparseable time never expires).
pub fn count_grace(plan: &Plan) -> Vec<Counted> {
    if plan.slot_counted {
        return plan.carried.clone();
    }
    let cutoff = parse_rfc3339_utc(&plan.cutoff);
    plan.missing
        .iter()
        .map(|m| {
            let misses = m.misses.saturating_add(1);
            let long_enough = matches!((parse_rfc3339_utc(&m.first_missed_at), cutoff), (Some(f), Some(c)) if f <= c);
            Counted {
                ip: m.ip,
                port: m.port,
                misses,
                first_missed_at: m.first_missed_at.clone(),
                expired: misses >= plan.grace_runs && long_enough,
            }
        })
        .collect()
}

/// Whether this slot's look was already counted by another execution, the counts to carry unchanged if so,
/// and the slot the next state document records. One rule for the DNS plan and for a plan a second source
/// (the ENI rules) changed afterwards: a count added after the plan must be slot-checked the same way.
pub fn slot_fields(missing: &[Miss], slot: u64, state: Option<&StateDocument>) -> (bool, Vec<Counted>, Option<u64>) {
    let previous_slot = state.and_then(|s| s.counted_slot);
    // A slot from the future (a clock behind another writer's) also counts as counted: never count early.
    let slot_counted = !missing.is_empty() && previous_slot.is_some_and(|p| p >= slot);
    let carried = if slot_counted {
        missing
            .iter()
            .filter(|m| m.misses >= 1)
            .map(|m| Counted {
                ip: m.ip,
                port: m.port,
                misses: m.misses,
                first_missed_at: m.first_missed_at.clone(),
                expired: false,
            })
            .collect()
    } else {
        Vec::new()
    };
    let counted_slot = if missing.is_empty() || slot_counted { previous_slot } else { Some(slot) };
    (slot_counted, carried, counted_slot)
}

/// The pending map the next state document holds: every counted address, expired ones included, so that a
/// deregistration that fails (or is held back by the cap) is retried next run instead of its counter
/// starting over.
pub fn next_pending(counted: &[Counted]) -> BTreeMap<IpAddr, u32> {
    counted.iter().map(|c| (c.ip, c.misses)).collect()
}

/// The first-miss times the next state document holds, one per counted address.
pub fn next_first_missed(counted: &[Counted]) -> BTreeMap<IpAddr, String> {
    counted.iter().map(|c| (c.ip, c.first_missed_at.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Strategy as How;
    use crate::state::StateDocument;
    use crate::target::HealthState;
    use crate::testing::binding;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 1, last])
    }

    fn complete(ips: &[u8]) -> Resolved {
        Resolved {
            addresses: ips.iter().map(|i| ip(*i)).collect(),
            strategy: How::All,
            queries: 1,
            sought: BTreeSet::new(),
            confirmed: BTreeSet::new(),
            resolution: crate::evidence::Resolution { complete: true, ..Default::default() },
        }
    }

    fn reg(ips: &[u8], port: u16, state: HealthState) -> Vec<RegisteredTarget> {
        ips.iter().map(|i| RegisteredTarget { ip: ip(*i), port, state, availability_zone: None }).collect()
    }

    /// A minute into 2026-11-25: slot `T0 / 60`.
    const T0: u64 = 1_795_608_000;

    fn plan(b: &Binding, r: &Resolved, reg: &[RegisteredTarget], s: Option<&StateDocument>) -> Plan {
        super::plan(b, r, reg, s, T0)
    }

    fn state(active: &[u8], pending: &[(u8, u32)]) -> StateDocument {
        StateDocument::new(
            &binding(),
            active.iter().map(|i| ip(*i)).collect(),
            pending.iter().map(|(i, m)| (ip(*i), *m)).collect(),
            "t".into(),
            "x".into(),
        )
    }

    #[test]
    fn first_run_registers_every_answer_and_writes_state() {
        let p = plan(&binding(), &complete(&[1, 2]), &[], None);
        assert_eq!(p.register.iter().map(|t| t.ip).collect::<Vec<_>>(), vec![ip(1), ip(2)]);
        assert!(!p.noop);
    }

    #[test]
    fn steady_state_is_a_noop() {
        let b = binding();
        let p = plan(&b, &complete(&[1, 2]), &reg(&[1, 2], b.port, HealthState::Healthy), Some(&state(&[2, 1], &[])));
        assert!(p.noop, "{p:?}");
    }

    #[test]
    fn other_ports_are_not_ours_and_draining_targets_are_registered_again() {
        let b = binding();
        let mut registered = reg(&[1], b.port, HealthState::Draining);
        registered.extend(reg(&[9], 8080, HealthState::Healthy));
        let p = plan(&b, &complete(&[1]), &registered, Some(&state(&[1], &[])));
        assert_eq!(p.register.len(), 1);
        assert!(p.missing.is_empty(), "the target on port 8080 belongs to someone else");
    }

    #[test]
    fn sampled_absences_that_were_not_sought_are_unconfirmed_not_missing() {
        let b = binding();
        let mut r = complete(&[1]);
        r.strategy = How::Sampled;
        r.resolution = Default::default();
        let p = plan(&b, &r, &reg(&[1, 2], b.port, HealthState::Healthy), Some(&state(&[1, 2], &[(3, 1)])));
        assert_eq!(p.unconfirmed, vec![ip(2), ip(3)]);
        assert!(p.missing.is_empty() && p.forgotten.is_empty() && !p.noop);
        r.sought = [ip(2), ip(3)].into_iter().collect();
        // Sought but without evidence: still unconfirmed, and a count it had is held.
        let p = plan(&b, &r, &reg(&[1, 2], b.port, HealthState::Healthy), Some(&state(&[1, 2], &[(2, 1)])));
        assert_eq!(p.unconfirmed, vec![ip(2)]);
        assert_eq!(
            p.held,
            vec![Counted { ip: ip(2), port: b.port, misses: 1, first_missed_at: p.now.clone(), expired: false }]
        );
        // 100 independent answers of 1 among 3 addresses: (2/3)^100 settles both absences.
        r.resolution.independent_answers = 100;
        r.resolution.largest_answer = 1;
        let p = plan(&b, &r, &reg(&[1, 2], b.port, HealthState::Healthy), Some(&state(&[1, 2], &[(3, 1)])));
        assert_eq!(p.missing, vec![Miss { ip: ip(2), port: b.port, misses: 0, first_missed_at: rfc3339_utc(T0) }]);
        assert_eq!(p.forgotten, vec![ip(3)]);
    }

    /// A run behind a cache: one record set of 8 (addresses 1..=8), seen at `T0` with `ttl`.
    fn cached(digest: u64, ttl: u32) -> Resolved {
        let mut r = complete(&[1, 2, 3, 4, 5, 6, 7, 8]);
        r.strategy = How::Sampled;
        r.resolution = crate::evidence::Resolution {
            independent_answers: 1,
            largest_answer: 8,
            cached: true,
            sets: vec![crate::evidence::SeenSet { digest, at: T0, ttl, expires: T0 + u64::from(ttl) }],
            ..Default::default()
        };
        r
    }

    #[test]
    fn carried_evidence_settles_an_absence_no_cached_run_could_settle_alone() {
        use crate::evidence::{Absence, Remembered};
        let b = binding();
        let all: Vec<u8> = (1..=13).collect();
        let registered = reg(&all, b.port, HealthState::Healthy);
        let mut doc = state(&all, &[]);
        // 14 answers lacked 10.0.1.13 so far; (5/13)^14 = 1.6e-6 does not settle, (5/13)^15 does.
        doc.evidence.absence.insert(ip(13), Absence { answers: 14, addresses: 13, per_answer: 8 });
        doc.evidence.sets.push(Remembered { digest: 7, until: T0 + 30 });
        // The cache repeats the set already counted: unconfirmed, held.
        let p = plan(&b, &cached(7, 30), &registered, Some(&doc));
        assert!(p.unconfirmed.contains(&ip(13)) && p.missing.is_empty(), "{p:?}");
        assert_eq!(p.evidence.absence[&ip(13)].answers, 14);
        // A new set: the fifteenth answer settles it; the live 9..=12 absent from one answer stay unconfirmed.
        let p = plan(&b, &cached(8, 60), &registered, Some(&doc));
        assert_eq!(p.missing.iter().map(|m| m.ip).collect::<Vec<_>>(), vec![ip(13)]);
        assert_eq!(p.unconfirmed, vec![ip(9), ip(10), ip(11), ip(12)]);
        assert_eq!(p.evidence.absence[&ip(9)], Absence { answers: 1, addresses: 13, per_answer: 8 });
    }

    #[test]
    fn evidence_left_for_an_address_answered_again_is_cleared_and_a_steady_run_keeps_none() {
        use crate::evidence::Absence;
        let b = binding();
        let registered = reg(&[1, 2], b.port, HealthState::Healthy);
        let mut doc = state(&[1, 2], &[]);
        assert!(plan(&b, &complete(&[1, 2]), &registered, Some(&doc)).noop, "no evidence: steady, no write");
        doc.evidence.absence.insert(ip(2), Absence { answers: 3, addresses: 12, per_answer: 8 });
        let p = plan(&b, &complete(&[1, 2]), &registered, Some(&doc));
        assert!(!p.noop, "the stale evidence must be cleared, or a later absence would build on it");
        assert!(p.evidence.is_empty());
    }

    #[test]
    fn grace_counts_up_to_expiry_in_looks_and_in_time() {
        let b = binding();
        let long_ago = rfc3339_utc(T0 - u64::from(b.grace_seconds));
        let mut doc = state(&[], &[(1, 2), (2, 2)]);
        doc.first_missed = [(ip(1), long_ago.clone()), (ip(2), rfc3339_utc(T0 - 10))].into_iter().collect();
        let p = plan(&b, &complete(&[]), &reg(&[1, 2, 3], b.port, HealthState::Healthy), Some(&doc));
        let c = count_grace(&p);
        assert_eq!(c[0], Counted { ip: ip(1), port: b.port, misses: 3, first_missed_at: long_ago, expired: true });
        assert!(!c[1].expired && c[1].misses == 3, "3 looks but first missed only 10 s ago: {:?}", c[1]);
        assert_eq!(
            c[2],
            Counted { ip: ip(3), port: b.port, misses: 1, first_missed_at: rfc3339_utc(T0), expired: false }
        );
    }

    #[test]
    fn a_slot_already_counted_carries_the_counts_and_expires_nothing() {
        let b = binding();
        let mut doc = state(&[], &[(1, 5)]);
        doc.first_missed = [(ip(1), rfc3339_utc(0))].into_iter().collect();
        doc.counted_slot = Some(T0 / 60);
        let p = plan(&b, &complete(&[4]), &reg(&[1, 2], b.port, HealthState::Healthy), Some(&doc));
        assert!(p.slot_counted);
        assert_eq!(p.register.len(), 1, "registering stays safe");
        let c = count_grace(&p);
        assert_eq!(c.len(), 1, "2 is new: not counted in this slot");
        assert_eq!((c[0].misses, c[0].expired), (5, false));
        assert_eq!(p.counted_slot, Some(T0 / 60));
        let next = super::plan(&b, &complete(&[4]), &reg(&[1, 2], b.port, HealthState::Healthy), Some(&doc), T0 + 60);
        assert!(!next.slot_counted && count_grace(&next)[0].expired, "the next slot counts again");
        assert_eq!(next.counted_slot, Some(T0 / 60 + 1));
    }

    #[test]
    fn a_duplicate_whose_plan_runs_in_the_next_slot_counts_in_the_slot_it_started_in() {
        let b = binding();
        let mut doc = state(&[], &[(1, 2)]);
        doc.first_missed = [(ip(1), rfc3339_utc(0))].into_iter().collect();
        doc.counted_slot = Some(T0 / 60);
        let registered = reg(&[1, 2], b.port, HealthState::Healthy);
        // Started in the counted slot, planned a minute later (a cold start, retries): still that slot's look.
        let late = super::plan(&b, &complete(&[2]), &registered, Some(&doc), T0 + 61);
        assert!(!late.slot_counted, "by its plan time alone it would count again");
        let late = late.in_slot_of(T0 + 1, b.slot_seconds, Some(&doc));
        assert!(late.slot_counted && late.slot == T0 / 60);
        assert_eq!(count_grace(&late)[0].misses, 2, "carried, not counted twice");
        assert_eq!(late.counted_slot, Some(T0 / 60));
        let next = super::plan(&b, &complete(&[2]), &registered, Some(&doc), T0 + 61).in_slot_of(
            T0 + 60,
            b.slot_seconds,
            Some(&doc),
        );
        assert!(!next.slot_counted && count_grace(&next)[0].misses == 3, "a run started in the next slot counts");
    }

    proptest! {
        #[test]
        fn keying_a_plan_by_the_time_it_was_made_changes_nothing(
            now in T0..T0 + 100_000, counted in proptest::option::of(T0 / 60..T0 / 60 + 2_000),
        ) {
            let b = binding();
            let mut doc = state(&[], &[(1, 1)]);
            doc.counted_slot = counted;
            let registered = reg(&[1, 2], b.port, HealthState::Healthy);
            let p = super::plan(&b, &complete(&[2]), &registered, Some(&doc), now);
            prop_assert_eq!(p.clone().in_slot_of(now, b.slot_seconds, Some(&doc)), p);
        }
    }

    #[test]
    fn registered_targets_outside_the_allowed_ranges_are_foreign_not_missing() {
        let b = binding();
        let mut registered = reg(&[1], b.port, HealthState::Healthy);
        let public = RegisteredTarget {
            ip: IpAddr::from([8, 8, 8, 8]),
            port: b.port,
            state: HealthState::Healthy,
            availability_zone: Some("all".into()),
        };
        registered.push(public.clone());
        let p = plan(&b, &complete(&[1, 2]), &registered, Some(&state(&[1], &[])));
        assert_eq!(p.foreign, vec![public.description()]);
        assert!(p.missing.is_empty() && p.unconfirmed.is_empty());
        assert_eq!(p.registered_count, 1);
    }

    /// Applies a plan the way a run does (register, count, deregister, save) and returns the new world.
    fn apply(
        b: &Binding,
        p: &Plan,
        registered: &[RegisteredTarget],
    ) -> (Vec<RegisteredTarget>, StateDocument, Vec<Counted>) {
        let counted = count_grace(p);
        let mut world: BTreeMap<IpAddr, HealthState> =
            registered.iter().filter(|t| t.port == b.port).map(|t| (t.ip, t.state)).collect();
        for t in &p.register {
            world.insert(t.ip, HealthState::Healthy);
        }
        for c in counted.iter().filter(|c| c.expired) {
            world.remove(&c.ip);
        }
        let next = world
            .into_iter()
            .map(|(ip, state)| RegisteredTarget { ip, port: b.port, state, availability_zone: None })
            .collect();
        let mut doc = StateDocument::new(b, p.active.clone(), next_pending(&counted), "t".into(), "x".into());
        doc.first_missed = next_first_missed(&counted);
        doc.counted_slot = p.counted_slot;
        (next, doc, counted)
    }

    fn arb_world() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, Vec<(u8, u32)>)> {
        (
            proptest::collection::vec(0u8..40, 0..30),
            proptest::collection::vec(0u8..40, 0..30),
            proptest::collection::vec((0u8..40, 1u32..6), 0..10),
        )
    }

    proptest! {
        #[test]
        fn never_plans_to_remove_an_answered_address((dns, regd, pend) in arb_world(), sampled in any::<bool>()) {
            let b = binding();
            let mut r = complete(&dns);
            if sampled { r.strategy = How::Sampled; r.resolution = Default::default(); r.sought = regd.iter().map(|i| ip(*i)).collect(); }
            let p = plan(&b, &r, &reg(&regd, b.port, HealthState::Healthy), Some(&state(&dns, &pend)));
            for m in &p.missing { prop_assert!(!r.addresses.contains(&m.ip)); }
            for u in &p.unconfirmed { prop_assert!(!r.addresses.contains(u)); }
            for t in &p.register { prop_assert!(r.addresses.contains(&t.ip)); }
        }

        #[test]
        fn applying_a_plan_then_diffing_again_leaves_only_counting((dns, regd, pend) in arb_world()) {
            let b = binding();
            let r = complete(&dns);
            let registered = reg(&regd, b.port, HealthState::Healthy);
            let mut before = state(&[], &pend);
            // Pending addresses were first missed long ago: the count of looks decides.
            before.first_missed = before.pending.keys().map(|ip| (*ip, "2000-01-01T00:00:00Z".to_owned())).collect();
            let p = plan(&b, &r, &registered, Some(&before));
            let (next, doc, counted) = apply(&b, &p, &registered);
            let again = plan(&b, &r, &next, Some(&doc));
            prop_assert!(again.register.is_empty());
            prop_assert!(again.returned.is_empty() && again.unconfirmed.is_empty());
            // Addresses deregistered by the first run are forgotten by the second, and nothing else is.
            let expired: Vec<IpAddr> = counted.iter().filter(|c| c.expired).map(|c| c.ip).collect();
            prop_assert_eq!(&again.forgotten, &expired);
            // Only addresses still within their grace remain, each one run further along.
            for m in &again.missing {
                prop_assert!(m.misses >= 1 && m.misses < b.grace_runs);
            }
            if p.missing.is_empty() { prop_assert!(again.noop, "{:?}", again); }
        }

        #[test]
        fn an_address_is_removed_after_exactly_grace_runs_and_a_return_resets_it(
            grace in 1u32..6, gone_for in 0u32..8
        ) {
            let mut b = binding();
            b.grace_runs = grace;
            // Runs one slot apart: the first miss is (grace - 1) slots before the grace-th look.
            b.grace_seconds = (grace - 1) * b.slot_seconds;
            let mut registered = reg(&[1, 2], b.port, HealthState::Healthy);
            let mut doc = state(&[1, 2], &[]);
            let mut removed_after = None;
            for run in 1..=gone_for {
                let now = T0 + u64::from(run) * u64::from(b.slot_seconds);
                let p = super::plan(&b, &complete(&[1]), &registered, Some(&doc), now);
                let (n, d, counted) = apply(&b, &p, &registered);
                if counted.iter().any(|c| c.expired) && removed_after.is_none() { removed_after = Some(run); }
                registered = n; doc = d;
            }
            let present = registered.iter().any(|t| t.ip == ip(2));
            prop_assert_eq!(present, gone_for < grace);
            prop_assert_eq!(removed_after, if gone_for >= grace { Some(grace) } else { None });
            // It comes back: registered again if it was removed, and its count is gone.
            let p = plan(&b, &complete(&[1, 2]), &registered, Some(&doc));
            let (_, d, _) = apply(&b, &p, &registered);
            prop_assert!(d.pending.is_empty());
            prop_assert_eq!(p.register.iter().any(|t| t.ip == ip(2)), gone_for >= grace);
        }
    }
}
