//! Safety rails checked right before any target is removed.
//!
//! The plan and the state machine's count already decide what expires; these rails are the last line, in
//! the deregister function, against a bug, a bad input or a mass disappearance from DNS. Two things must never
//! happen and trip the rail (the run fails, the alarm fires): removing an address DNS answered in this run,
//! and removing the last healthy target (or the last target at all). Everything else is ordinary: when more
//! targets expire than the per-run cap allows, the longest-missing are removed and the rest keep counting,
//! so a scale-in from n to m converges in about log2(n / m) runs without an alarm.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::binding::Binding;
use crate::plan::Counted;
use crate::state::{StateDocument, parse_rfc3339_utc};
use crate::target::{RegisteredTarget, TargetSpec};

/// Why a deregistration was refused. Every variant reaches Step Functions as `Albsync.SafetyRailTripped`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RailError {
    /// The address is in this run's DNS answer.
    #[error("refusing to deregister {ip}: DNS answered it in this run")]
    StillAnswered { ip: IpAddr },
    /// Marked expired before reaching the grace in looks (by the event or by the saved state).
    #[error("refusing to deregister {ip}: {misses} misses is below the grace of {grace_runs} runs")]
    NotExpired { ip: IpAddr, misses: u32, grace_runs: u32 },
    /// Marked expired before it was missing for `graceSeconds`, by the saved state's first-miss time.
    #[error("refusing to deregister {ip}: first missed {missing_for} s ago, the grace is {grace_seconds} s")]
    TooRecent { ip: IpAddr, missing_for: u64, grace_seconds: u32 },
    /// Not on the binding's port.
    #[error("refusing to deregister {ip}:{port}: the binding's port is {expected}")]
    WrongPort { ip: IpAddr, port: u16, expected: u16 },
    /// Would leave the target group without a target.
    #[error("refusing to deregister the last {count} target(s): the target group would be empty")]
    LastTarget { count: usize },
    /// Would leave the target group without a healthy target.
    #[error("refusing to deregister {ips}: no healthy target would be left")]
    LastHealthy { ips: String },
}

/// The cap for one run: the binding's explicit cap, else half of the registered targets, at least one.
pub fn cap(binding: &Binding, registered: usize) -> usize {
    match binding.max_deregistrations_per_run {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => (registered / 2).max(1),
    }
}

/// What one run removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Targets to deregister now, each exactly as DescribeTargetHealth described it (zone included).
    pub remove: Vec<TargetSpec>,
    /// Expired and registered, but over this run's cap: they stay counted and go in a later run.
    pub held_back: Vec<IpAddr>,
}

/// Checks the expired entries of `counted` against the rails and selects what to deregister: the expired
/// targets still registered (`live`: the binding's port, not draining), longest-missing first, up to the cap.
/// Nothing is selected unless every rail holds.
pub fn check_deregistration(
    binding: &Binding,
    counted: &[Counted],
    live: &[RegisteredTarget],
    answered: &BTreeSet<IpAddr>,
) -> Result<Selection, RailError> {
    let mut expired: Vec<&Counted> = Vec::new();
    for c in counted.iter().filter(|c| c.expired) {
        if answered.contains(&c.ip) {
            return Err(RailError::StillAnswered { ip: c.ip });
        }
        if c.port != binding.port {
            return Err(RailError::WrongPort { ip: c.ip, port: c.port, expected: binding.port });
        }
        if c.misses < binding.grace_runs {
            return Err(RailError::NotExpired { ip: c.ip, misses: c.misses, grace_runs: binding.grace_runs });
        }
        if !expired.iter().any(|e| e.ip == c.ip) {
            expired.push(c);
        }
    }
    // Longest-missing first: most misses, then earliest first miss, then the address for a stable order.
    expired.sort_by_key(|c| {
        (std::cmp::Reverse(c.misses), parse_rfc3339_utc(&c.first_missed_at).unwrap_or(u64::MAX), c.ip)
    });
    let candidates: Vec<&RegisteredTarget> =
        expired.iter().filter_map(|c| live.iter().find(|t| t.ip == c.ip && t.port == c.port)).collect();
    if candidates.is_empty() {
        return Ok(Selection::default());
    }
    let cap = cap(binding, live.len());
    let (now, later) = candidates.split_at(cap.min(candidates.len()));
    if now.len() >= live.len() {
        return Err(RailError::LastTarget { count: now.len() });
    }
    let healthy = live.iter().filter(|t| t.state.is_healthy()).count();
    let healthy_removed: Vec<&&RegisteredTarget> = now.iter().filter(|t| t.state.is_healthy()).collect();
    if !healthy_removed.is_empty() && healthy_removed.len() >= healthy {
        let ips: Vec<String> = healthy_removed.iter().map(|t| t.ip.to_string()).collect();
        return Err(RailError::LastHealthy { ips: ips.join(", ") });
    }
    let mut remove: Vec<TargetSpec> = now.iter().map(|t| t.description()).collect();
    remove.sort();
    let mut held_back: Vec<IpAddr> = later.iter().map(|t| t.ip).collect();
    held_back.sort();
    Ok(Selection { remove, held_back })
}

/// Re-checks an expiry against the saved state document (not the event): at least `graceRuns` misses, first
/// missed at least `graceSeconds` before `now`, and not among the addresses the saving run answered.
pub fn check_recorded(binding: &Binding, doc: &StateDocument, ip: IpAddr, now: u64) -> Result<(), RailError> {
    if doc.active.contains(&ip) {
        return Err(RailError::StillAnswered { ip });
    }
    let misses = doc.pending.get(&ip).copied().unwrap_or(0);
    if misses < binding.grace_runs {
        return Err(RailError::NotExpired { ip, misses, grace_runs: binding.grace_runs });
    }
    let missing_for = now.saturating_sub(doc.first_missed_secs(&ip, now));
    if missing_for < u64::from(binding.grace_seconds) {
        return Err(RailError::TooRecent { ip, missing_for, grace_seconds: binding.grace_seconds });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::HealthState;
    use crate::testing::binding;
    use proptest::prelude::*;

    fn ip(i: u8) -> IpAddr {
        IpAddr::from([10, 0, 2, i])
    }

    fn live(b: &Binding, n: u8) -> Vec<RegisteredTarget> {
        (0..n)
            .map(|i| RegisteredTarget { ip: ip(i), port: b.port, state: HealthState::Healthy, availability_zone: None })
            .collect()
    }

    fn expired(b: &Binding, ips: impl IntoIterator<Item = u8>) -> Vec<Counted> {
        ips.into_iter()
            .map(|i| Counted {
                ip: ip(i),
                port: b.port,
                misses: b.grace_runs,
                first_missed_at: "2026-01-01T00:00:00Z".into(),
                expired: true,
            })
            .collect()
    }

    #[test]
    fn an_answered_address_is_never_removed() {
        let b = binding();
        let answered = [ip(1)].into_iter().collect();
        let err = check_deregistration(&b, &expired(&b, [1]), &live(&b, 4), &answered).expect_err("rail");
        assert_eq!(err, RailError::StillAnswered { ip: ip(1) });
    }

    #[test]
    fn the_last_target_is_never_removed() {
        let b = binding();
        let err = check_deregistration(&b, &expired(&b, [0]), &live(&b, 1), &BTreeSet::new()).expect_err("rail");
        assert_eq!(err, RailError::LastTarget { count: 1 });
    }

    #[test]
    fn the_last_healthy_target_is_never_removed_while_others_are_only_initial() {
        let b = binding();
        let mut l = live(&b, 4);
        for t in &mut l[1..] {
            t.state = HealthState::Initial;
        }
        let err = check_deregistration(&b, &expired(&b, [0]), &l, &BTreeSet::new()).expect_err("rail");
        assert!(matches!(err, RailError::LastHealthy { .. }), "{err}");
        // An unhealthy expired target can go while the healthy one stays.
        l[0].state = HealthState::Unhealthy;
        l[1].state = HealthState::Healthy;
        let s = check_deregistration(&b, &expired(&b, [0]), &l, &BTreeSet::new()).expect("allowed");
        assert_eq!(s.remove.len(), 1);
    }

    #[test]
    fn more_than_the_cap_removes_the_longest_missing_and_holds_the_rest_back() {
        let b = binding();
        let mut c = expired(&b, 0..6);
        c[5].misses += 4;
        c[4].first_missed_at = "2025-01-01T00:00:00Z".into();
        let s = check_deregistration(&b, &c, &live(&b, 10), &BTreeSet::new()).expect("no rail trips");
        let removed: Vec<IpAddr> = s.remove.iter().map(|t| t.ip).collect();
        assert_eq!(removed, vec![ip(0), ip(1), ip(2), ip(4), ip(5)], "5 longest missing, the cap of 10 / 2");
        assert_eq!(s.held_back, vec![ip(3)]);
    }

    #[test]
    fn targets_are_removed_with_the_zone_they_were_registered_with() {
        let b = binding();
        let mut l = live(&b, 3);
        l[0].availability_zone = Some("all".into());
        let s = check_deregistration(&b, &expired(&b, [0]), &l, &BTreeSet::new()).expect("allowed");
        assert_eq!(s.remove[0].availability_zone.as_deref(), Some("all"));
    }

    #[test]
    fn an_early_expiry_flag_is_refused() {
        let b = binding();
        let mut c = expired(&b, [1]);
        c[0].misses = b.grace_runs - 1;
        assert!(matches!(
            check_deregistration(&b, &c, &live(&b, 4), &BTreeSet::new()),
            Err(RailError::NotExpired { .. })
        ));
    }

    #[test]
    fn the_saved_state_must_agree_in_looks_and_time() {
        let b = binding();
        let mut doc =
            StateDocument::new(&b, vec![ip(9)], [(ip(1), 3), (ip(2), 2)].into_iter().collect(), "t".into(), "x".into());
        doc.first_missed = [(ip(1), crate::state::rfc3339_utc(1000))].into_iter().collect();
        let grace = u64::from(b.grace_seconds);
        assert_eq!(check_recorded(&b, &doc, ip(1), 1000 + grace), Ok(()));
        assert!(matches!(check_recorded(&b, &doc, ip(1), 999 + grace), Err(RailError::TooRecent { .. })));
        assert!(matches!(check_recorded(&b, &doc, ip(2), u64::MAX), Err(RailError::NotExpired { .. })));
        assert!(matches!(check_recorded(&b, &doc, ip(9), u64::MAX), Err(RailError::StillAnswered { .. })));
    }

    #[test]
    fn expired_addresses_already_gone_need_no_call() {
        let b = binding();
        assert_eq!(
            check_deregistration(&b, &expired(&b, [50]), &live(&b, 1), &BTreeSet::new()),
            Ok(Selection::default())
        );
    }

    /// Scale-in from `n` to `keep` targets: runs until nothing expired is left; returns the number of runs.
    fn converge(n: u8, keep: u8) -> usize {
        let b = binding();
        let mut l = live(&b, n);
        let mut runs = 0;
        while l.len() > usize::from(keep) {
            runs += 1;
            let gone = expired(&b, keep..n);
            let s = check_deregistration(&b, &gone, &l, &BTreeSet::new()).expect("no rail trips on a scale-in");
            assert!(!s.remove.is_empty(), "progress every run");
            l.retain(|t| !s.remove.iter().any(|r| r.ip == t.ip));
            assert!(runs < 20, "does not converge");
        }
        runs
    }

    #[test]
    fn scale_in_from_10_to_4_and_100_to_10_converges_in_about_log2_runs() {
        assert_eq!(converge(10, 4), 2);
        assert_eq!(converge(100, 10), 4);
    }

    proptest! {
        #[test]
        fn removals_stay_within_the_cap_and_leave_a_healthy_one(
            n_live in 0u8..60,
            gone in proptest::collection::btree_set(0u8..60, 0..60),
            unhealthy in proptest::collection::btree_set(0u8..60, 0..60),
            cap_opt in proptest::option::of(1u32..20),
        ) {
            let mut b = binding();
            b.max_deregistrations_per_run = cap_opt;
            let mut l = live(&b, n_live);
            for (i, t) in l.iter_mut().enumerate() {
                if u8::try_from(i).is_ok_and(|i| unhealthy.contains(&i)) {
                    t.state = HealthState::Unhealthy;
                }
            }
            if let Ok(s) = check_deregistration(&b, &expired(&b, gone.clone()), &l, &BTreeSet::new()) {
                prop_assert!(s.remove.len() <= cap(&b, l.len()));
                prop_assert!(s.remove.is_empty() || s.remove.len() < l.len());
                prop_assert!(s.remove.iter().all(|k| l.iter().any(|t| t.ip == k.ip)));
                let healthy_left = l.iter().filter(|t| t.state.is_healthy() && !s.remove.iter().any(|r| r.ip == t.ip)).count();
                let removed_healthy = l.iter().any(|t| t.state.is_healthy() && s.remove.iter().any(|r| r.ip == t.ip));
                prop_assert!(!removed_healthy || healthy_left > 0);
                // Held back plus removed is every expired registered target: none is dropped from the count.
                let expired_live = l.iter().filter(|t| gone.iter().any(|g| ip(*g) == t.ip)).count();
                prop_assert_eq!(s.remove.len() + s.held_back.len(), expired_live);
            }
        }
    }
}
