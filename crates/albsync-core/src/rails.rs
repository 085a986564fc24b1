//! Safety rails checked right before any target is removed.
//!
//! The plan and the state machine's count already decide what expires; these rails are the last line, in
//! the deregister function, against a bug, a bad input or a mass disappearance from DNS.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::binding::Binding;
use crate::plan::Counted;
use crate::target::TargetKey;

/// Why a deregistration was refused. Every variant reaches Step Functions as `Albsync.SafetyRailTripped`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RailError {
    /// The address is in this run's DNS answer.
    #[error("refusing to deregister {ip}: DNS answered it in this run")]
    StillAnswered { ip: IpAddr },
    /// Marked expired before reaching the grace.
    #[error("refusing to deregister {ip}: {misses} misses is below the grace of {grace_runs} runs")]
    NotExpired { ip: IpAddr, misses: u32, grace_runs: u32 },
    /// Not on the binding's port.
    #[error("refusing to deregister {ip}:{port}: the binding's port is {expected}")]
    WrongPort { ip: IpAddr, port: u16, expected: u16 },
    /// More than the per-run cap.
    #[error("refusing to deregister {count} of {registered} targets in one run: the cap is {cap}")]
    OverCap { count: usize, registered: usize, cap: usize },
    /// Would leave the target group without a target.
    #[error("refusing to deregister the last {count} target(s): the target group would be empty")]
    LastTarget { count: usize },
}

/// The cap for one run: the binding's explicit cap, else half of the registered targets, at least one.
pub fn cap(binding: &Binding, registered: usize) -> usize {
    match binding.max_deregistrations_per_run {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => (registered / 2).max(1),
    }
}

/// Checks the expired entries of `counted` against the rails and returns the targets to deregister: the
/// expired ones still registered (`live`, not draining). Nothing is returned unless every rail holds.
pub fn check_deregistration(
    binding: &Binding,
    counted: &[Counted],
    live: &BTreeSet<TargetKey>,
    answered: &BTreeSet<IpAddr>,
) -> Result<Vec<TargetKey>, RailError> {
    let mut remove = Vec::new();
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
        let key = TargetKey { ip: c.ip, port: c.port };
        if live.contains(&key) && !remove.contains(&key) {
            remove.push(key);
        }
    }
    if remove.is_empty() {
        return Ok(remove);
    }
    if remove.len() >= live.len() {
        return Err(RailError::LastTarget { count: remove.len() });
    }
    let cap = cap(binding, live.len());
    if remove.len() > cap {
        return Err(RailError::OverCap { count: remove.len(), registered: live.len(), cap });
    }
    remove.sort();
    Ok(remove)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::binding;
    use proptest::prelude::*;

    fn ip(i: u8) -> IpAddr {
        IpAddr::from([10, 0, 2, i])
    }

    fn live(b: &Binding, n: u8) -> BTreeSet<TargetKey> {
        (0..n).map(|i| TargetKey { ip: ip(i), port: b.port }).collect()
    }

    fn expired(b: &Binding, ips: impl IntoIterator<Item = u8>) -> Vec<Counted> {
        ips.into_iter().map(|i| Counted { ip: ip(i), port: b.port, misses: b.grace_runs, expired: true }).collect()
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
    fn more_than_half_is_a_mass_removal() {
        let b = binding();
        let err = check_deregistration(&b, &expired(&b, 0..6), &live(&b, 10), &BTreeSet::new()).expect_err("rail");
        assert_eq!(err, RailError::OverCap { count: 6, registered: 10, cap: 5 });
        assert_eq!(
            check_deregistration(&b, &expired(&b, 0..5), &live(&b, 10), &BTreeSet::new()).map(|v| v.len()),
            Ok(5)
        );
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
    fn expired_addresses_already_gone_need_no_call() {
        let b = binding();
        assert_eq!(check_deregistration(&b, &expired(&b, [50]), &live(&b, 1), &BTreeSet::new()), Ok(vec![]));
    }

    proptest! {
        #[test]
        fn removals_stay_within_the_cap_and_leave_one(n_live in 0u8..60, gone in proptest::collection::btree_set(0u8..60, 0..60), cap_opt in proptest::option::of(1u32..20)) {
            let mut b = binding();
            b.max_deregistrations_per_run = cap_opt;
            let l = live(&b, n_live);
            if let Ok(removed) = check_deregistration(&b, &expired(&b, gone), &l, &BTreeSet::new()) {
                prop_assert!(removed.len() <= cap(&b, l.len()));
                prop_assert!(removed.is_empty() || removed.len() < l.len());
                prop_assert!(removed.iter().all(|k| l.contains(k)));
            }
        }
    }
}
