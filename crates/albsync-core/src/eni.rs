//! The ENI source: a same-account ALB's network interfaces as a second source of truth beside DNS.
//!
//! An ALB node has a requester-managed network interface whose description is `ELB app/<name>/<id>`; the
//! interface exists before DNS answers the node's address and stays while the node drains (over 10 minutes
//! in one public measurement). So the interfaces say which addresses are the ALB's, completely and without
//! sampling, and this module combines them with the DNS answer and the plan, purely:
//!
//! 1. an address DNS answers that is on none of the ALB's interfaces is refused ([`EniError::NotAnInterface`]):
//!    it is not the ALB's, whatever DNS says;
//! 2. an address of an interface in use is never counted towards removal, whatever DNS says;
//! 3. a registered address that is on no interface any more expires in this run: the ALB no longer has it;
//! 4. with `registerEarly` (default on), an address of an interface in use that DNS does not answer yet and
//!    that was never registered or answered is registered now, so the NLB's health checks start sooner.
//!
//! 5. at the moment of acting, Register and Deregister read the interfaces again ([`registrable`],
//!    [`removable`]): seconds pass between Diff and them, in which an interface can go, or a freed address can
//!    be taken by a new node's interface.
//!
//! The safety rails still apply to every removal (deregister re-reads the target group and caps the count).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::binding::{Binding, BindingError};
use crate::events::Resolved;
use crate::plan::{Miss, Plan, slot_fields};
use crate::state::{StateDocument, parse_rfc3339_utc, rfc3339_utc};
use crate::target::{RegisteredTarget, TargetSpec};

/// Whether early registration is on when a binding does not say.
pub const DEFAULT_REGISTER_EARLY: bool = true;

/// Which ALB's interfaces to read, and how to use them (the binding's `eni` field).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawEniSource")]
pub struct EniSource {
    /// The ALB's name (the `<name>` of `app/<name>/<id>`).
    pub load_balancer_name: String,
    /// The ALB's id (the `<id>` of `app/<name>/<id>`, 16 hex digits).
    pub load_balancer_id: String,
    /// Register an in-use interface's address before DNS answers it.
    pub register_early: bool,
}

/// The wire form: the ALB's ARN, or its name and id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawEniSource {
    #[serde(default)]
    load_balancer_arn: Option<String>,
    #[serde(default)]
    load_balancer_name: Option<String>,
    #[serde(default)]
    load_balancer_id: Option<String>,
    #[serde(default)]
    register_early: Option<bool>,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> BindingError {
    BindingError { field, problem: problem.into() }
}

fn check_name(field: &'static str, name: &str) -> Result<(), BindingError> {
    // ALB names: up to 32 alphanumerics or hyphens, not starting or ending with a hyphen
    // (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html).
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok { Ok(()) } else { Err(invalid(field, format!("{name:?} is not a load balancer name"))) }
}

fn check_id(field: &'static str, id: &str) -> Result<(), BindingError> {
    if !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(invalid(field, format!("{id:?} is not a load balancer id (hex digits)")))
    }
}

/// `arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID` to (NAME, ID).
fn split_arn(arn: &str) -> Result<(String, String), BindingError> {
    let field = "eni.loadBalancerArn";
    let bad = |why: &str| invalid(field, format!("{arn:?} is not an ALB ARN: {why}"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") || parts[2] != "elasticloadbalancing" {
        return Err(bad("expected arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID"));
    }
    let resource: Vec<&str> = parts[5].split('/').collect();
    let ["loadbalancer", "app", name, id] = resource.as_slice() else {
        return Err(bad("resource is not loadbalancer/app/NAME/ID (only ALBs have this description)"));
    };
    check_name(field, name)?;
    check_id(field, id)?;
    Ok(((*name).to_owned(), (*id).to_owned()))
}

impl TryFrom<RawEniSource> for EniSource {
    type Error = BindingError;

    fn try_from(raw: RawEniSource) -> Result<Self, Self::Error> {
        let (load_balancer_name, load_balancer_id) =
            match (raw.load_balancer_arn, raw.load_balancer_name, raw.load_balancer_id) {
                (Some(arn), None, None) => split_arn(&arn)?,
                (None, Some(name), Some(id)) => {
                    check_name("eni.loadBalancerName", &name)?;
                    check_id("eni.loadBalancerId", &id)?;
                    (name, id)
                }
                _ => {
                    return Err(invalid("eni", "give either loadBalancerArn, or loadBalancerName and loadBalancerId"));
                }
            };
        let register_early = raw.register_early.unwrap_or(DEFAULT_REGISTER_EARLY);
        Ok(EniSource { load_balancer_name, load_balancer_id, register_early })
    }
}

impl EniSource {
    /// The description ELB gives the ALB's interfaces, the DescribeNetworkInterfaces filter.
    pub fn description(&self) -> String {
        format!("ELB app/{}/{}", self.load_balancer_name, self.load_balancer_id)
    }
}

/// One of the ALB's network interfaces, as DescribeNetworkInterfaces reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    /// `eni-...`.
    pub id: String,
    /// Status `in-use`: the node holds it (also while it drains).
    pub in_use: bool,
    /// Its private IPv4 and IPv6 addresses.
    pub addresses: Vec<IpAddr>,
}

/// What the ENI rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EniError {
    /// DNS answered an address that is on none of the ALB's interfaces.
    #[error("{address} is answered by DNS but is on none of the interfaces described `{description}`: not the ALB's")]
    NotAnInterface { address: IpAddr, description: String },
    /// An in-use interface has an address outside the binding's allowed CIDRs.
    #[error("interface {interface} has {address}, outside the binding's allowed CIDRs")]
    Foreign { interface: String, address: IpAddr },
    /// The plan's `now` is not an RFC 3339 UTC time (a plan not made by [`crate::plan::plan`]).
    #[error("plan field `now`: {0:?} is not an RFC 3339 UTC time")]
    Clock(String),
}

/// The ALB's addresses, split by whether their interface is in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// Every address of every interface, whatever its status.
    pub known: BTreeSet<IpAddr>,
    /// Addresses of interfaces in use, with the interface's id.
    pub in_use: BTreeMap<IpAddr, String>,
}

impl Addresses {
    /// The addresses of the binding's family.
    pub fn of(binding: &Binding, interfaces: &[Interface]) -> Addresses {
        let mut out = Addresses::default();
        for i in interfaces {
            for ip in i.addresses.iter().filter(|ip| binding.family.contains(ip)) {
                out.known.insert(*ip);
                if i.in_use {
                    out.in_use.insert(*ip, i.id.clone());
                }
            }
        }
        out
    }
}

/// The execution-name prefix the trigger gives a run after the ALB created an interface.
pub const CREATED_RUN_PREFIX: &str = "eni-created-";
/// How long such a run waits for the new interface, from its start: DNS and the attachment lag the creation.
pub const SETTLE_WINDOW_SECS: u64 = 60;

/// Whether a run after an interface creation should look again before planning, and why: an interface is
/// not in use yet (or none is visible, EC2 being eventually consistent), or, without early registration, an
/// in-use interface's address is neither answered by DNS nor registered.
pub fn settling(
    binding: &Binding,
    source: &EniSource,
    interfaces: &[Interface],
    resolved: &Resolved,
    registered: &[RegisteredTarget],
) -> Option<String> {
    if interfaces.is_empty() {
        return Some(format!("no interface described `{}` is visible yet", source.description()));
    }
    let in_use = interfaces.iter().filter(|i| i.in_use).count();
    if in_use < interfaces.len() {
        return Some(format!("{in_use} of the {} interfaces of the ALB are in use", interfaces.len()));
    }
    if source.register_early {
        return None;
    }
    // Registered in any state, draining included: such an address is not waiting to be registered.
    let on_port: BTreeSet<IpAddr> = registered.iter().filter(|t| t.port == binding.port).map(|t| t.ip).collect();
    let addresses = Addresses::of(binding, interfaces);
    addresses
        .in_use
        .keys()
        .find(|ip| !resolved.addresses.contains(ip) && !on_port.contains(ip))
        .map(|ip| format!("{ip} is on an interface in use but not in DNS yet"))
}

/// Rule 1, before planning: every answered address must be on one of the ALB's interfaces.
pub fn check_answer(source: &EniSource, resolved: &Resolved, addresses: &Addresses) -> Result<(), EniError> {
    match resolved.addresses.iter().find(|ip| !addresses.known.contains(ip)) {
        Some(address) => Err(EniError::NotAnInterface { address: *address, description: source.description() }),
        None => Ok(()),
    }
}

/// Rules 2 to 4, applied to the plan [`crate::plan::plan`] made from DNS alone. Pure; sorted outputs.
pub fn apply(
    binding: &Binding,
    source: &EniSource,
    mut plan: Plan,
    addresses: &Addresses,
    registered: &[RegisteredTarget],
    state: Option<&StateDocument>,
) -> Result<Plan, EniError> {
    let pending: BTreeMap<IpAddr, u32> = state.map(|s| s.pending.clone()).unwrap_or_default();
    // The plan's own clock, so the first-miss times and the slot agree with the DNS plan's.
    let now = parse_rfc3339_utc(&plan.now).ok_or_else(|| EniError::Clock(plan.now.clone()))?;
    let live: BTreeSet<IpAddr> = registered.iter().filter(|t| binding.is_live(t)).map(|t| t.ip).collect();
    // Rule 2: an in-use interface's address is kept, whatever DNS says, and its count starts over.
    plan.missing.retain(|m| !addresses.in_use.contains_key(&m.ip));
    // Rules 2 and 3 for addresses DNS was not asked about: the interfaces settle them without looking again.
    let unconfirmed = std::mem::take(&mut plan.unconfirmed);
    for ip in unconfirmed {
        if addresses.in_use.contains_key(&ip) {
            continue;
        } else if addresses.known.contains(&ip) {
            // An interface not in use (detaching): DNS's word decides, so look again as usual.
            plan.unconfirmed.push(ip);
        } else if live.contains(&ip) {
            let misses = pending.get(&ip).copied().unwrap_or(0);
            let first_missed_at = rfc3339_utc(state.map_or(now, |s| s.first_missed_secs(&ip, now)));
            plan.missing.push(Miss { ip, port: binding.port, misses, first_missed_at });
            // Settled now: its count is counted, not held.
            plan.held.retain(|h| h.ip != ip);
        } else {
            plan.forgotten.push(ip);
        }
    }
    // Rule 3: the ALB no longer has the address: its next count reaches the grace (the state machine adds one).
    for m in plan.missing.iter_mut().filter(|m| !addresses.known.contains(&m.ip)) {
        m.misses = m.misses.max(plan.grace_runs.saturating_sub(1));
    }
    // Rule 4: a node warming up, never registered nor answered before.
    if source.register_early {
        let answered_before: BTreeSet<IpAddr> = state.map(|s| s.active.iter().copied().collect()).unwrap_or_default();
        let planned: BTreeSet<IpAddr> = plan.register.iter().map(|t| t.ip).collect();
        for (ip, interface) in &addresses.in_use {
            let new = !live.contains(ip)
                && !planned.contains(ip)
                && !answered_before.contains(ip)
                && !pending.contains_key(ip)
                && !plan.active.contains(ip);
            if !new {
                continue;
            }
            if !binding.allows(ip) {
                return Err(EniError::Foreign { interface: interface.clone(), address: *ip });
            }
            plan.register.push(TargetSpec {
                ip: *ip,
                port: binding.port,
                availability_zone: binding.availability_zone_for(ip),
            });
        }
    }
    plan.missing.sort_unstable();
    // The ENI rules changed what is missing: the one-count-per-slot rule is applied to the final list.
    (plan.slot_counted, plan.carried, plan.counted_slot) = slot_fields(&plan.missing, plan.slot, state);
    plan.forgotten.sort_unstable();
    plan.forgotten.dedup();
    plan.unconfirmed.sort_unstable();
    plan.register.sort_by_key(|t| t.ip);
    let state_current = state.is_some_and(|s| {
        let saved: BTreeSet<&IpAddr> = s.active.iter().collect();
        saved.len() == plan.active.len() && plan.active.iter().all(|ip| saved.contains(ip))
    });
    plan.noop = plan.register.is_empty()
        && plan.unconfirmed.is_empty()
        && plan.missing.is_empty()
        && plan.returned.is_empty()
        && plan.forgotten.is_empty()
        && state_current
        // A count rule 2 dropped must be saved as dropped; with nothing missing, nothing may stay pending.
        && pending.is_empty();
    Ok(plan)
}

/// What an act-time check kept and what it left for a later run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recheck {
    /// The targets to act on.
    pub act: Vec<TargetSpec>,
    /// The addresses left alone, each with why.
    pub left: Vec<(IpAddr, String)>,
}

/// Register's own look at the interfaces, read just before RegisterTargets: only an address on an interface
/// in use *now* is registered. The plan's interfaces were read seconds earlier, by Diff; an interface deleted
/// (or detached) since then belongs to no node, so its address is left out, named, for a later run to judge.
pub fn registrable(targets: Vec<TargetSpec>, addresses: &Addresses) -> Recheck {
    let mut out = Recheck::default();
    for t in targets {
        if addresses.in_use.contains_key(&t.ip) {
            out.act.push(t);
        } else if addresses.known.contains(&t.ip) {
            out.left.push((t.ip, "its interface is no longer in use".into()));
        } else {
            out.left.push((t.ip, "it is on none of the ALB's interfaces any more".into()));
        }
    }
    out
}

/// Deregister's own look at the interfaces, read just before DeregisterTargets (rule 2 at the moment of
/// acting): an address on an interface in use *now* is never removed. Since Diff read the interfaces, a
/// subnet may have given a freed address to a new node's interface; removing it would remove that node.
pub fn removable(targets: Vec<TargetSpec>, addresses: &Addresses) -> Recheck {
    let mut out = Recheck::default();
    for t in targets {
        match addresses.in_use.get(&t.ip) {
            Some(interface) => out.left.push((t.ip, format!("it is on interface {interface}, in use"))),
            None => out.act.push(t),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Strategy;
    use crate::evidence::Resolution;
    use crate::plan::{count_grace, plan as make_plan};
    use crate::target::HealthState;
    use crate::testing::binding;
    use proptest::prelude::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 1, last])
    }

    fn source(early: bool) -> EniSource {
        EniSource {
            load_balancer_name: "web".into(),
            load_balancer_id: "50dc6c495c0c9188".into(),
            register_early: early,
        }
    }

    fn answer(ips: &[u8], strategy: Strategy) -> Resolved {
        Resolved {
            addresses: ips.iter().map(|i| ip(*i)).collect(),
            strategy,
            queries: 1,
            sought: BTreeSet::new(),
            confirmed: BTreeSet::new(),
            // `all` here stands for a whole answer; a sampled one settles nothing by itself.
            resolution: Resolution {
                complete: strategy == Strategy::All,
                independent_answers: 1,
                ..Resolution::default()
            },
        }
    }

    /// The plans' clock (unix seconds).
    const NOW: u64 = 1_800_000_000;

    fn interfaces(in_use: &[u8], other: &[u8]) -> Addresses {
        let mut list: Vec<Interface> = in_use
            .iter()
            .map(|i| Interface { id: format!("eni-{i}"), in_use: true, addresses: vec![ip(*i)] })
            .collect();
        list.extend(other.iter().map(|i| Interface { id: format!("eni-{i}"), in_use: false, addresses: vec![ip(*i)] }));
        Addresses::of(&binding(), &list)
    }

    fn reg(ips: &[u8]) -> Vec<RegisteredTarget> {
        ips.iter()
            .map(|i| RegisteredTarget { ip: ip(*i), port: 443, state: HealthState::Healthy, availability_zone: None })
            .collect()
    }

    fn doc(active: &[u8], pending: &[(u8, u32)]) -> StateDocument {
        StateDocument::new(
            &binding(),
            active.iter().map(|i| ip(*i)).collect(),
            pending.iter().map(|(i, m)| (ip(*i), *m)).collect(),
            "t".into(),
            "x".into(),
        )
    }

    fn run(
        early: bool,
        dns: &Resolved,
        addrs: &Addresses,
        registered: &[RegisteredTarget],
        state: Option<&StateDocument>,
    ) -> Plan {
        let b = binding();
        let p = make_plan(&b, dns, registered, state, NOW);
        apply(&b, &source(early), p, addrs, registered, state).expect("rules")
    }

    #[test]
    fn the_binding_takes_an_arn_or_a_name_and_id_and_names_a_bad_field() {
        let arn = r#"{"loadBalancerArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"}"#;
        let s: EniSource = serde_json::from_str(arn).expect("arn");
        assert_eq!(s.description(), "ELB app/web/50dc6c495c0c9188");
        assert!(s.register_early, "documented default");
        let s: EniSource = serde_json::from_str(
            r#"{"loadBalancerName":"web","loadBalancerId":"50dc6c495c0c9188","registerEarly":false}"#,
        )
        .expect("name + id");
        assert!(!s.register_early);
        let nlb = r#"{"loadBalancerArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/web/50dc6c495c0c9188"}"#;
        let e = serde_json::from_str::<EniSource>(nlb).expect_err("an NLB");
        assert!(e.to_string().contains("eni.loadBalancerArn"), "{e}");
        let e = serde_json::from_str::<EniSource>(r#"{"loadBalancerName":"web"}"#).expect_err("no id");
        assert!(e.to_string().contains("binding field `eni`"), "{e}");
        let e = serde_json::from_str::<EniSource>(r#"{"loadBalancerName":"-web","loadBalancerId":"ab"}"#)
            .expect_err("name");
        assert!(e.to_string().contains("eni.loadBalancerName"), "{e}");
    }

    #[test]
    fn an_answered_address_on_no_interface_is_refused() {
        let e = check_answer(&source(true), &answer(&[1, 9], Strategy::All), &interfaces(&[1, 2], &[])).expect_err("9");
        assert_eq!(e, EniError::NotAnInterface { address: ip(9), description: "ELB app/web/50dc6c495c0c9188".into() });
        check_answer(&source(true), &answer(&[1], Strategy::All), &interfaces(&[1], &[3])).expect("1 is the ALB's");
    }

    #[test]
    fn an_in_use_interface_absent_from_dns_is_kept_and_its_count_starts_over() {
        let dns = answer(&[1], Strategy::All);
        let p = run(true, &dns, &interfaces(&[1, 2], &[]), &reg(&[1, 2]), Some(&doc(&[1], &[(2, 2)])));
        assert!(p.missing.is_empty(), "{p:?}");
        assert!(!p.noop, "the dropped count must be saved");
        // Next run, with the count gone: nothing to do, and still nothing counted.
        let p = run(true, &dns, &interfaces(&[1, 2], &[]), &reg(&[1, 2]), Some(&doc(&[1], &[])));
        assert!(p.noop && p.missing.is_empty(), "{p:?}");
        // Sampling that did not look for 2: no need to look again, the interface settles it.
        let p = run(
            true,
            &answer(&[1], Strategy::Sampled),
            &interfaces(&[1, 2], &[]),
            &reg(&[1, 2]),
            Some(&doc(&[1], &[])),
        );
        assert!(p.unconfirmed.is_empty() && p.missing.is_empty() && p.noop, "{p:?}");
    }

    #[test]
    fn an_address_whose_interface_is_gone_needs_no_more_looks_only_the_time_grace() {
        let b = binding();
        let dns = answer(&[1], Strategy::All);
        // First missed just now: the count is at the grace at once, the time rule still holds it.
        let p = run(true, &dns, &interfaces(&[1], &[]), &reg(&[1, 2]), Some(&doc(&[1, 2], &[])));
        assert_eq!(p.missing.len(), 1);
        let counted = count_grace(&p);
        assert!(counted[0].misses >= b.grace_runs && !counted[0].expired, "{counted:?}");
        // First missed longer than graceSeconds ago: it goes now, without the rest of the looks.
        let mut old = doc(&[1, 2], &[(2, 1)]);
        old.first_missed.insert(ip(2), rfc3339_utc(NOW - u64::from(b.grace_seconds)));
        let p = run(true, &dns, &interfaces(&[1], &[]), &reg(&[1, 2]), Some(&old));
        assert!(count_grace(&p)[0].expired, "{p:?}");
        // Also when sampling did not look for it: the interfaces are a complete list.
        let p = run(true, &answer(&[1], Strategy::Sampled), &interfaces(&[1], &[]), &reg(&[1, 2]), Some(&old));
        assert!(p.unconfirmed.is_empty() && p.held.is_empty(), "{p:?}");
        assert!(count_grace(&p)[0].expired);
    }

    #[test]
    fn a_new_interface_is_registered_early_only_when_asked_and_only_once_new() {
        let dns = answer(&[1], Strategy::All);
        let p = run(true, &dns, &interfaces(&[1, 3], &[]), &reg(&[1]), Some(&doc(&[1], &[])));
        assert_eq!(p.register.iter().map(|t| t.ip).collect::<Vec<_>>(), vec![ip(3)]);
        assert!(!p.noop);
        let p = run(false, &dns, &interfaces(&[1, 3], &[]), &reg(&[1]), Some(&doc(&[1], &[])));
        assert!(p.register.is_empty() && p.noop, "{p:?}");
        // A draining node: answered last run, no longer: never registered again by this rule.
        let p = run(true, &dns, &interfaces(&[1, 3], &[]), &reg(&[1]), Some(&doc(&[1, 3], &[])));
        assert!(p.register.is_empty(), "{p:?}");
    }

    #[test]
    fn a_run_after_a_creation_waits_for_the_interface_and_without_early_registration_for_dns() {
        let b = binding();
        let iface = |i: u8, in_use: bool| Interface { id: format!("eni-{i}"), in_use, addresses: vec![ip(i)] };
        let dns = answer(&[1], Strategy::All);
        assert!(settling(&b, &source(true), &[], &dns, &[]).is_some(), "none visible");
        assert!(settling(&b, &source(true), &[iface(1, true), iface(2, false)], &dns, &reg(&[1])).is_some());
        assert_eq!(settling(&b, &source(true), &[iface(1, true), iface(2, true)], &dns, &reg(&[1])), None);
        let why = settling(&b, &source(false), &[iface(1, true), iface(2, true)], &dns, &reg(&[1])).expect("dns lags");
        assert!(why.contains("10.0.1.2"), "{why}");
        // A draining node (registered, out of DNS) is nothing to wait for.
        assert_eq!(settling(&b, &source(false), &[iface(1, true), iface(2, true)], &dns, &reg(&[1, 2])), None);
    }

    fn spec(i: u8) -> TargetSpec {
        TargetSpec { ip: ip(i), port: 443, availability_zone: None }
    }

    #[test]
    fn register_leaves_out_an_address_whose_interface_went_since_the_diff_and_names_why() {
        // 1 in use, 2 detached (still described), 3 deleted.
        let r = registrable(vec![spec(1), spec(2), spec(3)], &interfaces(&[1], &[2]));
        assert_eq!(r.act, vec![spec(1)]);
        let left: Vec<IpAddr> = r.left.iter().map(|(ip, _)| *ip).collect();
        assert_eq!(left, vec![ip(2), ip(3)]);
        assert!(r.left[0].1.contains("no longer in use") && r.left[1].1.contains("none of the ALB's"), "{r:?}");
    }

    #[test]
    fn deregister_spares_an_address_a_new_interface_took_since_the_diff() {
        // 4 expired on an interface that was deleted; a new node's interface took the address since.
        let r = removable(vec![spec(4), spec(5)], &interfaces(&[4], &[5]));
        assert_eq!(r.act, vec![spec(5)], "5's interface is not in use: removable");
        assert_eq!(r.left.len(), 1);
        assert_eq!(r.left[0].0, ip(4));
        assert!(r.left[0].1.contains("eni-4"), "names the interface: {r:?}");
    }

    proptest! {
        #[test]
        fn act_time_checks_never_remove_an_in_use_address_nor_register_one_off_the_interfaces(
            targets in proptest::collection::btree_set(0u8..20, 0..12),
            in_use in proptest::collection::btree_set(0u8..20, 0..10),
            detached in proptest::collection::btree_set(0u8..20, 0..10),
        ) {
            let detached: Vec<u8> = detached.difference(&in_use).copied().collect();
            let addrs = interfaces(&in_use.iter().copied().collect::<Vec<_>>(), &detached);
            let specs: Vec<TargetSpec> = targets.iter().map(|i| spec(*i)).collect();
            for check in [registrable, removable] {
                let r = check(specs.clone(), &addrs);
                // Nothing lost, nothing invented.
                let mut seen: Vec<IpAddr> = r.act.iter().map(|t| t.ip).chain(r.left.iter().map(|(ip, _)| *ip)).collect();
                seen.sort_unstable();
                prop_assert_eq!(seen, specs.iter().map(|t| t.ip).collect::<Vec<_>>());
            }
            for t in registrable(specs.clone(), &addrs).act {
                prop_assert!(addrs.in_use.contains_key(&t.ip), "{} registered off the in-use interfaces", t.ip);
            }
            for t in removable(specs, &addrs).act {
                prop_assert!(!addrs.in_use.contains_key(&t.ip), "{} removed though in use", t.ip);
            }
        }

        #[test]
        fn no_in_use_address_is_ever_counted_and_nothing_off_the_interfaces_is_registered(
            dns in proptest::collection::btree_set(0u8..20, 1..8),
            in_use in proptest::collection::btree_set(0u8..20, 0..10),
            regd in proptest::collection::btree_set(0u8..20, 0..10),
            pend in proptest::collection::vec((0u8..20, 1u32..4), 0..6),
            early in any::<bool>(),
            sampled in any::<bool>(),
        ) {
            // DNS only ever answers the ALB's addresses here (others are refused before planning).
            let in_use: BTreeSet<u8> = in_use.union(&dns).copied().collect();
            let addrs = interfaces(&in_use.iter().copied().collect::<Vec<_>>(), &[]);
            let dns_list: Vec<u8> = dns.iter().copied().collect();
            let r = answer(&dns_list, if sampled { Strategy::Sampled } else { Strategy::All });
            let regd: Vec<u8> = regd.into_iter().collect();
            let registered = reg(&regd);
            let state = doc(&dns_list, &pend);
            let p = run(early, &r, &addrs, &registered, Some(&state));
            for m in &p.missing {
                prop_assert!(!addrs.in_use.contains_key(&m.ip), "{} is in use but counted", m.ip);
            }
            for t in &p.register {
                prop_assert!(addrs.in_use.contains_key(&t.ip), "{} is not on an interface", t.ip);
            }
            let expired = count_grace(&p);
            for c in expired.iter().filter(|c| c.expired) {
                prop_assert!(!r.addresses.contains(&c.ip));
            }
        }
    }
}
