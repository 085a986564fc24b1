//! Evidence carried across runs, behind a real caching resolver (dnsmasq in front of albsync-testdns, both
//! on loopback): many runs as the state machine makes them (Resolve, Diff's plan, LookAgain when allowed,
//! plan again, save), with the state document carried from run to run.
//!
//! Behind a cache a run sees one or two record sets, so no run alone can settle the absence of an address
//! among more than 8. The plan combines the saved evidence with the run's by the rule of
//! `albsync_core::evidence`: a live address is never counted missing, however often the cache repeats itself
//! (runs follow each other faster than the cache turns over, so most runs see a set an earlier run already
//! counted), and an address that really left is counted once enough independent answers lacked it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albsync_core::evidence::answers_needed;
use albsync_core::plan::{Plan, count_grace, next_first_missed, next_pending, plan};
use albsync_core::state::{StateDocument, rfc3339_utc};
use albsync_core::target::{HealthState, RegisteredTarget};
use albsync_core::{Binding, Resolved};
use albsync_dns::resolve_binding;
use albsync_testdns::caching::CachingResolver;
use albsync_testdns::{Record, TestDns};

mod common;
use common::{NAME, v4};

fn binding() -> Binding {
    Binding::from_json(
        r#"{"name":"web","dnsName":"alb.test","port":443,
            "targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
            "vpcCidrs":["10.0.0.0/16"]}"#,
    )
    .expect("binding")
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The world one run sees and leaves: the registered targets (never changed here: what is asserted is
/// what the plan counts) and the state document.
struct World {
    binding: Binding,
    registered: Vec<RegisteredTarget>,
    state: Option<StateDocument>,
    cache: SocketAddr,
}

/// One run's outcome: the final plan and the resolve result it was made from.
struct Run {
    plan: Plan,
    resolved: Resolved,
}

impl World {
    fn new(cache: SocketAddr, registered: &[IpAddr]) -> Self {
        let binding = binding();
        let registered = registered
            .iter()
            .map(|ip| RegisteredTarget {
                ip: *ip,
                port: binding.port,
                state: HealthState::Healthy,
                availability_zone: None,
            })
            .collect();
        World { binding, registered, state: None, cache }
    }

    /// Resolve, plan, LookAgain while allowed, plan again, save: the state machine's path.
    async fn run(&mut self) -> Run {
        let b = &self.binding;
        let mut resolved = resolve_binding(b, Some(self.cache), &BTreeSet::new(), None).await.expect("resolve");
        let mut p = plan(b, &resolved, &self.registered, self.state.as_ref(), unix_now());
        while !p.noop && !p.unconfirmed.is_empty() && resolved.resolution.may_look_again {
            let expected: BTreeSet<IpAddr> = p.unconfirmed.iter().copied().collect();
            resolved = resolve_binding(b, Some(self.cache), &expected, Some(&resolved)).await.expect("look again");
            p = plan(b, &resolved, &self.registered, self.state.as_ref(), unix_now());
        }
        if !p.noop {
            self.save(&p);
        }
        Run { plan: p, resolved }
    }

    /// What SaveState writes (the diff function's save, without S3): counts, held counts, evidence.
    fn save(&mut self, p: &Plan) {
        let counted = count_grace(p);
        let kept: Vec<_> =
            counted.iter().chain(p.held.iter().filter(|h| !counted.iter().any(|c| c.ip == h.ip))).cloned().collect();
        let mut doc = StateDocument::new(
            &self.binding,
            p.active.clone(),
            next_pending(&kept),
            rfc3339_utc(unix_now()),
            "t".into(),
        );
        doc.first_missed = next_first_missed(&kept);
        doc.counted_slot = p.counted_slot;
        doc.evidence = p.evidence.clone();
        // Through its bytes, as S3 holds it: what the next run reads must parse.
        let bytes = doc.to_bytes();
        self.state = Some(StateDocument::parse(&bytes, "k", &self.binding).expect("the saved document parses"));
    }
}

async fn caching_resolver(dns: &TestDns) -> CachingResolver {
    let upstream = dns.addr();
    tokio::task::spawn_blocking(move || CachingResolver::start(upstream))
        .await
        .expect("join")
        .expect("dnsmasq (scripts/setup.sh installs it)")
}

/// Runs `runs` runs against `live` addresses (rotated 8 at a time, 1 s TTL) plus registered `gone` ones that
/// DNS no longer has; asserts that no live address is ever counted missing. Returns, per run, the distinct
/// record sets seen so far and whether every gone address was counted missing, and the last run.
async fn many_runs(
    seed: u64,
    live: &[Ipv4Addr],
    gone: &[IpAddr],
    runs: usize,
    pause: Duration,
) -> (Vec<(usize, bool)>, Run) {
    let dns = TestDns::start_seeded(seed).await.expect("dns");
    // A 1 s TTL makes the cache turn over during the test, as a 60 s one does over real minutes.
    dns.set(NAME, Record::a(live.to_vec()).with_ttl(1));
    let cache = caching_resolver(&dns).await;
    let live: BTreeSet<IpAddr> = live.iter().copied().map(IpAddr::V4).collect();
    let registered: Vec<IpAddr> = live.iter().chain(gone).copied().collect();
    let mut world = World::new(cache.addr(), &registered);
    let mut distinct = BTreeSet::new();
    let mut history = Vec::new();
    let mut last = None;
    for run in 0..runs {
        let outcome = world.run().await;
        let counted: BTreeSet<IpAddr> = outcome.plan.missing.iter().map(|m| m.ip).collect();
        let live_counted: Vec<&IpAddr> = counted.intersection(&live).collect();
        assert!(
            live_counted.is_empty(),
            "run {run}: live {live_counted:?} counted missing: {:?}",
            outcome.resolved.resolution
        );
        assert!(
            outcome.resolved.resolution.cached || outcome.resolved.resolution.independent_answers <= 2,
            "run {run}: the cache serves this run"
        );
        distinct.extend(outcome.resolved.resolution.sets.iter().map(|s| s.digest));
        history.push((distinct.len(), gone.iter().all(|g| counted.contains(g))));
        last = Some(outcome);
        tokio::time::sleep(pause).await;
    }
    drop(cache);
    (history, last.expect("at least one run"))
}

/// 12 live addresses and one that left, 240 runs, four runs per cache window. Every record set lacks the
/// gone address, and a run counts a set only once: the gone address is counted missing at the first run
/// by which `answers_needed(13, 8)` = 15 distinct sets were seen ((5/13)^15 = 6e-7 < 10^-6; n = 13 is the
/// 8 answered plus the 5 absent), never earlier. A run that sees a new set every window, and a repeat
/// now and then (8 of 12 drawn at random: C(12,8) = 495 sets), reaches 15 sets within 20 windows,
/// 80 runs; it stays counted from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_cache_12_addresses_a_gone_one_is_counted_within_15_windows_and_no_live_one_ever() {
    const RUNS: usize = 240;
    let gone = IpAddr::from([10, 0, 1, 99]);
    let needed = answers_needed(13, 8).expect("k > 0") as usize;
    assert_eq!(needed, 15);
    // Four runs per 1 s window: duplicates and quick reruns see the same cached set.
    let (history, last) = many_runs(21, &v4(12), &[gone], RUNS, Duration::from_millis(260)).await;

    let first = history.iter().position(|(_, counted)| *counted);
    eprintln!(
        "12 addresses: gone counted first at run {first:?}; distinct sets by then {:?}, in all {}",
        first.map(|f| history[f].0),
        history.last().map_or(0, |h| h.0)
    );
    let first = first.expect("the gone address is counted missing");
    assert!(history[first].0 >= needed, "counted after only {} distinct sets", history[first].0);
    assert!(first < 80, "counted only at run {first} ({} distinct sets)", history[first].0);
    assert!(history[first..].iter().all(|(_, counted)| *counted), "stays counted while absent");
    let evidence = last.plan.evidence.absence.get(&gone).expect("evidence for the gone address");
    assert!(evidence.answers as usize >= needed, "{evidence:?}");
    assert!(evidence.answers as usize <= history.last().expect("runs").0, "a set is counted once: {evidence:?}");
}

/// 100 live addresses rotated 8 at a time behind the cache, one gone, 200 runs back to back: no live address
/// is ever counted missing, and the gone one's evidence is exactly the distinct sets seen (each counted once
/// though the cache repeats it run after run). Settling it takes `answers_needed(101, 8)` = 168 windows:
/// about 2.8 hours of 60 s cache windows, which is why authoritative mode is the better choice there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_cache_100_addresses_no_live_one_is_ever_counted_and_each_set_counts_once() {
    const RUNS: usize = 200;
    let gone = IpAddr::from([10, 0, 1, 199]);
    let (history, last) = many_runs(22, &v4(100), &[gone], RUNS, Duration::from_millis(60)).await;

    let seen = history.last().expect("runs").0;
    eprintln!("100 addresses: {seen} distinct sets in {RUNS} runs");
    assert!(seen < RUNS / 2, "the cache repeated itself: {seen} distinct sets in {RUNS} runs");
    let evidence = last.plan.evidence.absence.get(&gone).expect("evidence for the gone address");
    assert_eq!(evidence.answers as usize, seen, "every distinct set lacked it, each counted once");
    assert_eq!(answers_needed(101, 8), Some(168));
    assert!(history.iter().all(|(_, counted)| !counted), "{seen} sets cannot settle it yet");
}
