//! Measures a steady run's DNS work: queries, CPU per query and total resolve CPU, at N = 4, 20 and 100
//! addresses, with and without `all.<name>`.
//!
//! `cargo bench -p albsync-dns --bench steady` (release profile). A steady run is what the state machine
//! does when nothing changed: Resolve (first pass) and, when registered addresses were not seen, LookAgain.
//! The test DNS server runs on its own thread, so the CPU measured (this thread's, from
//! `/proc/thread-self/stat`, in USER_HZ = 100 ticks per second) is the resolver's alone. Each scenario runs
//! until it has made at least `MIN_QUERIES` queries, so the 10 ms tick is below 1% of the total.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::time::Instant;

use albsync_core::Resolved;
use albsync_dns::{Resolver, ResolverConfig, resolve_pass};
use albsync_testdns::{Record, TestDns};

const MIN_QUERIES: u64 = 20_000;
const TICKS_PER_SECOND: f64 = 100.0;

fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    ticks as f64 / TICKS_PER_SECOND
}

fn addresses(n: u8) -> Vec<Ipv4Addr> {
    (1..=n).map(|i| Ipv4Addr::new(10, 0, 1, i)).collect()
}

async fn steady_run(resolver: &Resolver, name: &str, registered: &BTreeSet<IpAddr>) -> Resolved {
    let first = resolve_pass(resolver, name, &BTreeSet::new(), None, None).await.expect("first pass");
    let unconfirmed: BTreeSet<IpAddr> =
        registered.iter().filter(|ip| !first.addresses.contains(ip) && !first.looked_for(ip)).copied().collect();
    if unconfirmed.is_empty() {
        return first;
    }
    resolve_pass(resolver, name, &unconfirmed, Some(&first), None).await.expect("second pass")
}

fn main() {
    let sizes = [4u8, 20, 100];
    let (tx, rx) = mpsc::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let dns = TestDns::start().await.expect("dns");
            for n in sizes {
                dns.set(&format!("n{n}.test"), Record::a(addresses(n)));
                dns.set(&format!("n{n}a.test"), Record::a(addresses(n)));
                dns.set(&format!("all.n{n}a.test"), Record::a(addresses(n)).with_max_answers(1000));
            }
            tx.send(dns.addr()).expect("send");
            let _ = stop_rx.await;
            dns.shutdown().await;
        });
    });
    let addr = rx.recv().expect("server address");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    println!("| N | all. | runs | queries per steady run | CPU per query | resolve CPU per run | wall per run |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    runtime.block_on(async {
        for n in sizes {
            for with_all in [false, true] {
                let name = if with_all { format!("n{n}a.test") } else { format!("n{n}.test") };
                let config = ResolverConfig {
                    name_servers: vec![addr],
                    allowed: vec!["10.0.0.0/8".parse().expect("cidr")],
                    ..ResolverConfig::default()
                };
                let resolver = Resolver::new(config).expect("resolver");
                let registered: BTreeSet<IpAddr> = addresses(n).into_iter().map(IpAddr::V4).collect();
                let (mut runs, mut queries) = (0u64, 0u64);
                let (cpu0, wall0) = (thread_cpu_seconds(), Instant::now());
                while queries < MIN_QUERIES {
                    let resolved = steady_run(&resolver, &name, &registered).await;
                    assert_eq!(resolved.addresses, registered, "a steady run sees every address");
                    queries += u64::from(resolved.queries);
                    runs += 1;
                }
                let cpu = thread_cpu_seconds() - cpu0;
                let wall = wall0.elapsed().as_secs_f64();
                println!(
                    "| {n} | {} | {runs} | {:.1} | {:.3} ms | {:.2} ms | {:.2} ms |",
                    if with_all { "yes" } else { "no" },
                    queries as f64 / runs as f64,
                    cpu * 1e3 / queries as f64,
                    cpu * 1e3 / runs as f64,
                    wall * 1e3 / runs as f64,
                );
            }
        }
    });
    let _ = stop_tx.send(());
    server.join().expect("server thread");
}
