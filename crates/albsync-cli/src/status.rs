//! `status`: DNS, the target group and the state document side by side, per address, and whether they agree.
//! Pure: built from what [`crate::world`] read, rendered as text or serialized (schemas/status.schema.json).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use albsync_core::Binding;
use albsync_core::events::{Resolved, Strategy};
use albsync_core::metrics::{Metric, plan_figures};
use albsync_core::plan::plan;
use albsync_core::state::rfc3339_utc;
use albsync_core::target::RegisteredTarget;
use schemars::JsonSchema;
use serde::Serialize;

use crate::style::{BAD, GOOD, NOTE, paint, table};
use crate::world::{Saved, Stored};

/// What DNS answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct DnsView {
    /// Every address seen, sorted; empty when DNS failed.
    pub addresses: Vec<IpAddr>,
    /// `all` (complete answer of `all.<name>`) or `sampled`; `None` when DNS failed.
    pub strategy: Option<Strategy>,
    /// Queries sent.
    pub queries: u32,
    /// Why DNS gave no usable answer, if it did not.
    pub error: Option<String>,
    /// How far the answers can be trusted (cached, complete, why all. was not used); `None` when DNS failed.
    pub resolution: Option<albsync_core::Resolution>,
}

/// A target in the target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// ELB health state (`healthy`, `draining`, ...).
    pub health: String,
    /// On the binding's port (targets on other ports are not albsync's).
    pub ours: bool,
}

/// The state document, if there is a valid one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct StateView {
    /// DNS's addresses in the run that wrote it.
    pub active: Vec<IpAddr>,
    /// Misses per missing address.
    pub pending: std::collections::BTreeMap<IpAddr, u32>,
    /// When.
    pub written_at: String,
    /// By which execution.
    pub written_by: String,
}

/// One address, side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The address.
    pub ip: IpAddr,
    /// DNS answers it now.
    pub in_dns: bool,
    /// Its health in the target group on the binding's port; `None`: not registered.
    pub target_health: Option<String>,
    /// The state lists it as active.
    pub state_active: bool,
    /// The state's count of consecutive misses.
    pub pending_misses: Option<u32>,
    /// DNS, target group and state agree about it.
    pub agree: bool,
    /// In words.
    pub note: String,
}

/// The in-sync figures a run's diff would report now, as its EMF metric lines carry them: computed by the
/// diff's own functions (`plan::plan`, then `metrics::plan_figures`), never re-derived here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// `ResolvedAddresses`: addresses DNS answered.
    pub resolved_addresses: u64,
    /// `RegisteredTargets`: targets on the binding's port that count as registered (draining excluded).
    pub registered_targets: u64,
    /// `HealthyTargets`: of those, the ones the target group reports healthy.
    pub healthy_targets: u64,
    /// `PendingAddresses`: registered addresses that would count towards removal after a run now.
    pub pending_addresses: u64,
    /// `MaxPendingMisses`: the highest miss count among them after a run now (0: none).
    pub max_pending_misses: u64,
    /// `Drift`: answered but not registered, plus registered but not answered (0: in sync).
    pub drift: u64,
    /// When the figures last said in sync, as far as this look can tell: now when `drift` is 0, else `None`
    /// (the dashboard's `Drift` graph says since when).
    pub last_in_sync: Option<String>,
    /// The binding has an ENI source, whose rules the diff applies on top (an in-use interface is never
    /// pending; an early registration is no drift): these DNS-only figures may then show more than the
    /// metrics do.
    pub eni_rules_not_applied: bool,
}

impl Figures {
    fn compute(binding: &Binding, resolved: &Resolved, stored: &Stored, now: u64) -> Figures {
        let state = match &stored.saved {
            Saved::Found(doc) => Some(doc),
            Saved::Absent | Saved::Invalid(_) => None,
        };
        let p = plan(binding, resolved, &stored.registered, state, now);
        let mut f = Figures {
            resolved_addresses: u64::try_from(resolved.addresses.len()).unwrap_or(u64::MAX),
            registered_targets: 0,
            healthy_targets: 0,
            pending_addresses: 0,
            max_pending_misses: 0,
            drift: 0,
            last_in_sync: None,
            eni_rules_not_applied: binding.eni.is_some(),
        };
        for (metric, value) in plan_figures(&p, &stored.registered, binding.port) {
            let slot = match metric {
                Metric::ResolvedAddresses => &mut f.resolved_addresses,
                Metric::RegisteredTargets => &mut f.registered_targets,
                Metric::HealthyTargets => &mut f.healthy_targets,
                Metric::PendingAddresses => &mut f.pending_addresses,
                Metric::MaxPendingMisses => &mut f.max_pending_misses,
                Metric::Drift => &mut f.drift,
            };
            *slot = value;
        }
        if f.drift == 0 {
            f.last_in_sync = Some(rfc3339_utc(now));
        }
        f
    }
}

/// The `status` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Status {
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
    /// State bucket.
    pub state_bucket: String,
    /// State key.
    pub state_key: String,
    /// DNS now.
    pub dns: DnsView,
    /// Every target in the target group.
    pub targets: Vec<TargetView>,
    /// The state document; `None` if absent or invalid.
    pub state: Option<StateView>,
    /// Why the state document is unusable, if it is.
    pub state_error: Option<String>,
    /// Per address on the binding's port.
    pub addresses: Vec<Row>,
    /// Everything agrees.
    pub in_sync: bool,
    /// The in-sync metrics as a run now would report them; `None` when DNS gave no answer.
    pub figures: Option<Figures>,
}

fn health(t: &RegisteredTarget) -> String {
    // The API's spelling, from the serde form (`unhealthyDraining` -> `unhealthy.draining`).
    let camel = serde_json::to_value(t.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    match camel.as_str() {
        "unhealthyDraining" => "unhealthy.draining".to_owned(),
        other => other.to_owned(),
    }
}

impl Status {
    /// Puts the three views side by side; `now` (unix seconds) is the time the figures are computed for.
    pub fn build(binding: &Binding, dns: Result<&Resolved, String>, stored: &Stored, now: u64) -> Status {
        let figures = dns.as_ref().ok().map(|r| Figures::compute(binding, r, stored, now));
        let dns_view = match &dns {
            Ok(r) => DnsView {
                addresses: r.addresses.iter().copied().collect(),
                strategy: Some(r.strategy),
                queries: r.queries,
                error: None,
                resolution: Some(r.resolution.clone()),
            },
            Err(e) => {
                DnsView { addresses: Vec::new(), strategy: None, queries: 0, error: Some(e.clone()), resolution: None }
            }
        };
        let (state, state_error) = match &stored.saved {
            Saved::Absent => (None, None),
            Saved::Invalid(e) => (None, Some(e.clone())),
            Saved::Found(doc) => (
                Some(StateView {
                    active: doc.active.clone(),
                    pending: doc.pending.clone(),
                    written_at: doc.written_at.clone(),
                    written_by: doc.written_by.clone(),
                }),
                None,
            ),
        };
        let ours: Vec<&RegisteredTarget> = stored.registered.iter().filter(|t| t.port == binding.port).collect();
        let mut ips: BTreeSet<IpAddr> = dns_view.addresses.iter().copied().collect();
        ips.extend(ours.iter().map(|t| t.ip));
        if let Some(s) = &state {
            ips.extend(s.active.iter().copied());
            ips.extend(s.pending.keys().copied());
        }
        let dns_ok = dns_view.error.is_none();
        let addresses: Vec<Row> = ips
            .into_iter()
            .map(|ip| {
                let target = ours.iter().find(|t| t.ip == ip);
                let in_dns = dns_view.addresses.contains(&ip);
                let state_active = state.as_ref().is_some_and(|s| s.active.contains(&ip));
                let pending_misses = state.as_ref().and_then(|s| s.pending.get(&ip).copied());
                let live = target.is_some_and(|t| !t.state.is_leaving());
                // A target outside allowedCidrs was registered by someone else: albsync reports it and leaves it.
                let (agree, note) = if live && !in_dns && !binding.allows(&ip) {
                    (true, "foreign: outside allowedCidrs, not albsync's; left alone".to_owned())
                } else {
                    judge(in_dns, dns_ok, target.is_some(), live, state_active, pending_misses, binding.grace_runs)
                };
                Row { ip, in_dns, target_health: target.map(|t| health(t)), state_active, pending_misses, agree, note }
            })
            .collect();
        let in_sync = dns_ok && state_error.is_none() && state.is_some() && addresses.iter().all(|r| r.agree);
        Status {
            binding: binding.name.clone(),
            dns_name: binding.dns_name.clone(),
            target_group_arn: binding.target_group_arn.as_str().to_owned(),
            port: binding.port,
            grace_runs: binding.grace_runs,
            state_bucket: stored.bucket.clone(),
            state_key: stored.key.clone(),
            dns: dns_view,
            targets: stored
                .registered
                .iter()
                .map(|t| TargetView { ip: t.ip, port: t.port, health: health(t), ours: t.port == binding.port })
                .collect(),
            state,
            state_error,
            addresses,
            in_sync,
            figures,
        }
    }

    /// The text form.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let tg = self.target_group_arn.rsplit(':').next().unwrap_or(&self.target_group_arn);
        let _ = writeln!(
            out,
            "binding  {}: {} -> {tg} port {}, grace {} runs",
            self.binding, self.dns_name, self.port, self.grace_runs
        );
        match (&self.dns.error, self.dns.strategy) {
            (Some(e), _) => {
                let _ = writeln!(out, "DNS      {}: {e}", paint(BAD, "no answer"));
            }
            (None, strategy) => {
                let how = match strategy {
                    Some(Strategy::All) => "complete answer of all.",
                    _ => "sampled",
                };
                let _ = writeln!(
                    out,
                    "DNS      {} addresses ({how}, {} queries)",
                    self.dns.addresses.len(),
                    self.dns.queries
                );
                if let Some(r) = &self.dns.resolution {
                    let cached = if r.cached { ", cached (repeats counted once)" } else { "" };
                    let complete = if r.complete { ", complete" } else { "" };
                    let plural = if r.independent_answers == 1 { "" } else { "s" };
                    let _ = writeln!(
                        out,
                        "         {} independent answer{plural}{cached}{complete}",
                        r.independent_answers
                    );
                    if let Some(reason) = &r.fallback {
                        let _ = writeln!(out, "         all. not used: {reason}");
                    }
                }
            }
        }
        let location = format!("s3://{}/{}", self.state_bucket, self.state_key);
        match (&self.state, &self.state_error) {
            (Some(s), _) => {
                let _ = writeln!(out, "state    {location}, written {} by {}", s.written_at, s.written_by);
            }
            (None, Some(e)) => {
                let _ = writeln!(out, "state    {}: {e}", paint(BAD, "INVALID"));
            }
            (None, None) => {
                let _ = writeln!(out, "state    {location}: none yet (no run has saved one)");
            }
        }
        let _ = writeln!(out);
        let rows = self.addresses.iter().map(|r| {
            let state = match (r.state_active, r.pending_misses) {
                (_, Some(m)) => format!("pending {m}/{}", self.grace_runs),
                (true, None) => "active".to_owned(),
                (false, None) => "-".to_owned(),
            };
            let note = if r.agree { r.note.clone() } else { paint(NOTE, &r.note) };
            vec![
                r.ip.to_string(),
                if r.in_dns { "yes" } else { "-" }.to_owned(),
                r.target_health.clone().unwrap_or_else(|| "-".to_owned()),
                state,
                if r.agree { "yes" } else { "NO" }.to_owned(),
                note,
            ]
        });
        out.push_str(&table(&["address", "DNS", "target group", "state", "agree", "note"], &[], rows));
        let others: Vec<String> =
            self.targets.iter().filter(|t| !t.ours).map(|t| format!("{}:{}", t.ip, t.port)).collect();
        if !others.is_empty() {
            let _ = writeln!(out, "  (other ports, not albsync's: {})", others.join(" "));
        }
        let _ = writeln!(out);
        if let Some(f) = &self.figures {
            let _ = writeln!(
                out,
                "metrics  resolved {}, registered {}, healthy {}, pending {} (highest misses {}), drift {}",
                f.resolved_addresses,
                f.registered_targets,
                f.healthy_targets,
                f.pending_addresses,
                f.max_pending_misses,
                f.drift
            );
            let last = match &f.last_in_sync {
                Some(at) => format!("{at} (now: drift 0)"),
                None => "not now (drift > 0); the Drift metric says since when".to_owned(),
            };
            let _ = writeln!(out, "         last in sync: {last}");
            if f.eni_rules_not_applied {
                let _ = writeln!(
                    out,
                    "         from DNS alone: the diff also applies the ENI rules, so its pending and drift may be lower"
                );
            }
        }
        let disagree = self.addresses.iter().filter(|r| !r.agree).count();
        if self.in_sync {
            let _ = writeln!(
                out,
                "{}: DNS, the target group and the state agree on {} addresses",
                paint(GOOD, "IN SYNC"),
                self.addresses.len()
            );
        } else {
            let _ = writeln!(
                out,
                "{}: {disagree} of {} addresses disagree{}",
                paint(BAD, "NOT IN SYNC"),
                self.addresses.len(),
                match (&self.state, &self.state_error) {
                    (None, None) => "; no state document yet",
                    (None, Some(_)) => "; the state document is invalid",
                    _ => "",
                }
            );
        }
        out
    }
}

fn judge(
    in_dns: bool,
    dns_ok: bool,
    registered: bool,
    live: bool,
    state_active: bool,
    pending: Option<u32>,
    grace: u32,
) -> (bool, String) {
    if !dns_ok {
        return (false, "unknown: DNS gave no answer".to_owned());
    }
    let note = match (in_dns, registered, live) {
        (true, true, true) => match (state_active, pending) {
            (_, Some(m)) => format!("back in DNS; the next run drops its count of {m}"),
            (true, None) => return (true, "in sync".to_owned()),
            (false, None) => "answered and registered; the state does not list it yet".to_owned(),
        },
        (true, true, false) => "DNS answers it but the target is draining; the next run registers it again".to_owned(),
        (true, false, _) => "DNS answers it; not registered yet (the next run registers it)".to_owned(),
        (false, true, true) => match pending {
            Some(m) if m >= grace => format!("not in DNS; missed {m} of {grace} runs, due for deregistration"),
            Some(m) => format!("not in DNS; missed {m} of {grace} runs"),
            None => "not in DNS; the next run starts counting".to_owned(),
        },
        (false, true, false) => "not in DNS; draining out of the target group".to_owned(),
        (false, false, _) => match (state_active, pending) {
            (_, Some(_)) => {
                "pending in the state, gone from DNS and the target group (the next run forgets it)".to_owned()
            }
            _ => "listed active in the state; DNS no longer answers it".to_owned(),
        },
    };
    (false, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use albsync_core::target::HealthState;

    /// The text as a pipe or file receives it (anstream strips the colour there).
    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    /// The figures' clock (unix seconds).
    const NOW: u64 = 1_795_608_000;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

    fn binding() -> Binding {
        Binding::from_json(&format!(
            r#"{{"name":"web","dnsName":"alb.test","port":443,"targetGroupArn":"{ARN}","vpcCidrs":[]}}"#
        ))
        .expect("binding")
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 1, last])
    }

    fn resolved(ips: &[u8]) -> Resolved {
        Resolved {
            addresses: ips.iter().map(|i| ip(*i)).collect(),
            strategy: Strategy::Sampled,
            queries: 12,
            sought: BTreeSet::new(),
            confirmed: BTreeSet::new(),
            resolution: Default::default(),
        }
    }

    fn stored(targets: &[(u8, u16, HealthState)], active: &[u8], pending: &[(u8, u32)]) -> Stored {
        let b = binding();
        let doc = albsync_core::StateDocument::new(
            &b,
            active.iter().map(|i| ip(*i)).collect(),
            pending.iter().map(|(i, m)| (ip(*i), *m)).collect(),
            "2026-11-26T00:00:00Z".into(),
            "arn:run".into(),
        );
        Stored {
            registered: targets
                .iter()
                .map(|(i, port, state)| RegisteredTarget {
                    ip: ip(*i),
                    port: *port,
                    state: *state,
                    availability_zone: None,
                })
                .collect(),
            saved: Saved::Found(doc),
            bucket: "albsync-state".into(),
            key: "albsync/k.json".into(),
        }
    }

    #[test]
    fn agreement_everywhere_is_in_sync() {
        let s = Status::build(
            &binding(),
            Ok(&resolved(&[1, 2])),
            &stored(&[(1, 443, HealthState::Healthy), (2, 443, HealthState::Healthy)], &[1, 2], &[]),
            NOW,
        );
        assert!(s.in_sync);
        assert!(s.addresses.iter().all(|r| r.agree && r.note == "in sync"));
        assert!(plain(&s.text()).contains("IN SYNC: DNS, the target group and the state agree on 2 addresses"));
    }

    #[test]
    fn a_foreign_target_on_the_port_is_named_and_does_not_break_the_sync() {
        let mut st = stored(&[(1, 443, HealthState::Healthy)], &[1], &[]);
        st.registered.push(RegisteredTarget {
            ip: "192.168.7.7".parse().expect("ip"),
            port: 443,
            state: HealthState::Healthy,
            availability_zone: Some("all".into()),
        });
        let mut b = binding();
        b.allowed_cidrs = vec!["10.0.0.0/8".parse().expect("cidr")];
        let s = Status::build(&b, Ok(&resolved(&[1])), &st, NOW);
        let row = s.addresses.iter().find(|r| r.ip.to_string() == "192.168.7.7").expect("listed");
        assert!(row.agree && row.note.starts_with("foreign"), "{}", row.note);
        assert!(s.in_sync, "someone else's target is no disagreement of albsync's");
    }

    #[test]
    fn each_kind_of_disagreement_is_explained() {
        let s = Status::build(
            &binding(),
            Ok(&resolved(&[1, 3])),
            &stored(
                &[(1, 443, HealthState::Healthy), (2, 443, HealthState::Healthy), (9, 80, HealthState::Healthy)],
                &[1, 2],
                &[(2, 1)],
            ),
            NOW,
        );
        assert!(!s.in_sync);
        let notes: Vec<(&str, bool)> = s.addresses.iter().map(|r| (r.note.as_str(), r.agree)).collect();
        assert_eq!(
            notes,
            [
                ("in sync", true),
                ("not in DNS; missed 1 of 3 runs", false),
                ("DNS answers it; not registered yet (the next run registers it)", false),
            ]
        );
        let text = plain(&s.text());
        assert!(text.contains("(other ports, not albsync's: 10.0.1.9:80)"), "{text}");
        assert!(text.contains("NOT IN SYNC: 2 of 3 addresses disagree"), "{text}");
        let row = text.lines().find(|l| l.trim_start().starts_with("10.0.1.2 ")).expect("row");
        assert!(row.contains("healthy") && row.contains("pending 1/3") && row.contains("NO"), "{row}");
    }

    #[test]
    fn a_dns_failure_still_shows_the_target_group_and_state() {
        let s = Status::build(
            &binding(),
            Err("alb.test: the name server answered SERVFAIL".into()),
            &stored(&[(1, 443, HealthState::Draining)], &[1], &[]),
            NOW,
        );
        assert!(!s.in_sync);
        assert_eq!(s.addresses[0].target_health.as_deref(), Some("draining"));
        assert!(plain(&s.text()).contains("DNS      no answer: alb.test: the name server answered SERVFAIL"));
    }

    #[test]
    fn a_long_health_state_widens_its_column_instead_of_pushing_the_others() {
        let s = Status::build(
            &binding(),
            Ok(&resolved(&[1, 2])),
            &stored(&[(1, 443, HealthState::UnhealthyDraining), (2, 443, HealthState::Healthy)], &[1, 2], &[]),
            NOW,
        );
        let text = plain(&s.text());
        let header = text.lines().find(|l| l.trim_start().starts_with("address")).expect("header");
        let column = header.find("state").expect("state column");
        for ip in ["10.0.1.1 ", "10.0.1.2 "] {
            let row = text.lines().find(|l| l.trim_start().starts_with(ip)).expect("row");
            assert_eq!(row.get(column..column + 6), Some("active"), "misaligned:\n{header}\n{row}");
        }
        assert!(text.contains("unhealthy.draining"), "{text}");
    }

    #[test]
    fn the_figures_are_the_metrics_a_run_now_would_write() {
        let mut dns = resolved(&[1, 3, 4]);
        dns.strategy = Strategy::All;
        dns.resolution.complete = true;
        let st = stored(
            &[(1, 443, HealthState::Healthy), (2, 443, HealthState::Healthy), (4, 443, HealthState::Initial)],
            &[1, 2, 4],
            &[(2, 1)],
        );
        let f = Status::build(&binding(), Ok(&dns), &st, NOW).figures.expect("DNS answered");
        // 2 is missing for the second time, 3 is to be registered: drift 2; 4 is registered but still initial.
        assert_eq!(
            (f.resolved_addresses, f.registered_targets, f.healthy_targets, f.pending_addresses, f.max_pending_misses),
            (3, 3, 2, 1, 2)
        );
        assert_eq!((f.drift, f.last_in_sync.as_deref(), f.eni_rules_not_applied), (2, None, false));
        let text = plain(&Status::build(&binding(), Ok(&dns), &st, NOW).text());
        assert!(
            text.contains("metrics  resolved 3, registered 3, healthy 2, pending 1 (highest misses 2), drift 2"),
            "{text}"
        );
        assert!(text.contains("last in sync: not now"), "{text}");

        let mut dns = resolved(&[1, 2]);
        dns.strategy = Strategy::All;
        dns.resolution.complete = true;
        let st = stored(&[(1, 443, HealthState::Healthy), (2, 443, HealthState::Healthy)], &[1, 2], &[]);
        let s = Status::build(&binding(), Ok(&dns), &st, NOW);
        let f = s.figures.clone().expect("DNS answered");
        assert_eq!((f.drift, f.pending_addresses, f.healthy_targets), (0, 0, 2));
        assert_eq!(f.last_in_sync.as_deref(), Some("2026-11-25T12:00:00Z"));
        assert!(plain(&s.text()).contains("last in sync: 2026-11-25T12:00:00Z (now: drift 0)"));
    }

    #[test]
    fn no_figures_without_a_dns_answer() {
        let s = Status::build(
            &binding(),
            Err("SERVFAIL".into()),
            &stored(&[(1, 443, HealthState::Healthy)], &[1], &[]),
            NOW,
        );
        assert_eq!(s.figures, None);
        assert!(!plain(&s.text()).contains("metrics "));
    }
}
