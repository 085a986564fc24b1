//! Times the diff of 1,000 targets (target: under 100 µs): the work the diff function does per run.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::IpAddr;

use albsync_core::events::{Resolved, Strategy};
use albsync_core::plan::plan;
use albsync_core::{Binding, HealthState, RegisteredTarget, StateDocument};
use criterion::{Criterion, criterion_group, criterion_main};

fn ip(i: u32) -> IpAddr {
    IpAddr::from([10, 0, (i / 250) as u8, (i % 250) as u8 + 1])
}

fn bench(c: &mut Criterion) {
    let binding = Binding::from_json(
        r#"{"name":"web","dnsName":"alb.test","port":443,"vpcCidrs":["10.0.0.0/16"],
            "targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // 1,000 registered; DNS answers 950 of them plus 50 new ones; 30 are pending from earlier runs.
    let registered: Vec<RegisteredTarget> = (0..1000)
        .map(|i| RegisteredTarget { ip: ip(i), port: 443, state: HealthState::Healthy, availability_zone: None })
        .collect();
    let resolved = Resolved {
        addresses: (50..1050).map(ip).collect(),
        strategy: Strategy::All,
        queries: 1,
        sought: Default::default(),
        confirmed: Default::default(),
        resolution: Default::default(),
    };
    let pending: BTreeMap<IpAddr, u32> = (0..30).map(|i| (ip(i), 1)).collect();
    let state = StateDocument::new(&binding, (0..1000).map(ip).collect(), pending, "t".into(), "x".into());
    c.bench_function("diff 1000 targets", |b| {
        b.iter(|| {
            plan(
                black_box(&binding),
                black_box(&resolved),
                black_box(&registered),
                black_box(Some(&state)),
                1_795_608_000,
            )
        })
    });
    let steady = Resolved { addresses: (0..1000).map(ip).collect(), ..resolved.clone() };
    let steady_state =
        StateDocument::new(&binding, (0..1000).map(ip).collect(), BTreeMap::new(), "t".into(), "x".into());
    c.bench_function("diff 1000 targets, steady", |b| {
        b.iter(|| {
            plan(
                black_box(&binding),
                black_box(&steady),
                black_box(&registered),
                black_box(Some(&steady_state)),
                1_795_608_000,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
