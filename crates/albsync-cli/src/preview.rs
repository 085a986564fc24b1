//! `plan`: what the next run would do, per address and why, computed with the core code the functions and the
//! state machine run: `plan::plan` (the diff function), `plan::count_grace` (the reference of the CountGrace
//! Map) and `rails::check_deregistration` (the deregister function). Pure; serialized as
//! schemas/plan.schema.json.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use albsync_core::Binding;
use albsync_core::events::{Resolved, Strategy};
use albsync_core::plan::{Plan, count_grace};
use albsync_core::rails::check_deregistration;
use albsync_core::target::RegisteredTarget;
use schemars::JsonSchema;
use serde::Serialize;

use crate::style::{BAD, paint, table};

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
    /// Binding name.
    pub binding: String,
    /// DNS name.
    pub dns_name: String,
    /// Target group ARN.
    pub target_group_arn: String,
    /// Port.
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Grace.
    #[schemars(range(min = 1))]
    pub grace_runs: u32,
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

fn how_looked(resolved: &Resolved) -> String {
    match resolved.strategy {
        Strategy::All => "the complete answer of all. lacks it".to_owned(),
        Strategy::Sampled => format!("not seen in {} queries looking for it", resolved.queries),
    }
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
        let mut live: Vec<RegisteredTarget> =
            registered.iter().filter(|t| t.port == binding.port && !t.state.is_leaving()).cloned().collect();
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
        let mut steps = Vec::new();
        for t in &plan.register {
            let draining = registered.iter().any(|r| r.ip == t.ip && r.port == t.port && r.state.is_leaving());
            let mut reason = if draining {
                "DNS answers it; its target is draining, so it is registered again".to_owned()
            } else {
                "DNS answers it; not in the target group".to_owned()
            };
            if t.availability_zone.is_some() {
                reason.push_str(" (outside the VPC: AvailabilityZone all)");
            }
            steps.push(Step {
                ip: t.ip,
                action: Action::Register,
                misses: None,
                availability_zone: t.availability_zone.clone(),
                reason,
            });
        }
        let registering: BTreeSet<IpAddr> = plan.register.iter().map(|t| t.ip).collect();
        for ip in live.iter().map(|k| k.ip).filter(|ip| answered.contains(ip) && !registering.contains(ip)) {
            let reason = "in DNS and registered".to_owned();
            steps.push(Step { ip, action: Action::Keep, misses: None, availability_zone: None, reason });
        }
        for c in &counted {
            let looked = how_looked(resolved);
            let (action, reason) = if !c.expired {
                (
                    Action::Count,
                    format!(
                        "registered, not in DNS ({looked}); miss {} of {grace}: deregistered after {} more {} without it",
                        c.misses,
                        grace.saturating_sub(c.misses).max(1),
                        if grace.saturating_sub(c.misses) <= 1 { "run" } else { "runs" }
                    ),
                )
            } else if let Some(rail) = &rail_refusal {
                (
                    Action::Refused,
                    format!("not in DNS for {} (grace {grace}), but a safety rail refuses: {rail}", runs(c.misses)),
                )
            } else if deregister.contains(&c.ip) {
                (
                    Action::Deregister,
                    format!("not in DNS for {} ({looked}); the grace of {grace} ran out", runs(c.misses)),
                )
            } else if held_back.contains(&c.ip) {
                (
                    Action::Expire,
                    format!("grace ran out after {}; over this run's cap, a later run removes it", runs(c.misses)),
                )
            } else {
                (Action::Expire, format!("grace ran out after {}; already leaving the target group", runs(c.misses)))
            };
            steps.push(Step { ip: c.ip, action, misses: Some(c.misses), availability_zone: None, reason });
        }
        for ip in &plan.returned {
            steps.push(Step {
                ip: *ip,
                action: Action::Reset,
                misses: Some(0),
                availability_zone: None,
                reason: "back in DNS: its count of misses is dropped".to_owned(),
            });
        }
        for ip in &plan.forgotten {
            steps.push(Step {
                ip: *ip,
                action: Action::Forget,
                misses: None,
                availability_zone: None,
                reason: "pending in the state, but neither registered nor in DNS: dropped from the state".to_owned(),
            });
        }
        steps.sort_by(|a, b| a.ip.cmp(&b.ip).then(a.action.cmp(&b.action)));
        Preview {
            binding: binding.name.clone(),
            dns_name: binding.dns_name.clone(),
            target_group_arn: binding.target_group_arn.as_str().to_owned(),
            port: binding.port,
            grace_runs: grace,
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
        let mut out = String::new();
        let tg = self.target_group_arn.rsplit(':').next().unwrap_or(&self.target_group_arn);
        let _ = writeln!(
            out,
            "plan     {}: {} -> {tg} port {}, grace {} runs (nothing is changed by this command)",
            self.binding, self.dns_name, self.port, self.grace_runs
        );
        let strategy = match self.dns_strategy {
            Strategy::All => "complete answer of all.",
            Strategy::Sampled => "sampled",
        };
        let passes = if self.dns_passes > 1 { format!(" in {} passes", self.dns_passes) } else { String::new() };
        let _ = writeln!(
            out,
            "DNS      {} addresses ({strategy}, {} queries{passes})",
            self.dns_addresses.len(),
            self.dns_queries
        );
        let _ = writeln!(out);
        let rows = self.steps.iter().map(|s| {
            let action = serde_json::to_value(s.action).ok().and_then(|v| v.as_str().map(str::to_owned));
            vec![action.unwrap_or_default(), s.ip.to_string(), s.reason.clone()]
        });
        out.push_str(&table(&[], &[], rows));
        if self.steps.is_empty() {
            let _ = writeln!(out, "  (no addresses: DNS answers none and the target group holds none)");
        }
        let _ = writeln!(out);
        if self.noop {
            let _ =
                writeln!(out, "next run: nothing to do; DNS, the target group and the state agree (ends at NoChange)");
        } else {
            let save = if self.writes_state { format!(", saves {}", self.state_key) } else { String::new() };
            let _ = writeln!(
                out,
                "next run: registers {}, deregisters {}{save}",
                self.register.len(),
                self.deregister.len()
            );
        }
        if let Some(rail) = &self.rail_refusal {
            let _ = writeln!(
                out,
                "{}: the deregistration would be refused, the run fails at SafetyRailTripped: {rail}",
                paint(BAD, "WARNING")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text as a pipe or file receives it (anstream strips the colour there).
    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }
    use albsync_core::StateDocument;
    use albsync_core::plan::plan;
    use albsync_core::target::HealthState;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

    fn binding() -> Binding {
        Binding::from_json(&format!(
            r#"{{"name":"web","dnsName":"alb.test","port":443,"targetGroupArn":"{ARN}","vpcCidrs":["10.0.0.0/16"]}}"#
        ))
        .expect("binding")
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 1, last])
    }

    fn all(ips: &[u8]) -> Resolved {
        Resolved {
            addresses: ips.iter().map(|i| ip(*i)).collect(),
            strategy: Strategy::All,
            queries: 1,
            sought: BTreeSet::new(),
            confirmed: BTreeSet::new(),
            // A complete answer: absences are settled (as one below the per-answer maximum is).
            resolution: albsync_core::Resolution { complete: true, ..Default::default() },
        }
    }

    fn reg(ips: &[u8]) -> Vec<RegisteredTarget> {
        ips.iter()
            .map(|i| RegisteredTarget { ip: ip(*i), port: 443, state: HealthState::Healthy, availability_zone: None })
            .collect()
    }

    fn preview(dns: &[u8], registered: &[u8], active: &[u8], pending: &[(u8, u32)]) -> Preview {
        let b = binding();
        let mut doc = StateDocument::new(
            &b,
            active.iter().map(|i| ip(*i)).collect(),
            pending.iter().map(|(i, m)| (ip(*i), *m)).collect(),
            "t".into(),
            "x".into(),
        );
        // Pending addresses were first missed long ago: only the count of looks decides in these tests.
        doc.first_missed = pending.iter().map(|(i, _)| (ip(*i), "2000-01-01T00:00:00Z".to_owned())).collect();
        let r = all(dns);
        let registered = reg(registered);
        let p = plan(&b, &r, &registered, Some(&doc), 1_795_608_000);
        Preview::build(&b, &r, 1, &registered, &p, true, "albsync/k.json")
    }

    #[test]
    fn a_steady_world_plans_nothing() {
        let p = preview(&[1, 2], &[1, 2], &[1, 2], &[]);
        assert!(p.noop && !p.writes_state);
        assert!(p.steps.iter().all(|s| s.action == Action::Keep));
        assert!(plain(&p.text()).contains("next run: nothing to do"));
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
        assert_eq!(p.register, [ip(5)]);
        assert_eq!(p.deregister, [ip(4)]);
        assert!(
            p.steps[2].reason.contains("miss 1 of 3: deregistered after 2 more runs without it"),
            "{}",
            p.steps[2].reason
        );
        let text = plain(&p.text());
        assert!(text.contains("next run: registers 1, deregisters 1, saves albsync/k.json"), "{text}");
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
