//! The adapters against the AWS emulator (moto server on 127.0.0.1): real HTTP, real SDK, real protocols.
//! All tests share one server ([`Moto::shared`]) and isolate by resource names ([`Moto::unique`]).

use std::net::IpAddr;

use albsync_aws::{AwsErrorKind, ElbTargetGroup, S3StateStore, StateStore, TargetGroup, WriteCondition};
use albsync_core::target::{HealthState, TargetSpec};
use albsync_moto::Moto;

async fn clients(moto: &Moto) -> albsync_aws::Clients {
    albsync_aws::Clients::new(&moto.sdk_config().await)
}

/// A new bucket of this test's own.
async fn bucket(c: &albsync_aws::Clients) -> String {
    let name = Moto::unique("state");
    c.s3.create_bucket().bucket(&name).send().await.expect("create bucket");
    name
}

fn ip(i: u32) -> IpAddr {
    IpAddr::from([10, 0, (i / 250) as u8, (i % 250 + 1) as u8])
}

#[tokio::test]
async fn state_writes_are_conditional_so_only_one_of_two_runs_wins() {
    let moto = Moto::shared();
    let c = clients(moto).await;
    let store = S3StateStore::new(c.s3.clone(), &bucket(&c).await);

    assert_eq!(store.read("k").await.expect("read absent"), None);
    let first = store.write("k", b"one".to_vec(), WriteCondition::CreateOnly).await.expect("create");
    let again = store.write("k", b"two".to_vec(), WriteCondition::CreateOnly).await.expect_err("exists");
    assert_eq!(again.kind, AwsErrorKind::Conflict, "{again}");

    let read = store.read("k").await.expect("read").expect("present");
    assert_eq!((read.bytes.as_slice(), read.etag.as_str()), (&b"one"[..], first.as_str()));

    // Two runs that read the same version race to replace it: exactly one succeeds, whatever the order.
    let (a, b) = tokio::join!(
        store.write("k", b"run-a".to_vec(), WriteCondition::IfMatch(read.etag.clone())),
        store.write("k", b"run-b".to_vec(), WriteCondition::IfMatch(read.etag.clone())),
    );
    let winners = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "a={a:?} b={b:?}");
    let loser = if a.is_err() { a } else { b };
    assert_eq!(loser.expect_err("one lost").kind, AwsErrorKind::Conflict);
    let after = store.read("k").await.expect("read").expect("present");
    assert!(after.bytes == b"run-a" || after.bytes == b"run-b");
}

#[tokio::test]
async fn a_missing_bucket_is_an_error_not_a_first_run() {
    let moto = Moto::shared();
    let c = clients(moto).await;
    let store = S3StateStore::new(c.s3.clone(), "no-such-bucket");
    let err = store.read("k").await.expect_err("bucket missing");
    assert_eq!(err.kind, AwsErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn targets_are_registered_described_and_deregistered_in_chunks() {
    let moto = Moto::shared();
    let c = clients(moto).await;
    let arn = moto.create_ip_target_group(&Moto::unique("web"), 443);
    let tg = ElbTargetGroup::new(c.elb.clone());

    let specs: Vec<TargetSpec> =
        (0..450).map(|i| TargetSpec { ip: ip(i), port: 443, availability_zone: None }).collect();
    assert_eq!(tg.register(&arn, &specs).await.expect("register"), 3, "450 targets take 3 calls of 200");
    let described = tg.describe(&arn).await.expect("describe");
    assert_eq!(described.len(), 450);
    assert!(described.iter().all(|t| t.port == 443 && t.state == HealthState::Healthy));

    let gone: Vec<TargetSpec> = described[..250].iter().map(|t| t.description()).collect();
    assert_eq!(tg.deregister(&arn, &gone).await.expect("deregister"), 2);
    let left = tg.describe(&arn).await.expect("describe");
    assert_eq!(left.len(), 200);
    assert!(left.iter().all(|t| !gone.iter().any(|g| g.ip == t.ip)));
}

#[tokio::test]
async fn an_unknown_target_group_is_classified_not_found() {
    let moto = Moto::shared();
    let c = clients(moto).await;
    let tg = ElbTargetGroup::new(c.elb.clone());
    let err = tg
        .describe("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef")
        .await
        .expect_err("absent");
    assert_eq!(err.kind, AwsErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn an_unreachable_store_is_a_transient_error_never_a_first_run() {
    // A port nothing listens on: the connection is refused, as during an outage.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let c = albsync_aws::Clients::new(&config);
    let err = S3StateStore::new(c.s3.clone(), "state").read("k").await.expect_err("unreachable");
    assert_eq!(err.kind, AwsErrorKind::Transient, "{err}");
    let err = ElbTargetGroup::new(c.elb.clone())
        .describe("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef")
        .await
        .expect_err("unreachable");
    assert_eq!(err.kind, AwsErrorKind::Transient, "{err}");
}
