//! `status`: DNS, the target group and the state document side by side, per address, and whether they agree.
//! Pure: built from what [`crate::world`] read, rendered as text or serialized (schemas/status.schema.json).
//! Also the binding header and DNS line that `plan` ([`crate::preview`]) shares.

use std::net::IpAddr;

use albsync_core::Binding;
use albsync_core::events::{Resolved, Strategy};
use albsync_core::metrics::{Metric, plan_figures};
use albsync_core::plan::plan;
use albsync_core::state::rfc3339_utc;
use albsync_core::target::RegisteredTarget;
use schemars::JsonSchema;
use serde::Serialize;

use crate::style::{BAD, GOOD, NOTE, paint, put, table, word};
use crate::world::{Saved, Stored};

/// The binding a document is about (the first fields of `status` and `plan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Header {
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
}

impl Header {
    /// The binding's.
    pub fn of(b: &Binding) -> Header {
        Header {
            binding: b.name.clone(),
            dns_name: b.dns_name.clone(),
            target_group_arn: b.target_group_arn.as_str().to_owned(),
            port: b.port,
            grace_runs: b.grace_runs,
        }
    }

    /// The first line of the text: `label`, the binding, the target group by its name, then `tail`.
    pub fn line(&self, label: &str, tail: &str) -> String {
        let tg = self.target_group_arn.rsplit(':').next().unwrap_or(&self.target_group_arn);
        let Header { binding, dns_name, port, grace_runs, .. } = self;
        format!("{label:<8} {binding}: {dns_name} -> {tg} port {port}, grace {grace_runs} runs{tail}\n")
    }
}

/// The DNS line of the text: how many addresses, how they were found.
pub fn dns_line(addresses: usize, strategy: Strategy, queries: u32, passes: u32) -> String {
    let how = if strategy == Strategy::All { "complete answer of all." } else { "sampled" };
    let passes = if passes > 1 { format!(" in {passes} passes") } else { String::new() };
    format!("DNS      {addresses} addresses ({how}, {queries} queries{passes})\n")
}

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
        let p = plan(binding, resolved, &stored.registered, stored.doc(), now);
        let figures = plan_figures(&p, &stored.registered, binding.port);
        let get = |m| figures.iter().find(|(k, _)| *k == m).map_or(0, |(_, v)| *v);
        let drift = get(Metric::Drift);
        Figures {
            resolved_addresses: u64::try_from(resolved.addresses.len()).unwrap_or(u64::MAX),
            registered_targets: get(Metric::RegisteredTargets),
            healthy_targets: get(Metric::HealthyTargets),
            pending_addresses: get(Metric::PendingAddresses),
            max_pending_misses: get(Metric::MaxPendingMisses),
            drift,
            last_in_sync: (drift == 0).then(|| rfc3339_utc(now)),
            eni_rules_not_applied: binding.eni.is_some(),
        }
    }
}

/// The `status` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The binding.
    #[serde(flatten)]
    pub header: Header,
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

/// The API's spelling, from the serde form (`unhealthyDraining` -> `unhealthy.draining`).
fn health(t: &RegisteredTarget) -> String {
    word(t.state).replace("unhealthyDraining", "unhealthy.draining")
}

impl Status {
    /// Puts the three views side by side; `now` (unix seconds) is the time the figures are computed for.
    pub fn build(binding: &Binding, dns: Result<&Resolved, String>, stored: &Stored, now: u64) -> Status {
        let answer = dns.as_ref().ok();
        let figures = answer.map(|r| Figures::compute(binding, r, stored, now));
        let dns = DnsView {
            addresses: answer.map(|r| r.addresses.iter().copied().collect()).unwrap_or_default(),
            strategy: answer.map(|r| r.strategy),
            queries: answer.map_or(0, |r| r.queries),
            resolution: answer.map(|r| r.resolution.clone()),
            error: dns.err(),
        };
        let state = stored.doc().map(|d| StateView {
            active: d.active.clone(),
            pending: d.pending.clone(),
            written_at: d.written_at.clone(),
            written_by: d.written_by.clone(),
        });
        let state_error = if let Saved::Invalid(e) = &stored.saved { Some(e.clone()) } else { None };
        let mut ips = stored.known(binding.port);
        ips.extend(&dns.addresses);
        let addresses: Vec<Row> = ips
            .into_iter()
            .map(|ip| {
                let target = stored.registered.iter().find(|t| t.ip == ip && t.port == binding.port);
                let in_dns = dns.addresses.contains(&ip);
                let state_active = state.as_ref().is_some_and(|s| s.active.contains(&ip));
                let pending_misses = state.as_ref().and_then(|s| s.pending.get(&ip).copied());
                let live = target.is_some_and(|t| binding.is_live(t));
                // A target outside allowedCidrs was registered by someone else: albsync reports it and leaves it.
                let (agree, note) = if live && !in_dns && !binding.allows(&ip) {
                    (true, "foreign: outside allowedCidrs, not albsync's; left alone".to_owned())
                } else if dns.error.is_some() {
                    (false, "unknown: DNS gave no answer".to_owned())
                } else {
                    judge(in_dns, target.is_some(), live, state_active, pending_misses, binding.grace_runs)
                };
                Row { ip, in_dns, target_health: target.map(health), state_active, pending_misses, agree, note }
            })
            .collect();
        let in_sync = dns.error.is_none() && state.is_some() && addresses.iter().all(|r| r.agree);
        Status {
            header: Header::of(binding),
            state_bucket: stored.bucket.clone(),
            state_key: stored.key.clone(),
            dns,
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
        let mut out = self.header.line("binding", "");
        match (&self.dns.error, &self.dns.resolution) {
            (Some(e), _) => put!(out, "DNS      {}: {e}", paint(BAD, "no answer")),
            (None, r) => {
                let strategy = self.dns.strategy.unwrap_or(Strategy::Sampled);
                out += &dns_line(self.dns.addresses.len(), strategy, self.dns.queries, 1);
                if let Some(r) = r {
                    let plural = if r.independent_answers == 1 { "" } else { "s" };
                    let cached = if r.cached { ", cached (repeats counted once)" } else { "" };
                    let complete = if r.complete { ", complete" } else { "" };
                    put!(out, "         {} independent answer{plural}{cached}{complete}", r.independent_answers);
                    if let Some(reason) = &r.fallback {
                        put!(out, "         all. not used: {reason}");
                    }
                }
            }
        }
        let location = format!("s3://{}/{}", self.state_bucket, self.state_key);
        match (&self.state, &self.state_error) {
            (Some(s), _) => put!(out, "state    {location}, written {} by {}", s.written_at, s.written_by),
            (None, Some(e)) => put!(out, "state    {}: {e}", paint(BAD, "INVALID")),
            (None, None) => put!(out, "state    {location}: none yet (no run has saved one)"),
        }
        let rows = self.addresses.iter().map(|r| {
            let state = match (r.state_active, r.pending_misses) {
                (_, Some(m)) => format!("pending {m}/{}", self.header.grace_runs),
                (true, None) => "active".to_owned(),
                (false, None) => "-".to_owned(),
            };
            let yes = |b: bool, no: &str| if b { "yes" } else { no }.to_owned();
            let health = r.target_health.clone().unwrap_or_else(|| "-".to_owned());
            let note = if r.agree { r.note.clone() } else { paint(NOTE, &r.note) };
            vec![r.ip.to_string(), yes(r.in_dns, "-"), health, state, yes(r.agree, "NO"), note]
        });
        out += "\n";
        out += &table(&["address", "DNS", "target group", "state", "agree", "note"], &[], rows);
        let others: Vec<String> =
            self.targets.iter().filter(|t| !t.ours).map(|t| format!("{}:{}", t.ip, t.port)).collect();
        if !others.is_empty() {
            put!(out, "  (other ports, not albsync's: {})", others.join(" "));
        }
        out += "\n";
        if let Some(f) = &self.figures {
            put!(
                out,
                "metrics  resolved {}, registered {}, healthy {}, pending {} (highest misses {}), drift {}",
                f.resolved_addresses,
                f.registered_targets,
                f.healthy_targets,
                f.pending_addresses,
                f.max_pending_misses,
                f.drift
            );
            match &f.last_in_sync {
                Some(at) => put!(out, "         last in sync: {at} (now: drift 0)"),
                None => put!(out, "         last in sync: not now (drift > 0); the Drift metric says since when"),
            }
            if f.eni_rules_not_applied {
                put!(
                    out,
                    "         from DNS alone: the diff also applies the ENI rules, so its pending and drift may be lower"
                );
            }
        }
        let total = self.addresses.len();
        if self.in_sync {
            put!(out, "{}: DNS, the target group and the state agree on {total} addresses", paint(GOOD, "IN SYNC"));
        } else {
            let disagree = self.addresses.iter().filter(|r| !r.agree).count();
            let why = match (&self.state, &self.state_error) {
                (None, None) => "; no state document yet",
                (None, Some(_)) => "; the state document is invalid",
                _ => "",
            };
            put!(out, "{}: {disagree} of {total} addresses disagree{why}", paint(BAD, "NOT IN SYNC"));
        }
        out
    }
}

/// Whether DNS (which answered), the target group and the state agree about one address, and why.
fn judge(in_dns: bool, registered: bool, live: bool, active: bool, pending: Option<u32>, grace: u32) -> (bool, String) {
    let note = match (in_dns, registered, live) {
        (true, true, true) => match (active, pending) {
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
        (false, false, _) if pending.is_some() => {
            "pending in the state, gone from DNS and the target group (the next run forgets it)".to_owned()
        }
        (false, false, _) => "listed active in the state; DNS no longer answers it".to_owned(),
    };
    (false, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::style::plain;
    use crate::world::fixture::{NOW, binding, resolved, stored};
    use albsync_core::target::HealthState::{self, Draining, Healthy, Initial, UnhealthyDraining};

    fn status(dns: Result<&Resolved, String>, targets: &[(u8, u16, HealthState)], active: &[u8]) -> Status {
        Status::build(&binding(), dns, &stored(targets, active, &[]), NOW)
    }

    #[test]
    fn agreement_everywhere_is_in_sync() {
        let s = status(Ok(&resolved(&[1, 2])), &[(1, 443, Healthy), (2, 443, Healthy)], &[1, 2]);
        assert!(s.in_sync);
        assert!(s.addresses.iter().all(|r| r.agree && r.note == "in sync"));
        let text = plain(&s.text());
        assert!(
            text.starts_with("binding  web: alb.test -> targetgroup/web/0123456789abcdef port 443, grace 3 runs\n")
        );
        assert!(text.contains("DNS      2 addresses (complete answer of all., 1 queries)\n"), "{text}");
        assert!(text.contains("IN SYNC: DNS, the target group and the state agree on 2 addresses"), "{text}");
    }

    #[test]
    fn a_foreign_target_on_the_port_is_named_and_does_not_break_the_sync() {
        let mut st = stored(&[(1, 443, Healthy)], &[1], &[]);
        let foreign = "192.168.7.7".parse().expect("ip");
        st.registered.push(RegisteredTarget { ip: foreign, port: 443, state: Healthy, availability_zone: None });
        let mut b = binding();
        b.allowed_cidrs = vec!["10.0.0.0/8".parse().expect("cidr")];
        let s = Status::build(&b, Ok(&resolved(&[1])), &st, NOW);
        let row = s.addresses.iter().find(|r| r.ip == foreign).expect("listed");
        assert!(row.agree && row.note.starts_with("foreign"), "{}", row.note);
        assert!(s.in_sync, "someone else's target is no disagreement of albsync's");
    }

    #[test]
    fn each_kind_of_disagreement_is_explained() {
        let targets = [(1, 443, Healthy), (2, 443, Healthy), (9, 80, Healthy)];
        let s = Status::build(&binding(), Ok(&resolved(&[1, 3])), &stored(&targets, &[1, 2], &[(2, 1)]), NOW);
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
    fn a_dns_failure_still_shows_the_target_group_and_state_without_figures() {
        let s = status(Err("alb.test: the name server answered SERVFAIL".into()), &[(1, 443, Draining)], &[1]);
        assert!(!s.in_sync);
        assert_eq!(s.addresses[0].target_health.as_deref(), Some("draining"));
        assert_eq!(s.figures, None);
        let text = plain(&s.text());
        assert!(text.contains("DNS      no answer: alb.test: the name server answered SERVFAIL"), "{text}");
        assert!(!text.contains("metrics "), "{text}");
    }

    #[test]
    fn a_long_health_state_widens_its_column_instead_of_pushing_the_others() {
        let s = status(Ok(&resolved(&[1, 2])), &[(1, 443, UnhealthyDraining), (2, 443, Healthy)], &[1, 2]);
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
        let st = stored(&[(1, 443, Healthy), (2, 443, Healthy), (4, 443, Initial)], &[1, 2, 4], &[(2, 1)]);
        let s = Status::build(&binding(), Ok(&resolved(&[1, 3, 4])), &st, NOW);
        let f = s.figures.clone().expect("DNS answered");
        // 2 is missing for the second time, 3 is to be registered: drift 2; 4 is registered but still initial.
        assert_eq!(
            (f.resolved_addresses, f.registered_targets, f.healthy_targets, f.pending_addresses, f.max_pending_misses),
            (3, 3, 2, 1, 2)
        );
        assert_eq!((f.drift, f.last_in_sync.as_deref(), f.eni_rules_not_applied), (2, None, false));
        let text = plain(&s.text());
        assert!(
            text.contains("metrics  resolved 3, registered 3, healthy 2, pending 1 (highest misses 2), drift 2"),
            "{text}"
        );
        assert!(text.contains("last in sync: not now"), "{text}");

        let s = status(Ok(&resolved(&[1, 2])), &[(1, 443, Healthy), (2, 443, Healthy)], &[1, 2]);
        let f = s.figures.clone().expect("DNS answered");
        assert_eq!((f.drift, f.pending_addresses, f.healthy_targets), (0, 0, 2));
        assert_eq!(f.last_in_sync.as_deref(), Some("2026-11-25T12:00:00Z"));
        assert!(plain(&s.text()).contains("last in sync: 2026-11-25T12:00:00Z (now: drift 0)"));
    }
}
