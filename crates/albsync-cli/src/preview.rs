//! `plan`: what the next run would do, per address and why, computed with the core code the functions and the
//! state machine run: `plan::plan` (the diff function), `plan::count_grace` (the reference of the CountGrace
//! Map) and `rails::check_deregistration` (the deregister function). Pure; serialized as
//! schemas/plan.schema.json.

use std::collections::BTreeSet;
use std::net::IpAddr;

use albsync_core::Binding;
use albsync_core::events::{Resolved, Strategy};
use albsync_core::plan::{Plan, count_grace};
use albsync_core::rails::check_deregistration;
use albsync_core::target::RegisteredTarget;
use schemars::JsonSchema;
use serde::Serialize;

use crate::status::{Header, dns_line};
use crate::style::{BAD, paint, put, table, word};

/// What the next run does to one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Registered now.
    Register,
    /// Registered and answered: nothing to do.
    Keep,
    /// Missing: one more miss counted, still within the grace.
    Count,
    /// Missing for the whole grace: deregistered.
    Deregister,
    /// Grace ran out, but a safety rail refuses the deregistration (the run fails at Deregister).
    Refused,
    /// Grace ran out and it is already gone from the target group.
    Expire,
    /// Pending, but answered again: its count is dropped.
    Reset,
    /// Pending, neither registered nor answered: dropped from the state.
    Forget,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The address.
    pub ip: IpAddr,
    /// What happens to it.
    pub action: Action,
    /// Consecutive misses after the next run (for count, deregister, refused, expire).
    pub misses: Option<u32>,
    /// `all` for addresses registered outside the VPC.
    pub availability_zone: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// The `plan` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The binding.
    #[serde(flatten)]
    pub header: Header,
    /// State key.
    pub state_key: String,
    /// A state document exists.
    pub state_found: bool,
    /// Addresses DNS answered (both passes).
    pub dns_addresses: Vec<IpAddr>,
    /// `all` or `sampled`.
    pub dns_strategy: Strategy,
    /// Queries sent (both passes).
    pub dns_queries: u32,
    /// 2 when the first answer left registered addresses unconfirmed and the run would look again (LookAgain).
    pub dns_passes: u32,
    /// Nothing to do: the run would end at NoChange without writing.
    pub noop: bool,
    /// The run would save the state document.
    pub writes_state: bool,
    /// Addresses it would register.
    pub register: Vec<IpAddr>,
    /// Addresses it would deregister.
    pub deregister: Vec<IpAddr>,
    /// The safety rail that would refuse the deregistration (the run would fail at SafetyRailTripped).
    pub rail_refusal: Option<String>,
    /// Every address considered, sorted.
    pub steps: Vec<Step>,
}

fn runs(n: u32) -> String {
    if n == 1 { "1 run".to_owned() } else { format!("{n} runs") }
}

impl Preview {
    /// The next run, from what DNS answers (after the second pass, if one is needed), the target group and the
    /// state; `passes` is 1 or 2.
    pub fn build(
        binding: &Binding,
        resolved: &Resolved,
        passes: u32,
        registered: &[RegisteredTarget],
        plan: &Plan,
        state_found: bool,
        state_key: &str,
    ) -> Preview {
        let counted = count_grace(plan);
        // The deregister function checks the rails against the target group after this run's registrations
        // (new targets start `initial`).
        let mut live: Vec<RegisteredTarget> = registered.iter().filter(|t| binding.is_live(t)).cloned().collect();
        live.extend(plan.register.iter().map(|t| RegisteredTarget {
            ip: t.ip,
            port: t.port,
            state: albsync_core::HealthState::Initial,
            availability_zone: t.availability_zone.clone(),
        }));
        let answered: BTreeSet<IpAddr> = plan.active.iter().copied().collect();
        let (deregister, held_back, rail_refusal) = match check_deregistration(binding, &counted, &live, &answered) {
            Ok(s) => (s.remove.into_iter().map(|k| k.ip).collect::<Vec<_>>(), s.held_back, None),
            Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
        };
        let grace = plan.grace_runs;
        let step =
            |ip, action, misses, why: &str| Step { ip, action, misses, availability_zone: None, reason: why.into() };
        let mut steps = Vec::new();
        for t in &plan.register {
            let draining = registered.iter().any(|r| r.ip == t.ip && r.port == t.port && r.state.is_leaving());
            let how =
                if draining { "its target is draining, so it is registered again" } else { "not in the target group" };
            let zone = if t.availability_zone.is_some() { " (outside the VPC: AvailabilityZone all)" } else { "" };
            let reason = format!("DNS answers it; {how}{zone}");
            let zone = t.availability_zone.clone();
            steps.push(Step { availability_zone: zone, ..step(t.ip, Action::Register, None, &reason) });
        }
        let registering: BTreeSet<IpAddr> = plan.register.iter().map(|t| t.ip).collect();
        for ip in live.iter().map(|k| k.ip).filter(|ip| answered.contains(ip) && !registering.contains(ip)) {
            steps.push(step(ip, Action::Keep, None, "in DNS and registered"));
        }
        let looked = match resolved.strategy {
            Strategy::All => "the complete answer of all. lacks it".to_owned(),
            Strategy::Sampled => format!("not seen in {} queries looking for it", resolved.queries),
        };
        for c in &counted {
            let (action, reason) = if !c.expired {
                let left = grace.saturating_sub(c.misses).max(1);
                let left = format!("{left} more {}", if left == 1 { "run" } else { "runs" });
                let reason = format!(
                    "registered, not in DNS ({looked}); miss {} of {grace}: deregistered after {left} without it",
                    c.misses
                );
                (Action::Count, reason)
            } else if let Some(rail) = &rail_refusal {
                let reason =
                    format!("not in DNS for {} (grace {grace}), but a safety rail refuses: {rail}", runs(c.misses));
                (Action::Refused, reason)
            } else if deregister.contains(&c.ip) {
                (
                    Action::Deregister,
                    format!("not in DNS for {} ({looked}); the grace of {grace} ran out", runs(c.misses)),
                )
            } else if held_back.contains(&c.ip) {
                let reason =
                    format!("grace ran out after {}; over this run's cap, a later run removes it", runs(c.misses));
                (Action::Expire, reason)
            } else {
                (Action::Expire, format!("grace ran out after {}; already leaving the target group", runs(c.misses)))
            };
            steps.push(step(c.ip, action, Some(c.misses), &reason));
        }
        for ip in &plan.returned {
            steps.push(step(*ip, Action::Reset, Some(0), "back in DNS: its count of misses is dropped"));
        }
        for ip in &plan.forgotten {
            let reason = "pending in the state, but neither registered nor in DNS: dropped from the state";
            steps.push(step(*ip, Action::Forget, None, reason));
        }
        steps.sort_by(|a, b| a.ip.cmp(&b.ip).then(a.action.cmp(&b.action)));
        Preview {
            header: Header { grace_runs: grace, ..Header::of(binding) },
            state_key: state_key.to_owned(),
            state_found,
            dns_addresses: resolved.addresses.iter().copied().collect(),
            dns_strategy: resolved.strategy,
            dns_queries: resolved.queries,
            dns_passes: passes,
            noop: plan.noop,
            writes_state: !plan.noop,
            register: plan.register.iter().map(|t| t.ip).collect(),
            deregister,
            rail_refusal,
            steps,
        }
    }

    /// The text form.
    pub fn text(&self) -> String {
        let mut out = self.header.line("plan", " (nothing is changed by this command)");
        out += &dns_line(self.dns_addresses.len(), self.dns_strategy, self.dns_queries, self.dns_passes);
        out += "\n";
        out += &table(&[], &[], self.steps.iter().map(|s| vec![word(s.action), s.ip.to_string(), s.reason.clone()]));
        if self.steps.is_empty() {
            put!(out, "  (no addresses: DNS answers none and the target group holds none)");
        }
        out += "\n";
        if self.noop {
            put!(out, "next run: nothing to do; DNS, the target group and the state agree (ends at NoChange)");
        } else {
            let save = if self.writes_state { format!(", saves {}", self.state_key) } else { String::new() };
            put!(out, "next run: registers {}, deregisters {}{save}", self.register.len(), self.deregister.len());
        }
        if let Some(rail) = &self.rail_refusal {
            let warning = paint(BAD, "WARNING");
            put!(out, "{warning}: the deregistration would be refused, the run fails at SafetyRailTripped: {rail}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::style::plain;
    use crate::world::fixture::{NOW, binding, ip, resolved, stored};
    use albsync_core::plan::plan;
    use albsync_core::target::HealthState::{Draining, Healthy};

    fn preview(dns: &[u8], registered: &[u8], active: &[u8], pending: &[(u8, u32)]) -> Preview {
        let (b, r) = (binding(), resolved(dns));
        let targets: Vec<_> = registered.iter().map(|i| (*i, 443, Healthy)).collect();
        let st = stored(&targets, active, pending);
        let p = plan(&b, &r, &st.registered, st.doc(), NOW);
        Preview::build(&b, &r, 1, &st.registered, &p, true, &st.key)
    }

    #[test]
    fn a_steady_world_plans_nothing() {
        let p = preview(&[1, 2], &[1, 2], &[1, 2], &[]);
        assert!(p.noop && !p.writes_state);
        assert!(p.steps.iter().all(|s| s.action == Action::Keep));
        let text = plain(&p.text());
        assert!(
            text.starts_with(
                "plan     web: alb.test -> targetgroup/web/0123456789abcdef port 443, grace 3 runs (nothing"
            )
        );
        assert!(text.contains("next run: nothing to do"), "{text}");
    }

    #[test]
    fn new_missing_and_expired_addresses_get_their_actions_and_reasons() {
        let p = preview(&[1, 2, 5], &[1, 2, 3, 4], &[1, 2, 3, 4], &[(4, 2)]);
        let actions: Vec<(IpAddr, Action, Option<u32>)> = p.steps.iter().map(|s| (s.ip, s.action, s.misses)).collect();
        assert_eq!(
            actions,
            [
                (ip(1), Action::Keep, None),
                (ip(2), Action::Keep, None),
                (ip(3), Action::Count, Some(1)),
                (ip(4), Action::Deregister, Some(3)),
                (ip(5), Action::Register, None),
            ]
        );
        assert_eq!((p.register.as_slice(), p.deregister.as_slice()), ([ip(5)].as_slice(), [ip(4)].as_slice()));
        let reason = &p.steps[2].reason;
        assert!(reason.contains("miss 1 of 3: deregistered after 2 more runs without it"), "{reason}");
        let text = plain(&p.text());
        assert!(text.contains("  register    10.0.1.5  DNS answers it; not in the target group\n"), "{text}");
        assert!(text.contains("next run: registers 1, deregisters 1, saves albsync/k.json"), "{text}");
    }

    #[test]
    fn a_draining_target_answered_again_is_registered_again() {
        let (b, r, st) = (binding(), resolved(&[1]), stored(&[(1, 443, Draining)], &[1], &[]));
        let p = plan(&b, &r, &st.registered, st.doc(), NOW);
        let p = Preview::build(&b, &r, 1, &st.registered, &p, true, &st.key);
        assert_eq!((p.steps[0].action, p.register.as_slice()), (Action::Register, [ip(1)].as_slice()));
        assert_eq!(p.steps[0].reason, "DNS answers it; its target is draining, so it is registered again");
    }

    #[test]
    fn a_rail_refusal_is_reported_not_hidden() {
        // The only registered address vanished long ago: removing it would empty the target group.
        let p = preview(&[], &[3], &[], &[(3, 2)]);
        assert!(p.deregister.is_empty());
        assert!(p.rail_refusal.as_deref().is_some_and(|r| r.contains("target group would be empty")), "{p:?}");
        assert!(p.steps.iter().all(|s| s.action == Action::Refused));
        assert!(plain(&p.text()).contains("WARNING: the deregistration would be refused"));
    }

    #[test]
    fn returned_and_forgotten_pending_addresses_are_listed() {
        let p = preview(&[1, 2], &[1, 2], &[1], &[(2, 1), (7, 1)]);
        let actions: Vec<(IpAddr, Action)> = p.steps.iter().map(|s| (s.ip, s.action)).collect();
        assert_eq!(
            actions,
            [(ip(1), Action::Keep), (ip(2), Action::Keep), (ip(2), Action::Reset), (ip(7), Action::Forget)]
        );
        assert!(p.writes_state);
    }
}
