//! The diff: from what DNS answered, what the target group holds and what the last run saved, a plan.
//!
//! Pure and deterministic (sorted outputs). Keyed by address and port; targets on other ports are not ours
//! and draining targets are already leaving. The grace counting itself runs in the state machine; the
//! [`count_grace`] here is its reference, used by the CLI's `plan` and by tests that compare the two.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::binding::Binding;
use crate::events::Resolved;
use crate::state::StateDocument;
use crate::target::{RegisteredTarget, TargetSpec};

/// A registered address that DNS did not answer in this run, with its consecutive misses before this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Miss {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
    /// Consecutive runs it was missing before this one.
    pub misses: u32,
}

/// A missing address after this run's count: `misses` includes this run; `expired` when it reached the grace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counted {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
    /// Consecutive runs missing, this one included.
    pub misses: u32,
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
    /// Targets on the binding's port that count as registered (not draining).
    pub registered_count: usize,
}

/// Computes the plan. Never lists an answered address as missing.
pub fn plan(
    binding: &Binding,
    resolved: &Resolved,
    registered: &[RegisteredTarget],
    state: Option<&StateDocument>,
) -> Plan {
    // Every input is sorted (the answer is a set, describe sorts, the state's maps are ordered), so the
    // whole diff is a few linear merges; this runs on every execution.
    let mut live: Vec<IpAddr> =
        registered.iter().filter(|t| t.port == binding.port && !t.state.is_leaving()).map(|t| t.ip).collect();
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
    for (ip, is_live) in absent {
        if !resolved.looked_for(&ip) {
            unconfirmed.push(ip);
            if let Some(misses) = pending.get(&ip) {
                held.push(Counted { ip, port: binding.port, misses: *misses, expired: false });
            }
        } else if is_live {
            missing.push(Miss { ip, port: binding.port, misses: pending.get(&ip).copied().unwrap_or(0) });
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
    let noop = register.is_empty()
        && unconfirmed.is_empty()
        && missing.is_empty()
        && returned.is_empty()
        && forgotten.is_empty()
        && state_current;
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

/// The reference grace count, the same rule the state machine applies: one more miss; expired at the grace.
pub fn count_grace(missing: &[Miss], grace_runs: u32) -> Vec<Counted> {
    missing
        .iter()
        .map(|m| {
            let misses = m.misses.saturating_add(1);
            Counted { ip: m.ip, port: m.port, misses, expired: misses >= grace_runs }
        })
        .collect()
}

/// The pending map the next state document holds: every counted address, expired ones included, so that a
/// deregistration that fails is retried next run instead of its counter starting over.
pub fn next_pending(counted: &[Counted]) -> BTreeMap<IpAddr, u32> {
    counted.iter().map(|c| (c.ip, c.misses)).collect()
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
        ips.iter().map(|i| RegisteredTarget { ip: ip(*i), port, state }).collect()
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
        assert_eq!(p.held, vec![Counted { ip: ip(2), port: b.port, misses: 1, expired: false }]);
        // 100 independent answers of 1 among 3 addresses: (2/3)^100 settles both absences.
        r.resolution.independent_answers = 100;
        r.resolution.largest_answer = 1;
        let p = plan(&b, &r, &reg(&[1, 2], b.port, HealthState::Healthy), Some(&state(&[1, 2], &[(3, 1)])));
        assert_eq!(p.missing, vec![Miss { ip: ip(2), port: b.port, misses: 0 }]);
        assert_eq!(p.forgotten, vec![ip(3)]);
    }

    #[test]
    fn grace_counts_up_to_expiry() {
        let c = count_grace(&[Miss { ip: ip(1), port: 1, misses: 2 }, Miss { ip: ip(2), port: 1, misses: 0 }], 3);
        assert_eq!(c[0], Counted { ip: ip(1), port: 1, misses: 3, expired: true });
        assert_eq!(c[1], Counted { ip: ip(2), port: 1, misses: 1, expired: false });
    }

    /// Applies a plan the way a run does (register, count, deregister, save) and returns the new world.
    fn apply(
        b: &Binding,
        p: &Plan,
        registered: &[RegisteredTarget],
    ) -> (Vec<RegisteredTarget>, StateDocument, Vec<Counted>) {
        let counted = count_grace(&p.missing, p.grace_runs);
        let mut world: BTreeMap<IpAddr, HealthState> =
            registered.iter().filter(|t| t.port == b.port).map(|t| (t.ip, t.state)).collect();
        for t in &p.register {
            world.insert(t.ip, HealthState::Healthy);
        }
        for c in counted.iter().filter(|c| c.expired) {
            world.remove(&c.ip);
        }
        let next = world.into_iter().map(|(ip, state)| RegisteredTarget { ip, port: b.port, state }).collect();
        let doc = StateDocument::new(b, p.active.clone(), next_pending(&counted), "t".into(), "x".into());
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
            let p = plan(&b, &r, &registered, Some(&state(&[], &pend)));
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
            let mut registered = reg(&[1, 2], b.port, HealthState::Healthy);
            let mut doc = state(&[1, 2], &[]);
            let mut removed_after = None;
            for run in 1..=gone_for {
                let p = plan(&b, &complete(&[1]), &registered, Some(&doc));
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
