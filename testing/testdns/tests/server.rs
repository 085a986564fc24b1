//! The in-process server over the wire: what each configured behaviour looks like to a client.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use albsync_testdns::client::{Answer, query_tcp, query_udp};
use albsync_testdns::proto::op::ResponseCode;
use albsync_testdns::proto::rr::RecordType;
use albsync_testdns::{Mode, Record, StartError, TestDns};

const WAIT: Duration = Duration::from_secs(2);

fn v4(count: u8) -> Vec<Ipv4Addr> {
    (1..=count).map(|i| Ipv4Addr::new(10, 0, 1, i)).collect()
}

async fn ask(dns: &TestDns, name: &str, record_type: RecordType) -> Answer {
    query_udp(dns.addr(), name, record_type, WAIT).await.expect("answer")
}

#[tokio::test]
async fn binds_loopback_on_a_random_port() {
    let dns = TestDns::start().await.expect("dns");
    assert_eq!(dns.addr().ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
    assert_ne!(dns.addr().port(), 0);
}

#[tokio::test]
async fn refuses_a_non_loopback_address() {
    let error = TestDns::start_on(SocketAddr::from(([0, 0, 0, 0], 0))).await.expect_err("must refuse");
    assert!(matches!(error, StartError::NotLoopback(_)), "{error}");
}

#[tokio::test]
async fn an_unknown_name_answers_nxdomain() {
    let dns = TestDns::start().await.expect("dns");
    let answer = ask(&dns, "nobody.test.", RecordType::A).await;
    assert_eq!(answer.code, ResponseCode::NXDomain);
    assert!(answer.addresses.is_empty());
}

#[tokio::test]
async fn a_name_answers_its_addresses_of_the_asked_type_only() {
    let dns = TestDns::start().await.expect("dns");
    let v6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    let mut record = Record::a([Ipv4Addr::new(10, 0, 1, 1)]);
    record.aaaa = vec![v6];
    dns.set("alb.test", record);

    let a = ask(&dns, "alb.test.", RecordType::A).await;
    assert_eq!(a.code, ResponseCode::NoError);
    assert_eq!(a.addresses, vec![IpAddr::from([10, 0, 1, 1])]);
    let aaaa = ask(&dns, "alb.test.", RecordType::AAAA).await;
    assert_eq!(aaaa.addresses, vec![IpAddr::V6(v6)]);
}

#[tokio::test]
async fn a_name_without_an_address_of_the_asked_type_answers_noerror_empty() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("alb.test", Record::a(v4(2)));
    let answer = ask(&dns, "alb.test.", RecordType::AAAA).await;
    assert_eq!(answer.code, ResponseCode::NoError);
    assert!(answer.addresses.is_empty());
}

#[tokio::test]
async fn names_match_case_insensitively_with_or_without_the_trailing_dot() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("ALB.Test.", Record::a(v4(1)));
    for asked in ["alb.test.", "ALB.TEST.", "Alb.Test"] {
        let answer = ask(&dns, asked, RecordType::A).await;
        assert_eq!(answer.addresses.len(), 1, "{asked}");
    }
    assert_eq!(dns.queries("alb.TEST"), 3);
}

#[tokio::test]
async fn more_addresses_than_max_answers_rotate_a_random_subset_per_query() {
    let dns = TestDns::start().await.expect("dns");
    let configured: BTreeSet<IpAddr> = v4(100).into_iter().map(IpAddr::V4).collect();
    dns.set("alb.test", Record::a(v4(100)));

    let mut answers = BTreeSet::new();
    let mut union = BTreeSet::new();
    for _ in 0..50 {
        let answer = ask(&dns, "alb.test.", RecordType::A).await;
        let distinct: BTreeSet<IpAddr> = answer.addresses.iter().copied().collect();
        assert_eq!(answer.addresses.len(), 8);
        assert_eq!(distinct.len(), 8);
        assert!(distinct.is_subset(&configured));
        union.extend(distinct.iter().copied());
        answers.insert(distinct);
    }
    assert!(answers.len() > 45, "answers barely change: {}", answers.len());
    assert!(union.len() > 80, "rotation covers only {}", union.len());
}

#[tokio::test]
async fn max_answers_can_be_raised_to_answer_everything() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("all.alb.test", Record::a(v4(100)).with_max_answers(100));
    let answer = ask(&dns, "all.alb.test.", RecordType::A).await;
    assert_eq!(answer.addresses.len(), 100);
}

#[tokio::test]
async fn seeded_servers_rotate_identically() {
    let first = TestDns::start_seeded(7).await.expect("dns");
    let second = TestDns::start_seeded(7).await.expect("dns");
    for dns in [&first, &second] {
        dns.set("alb.test", Record::a(v4(100)));
    }
    for _ in 0..5 {
        assert_eq!(ask(&first, "alb.test.", RecordType::A).await, ask(&second, "alb.test.", RecordType::A).await);
    }
}

#[tokio::test]
async fn fault_modes_answer_their_response_code() {
    let dns = TestDns::start().await.expect("dns");
    for (mode, code) in [
        (Mode::ServFail, ResponseCode::ServFail),
        (Mode::NxDomain, ResponseCode::NXDomain),
        (Mode::Refused, ResponseCode::Refused),
    ] {
        dns.set("alb.test", Record::a(v4(3)).with_mode(mode));
        let answer = ask(&dns, "alb.test.", RecordType::A).await;
        assert_eq!(answer.code, code, "{mode:?}");
        assert!(answer.addresses.is_empty(), "{mode:?}");
    }
}

#[tokio::test]
async fn drop_mode_never_answers_but_counts_the_query() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("alb.test", Record::fault(Mode::Drop));
    let error =
        query_udp(dns.addr(), "alb.test.", RecordType::A, Duration::from_millis(200)).await.expect_err("no answer");
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    let error =
        query_tcp(dns.addr(), "alb.test.", RecordType::A, Duration::from_millis(200)).await.expect_err("no answer");
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(dns.queries("alb.test"), 2);
}

#[tokio::test]
async fn behaviour_changes_at_run_time_and_remove_restores_nxdomain() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("alb.test", Record::a(v4(1)));
    assert_eq!(ask(&dns, "alb.test.", RecordType::A).await.addresses.len(), 1);
    dns.set("alb.test", Record::a(v4(2)));
    assert_eq!(ask(&dns, "alb.test.", RecordType::A).await.addresses.len(), 2);
    dns.remove("alb.test.");
    let answer = ask(&dns, "alb.test.", RecordType::A).await;
    assert_eq!(answer.code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn counts_queries_per_name_whatever_the_outcome() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("ok.test", Record::a(v4(1)));
    dns.set("bad.test", Record::fault(Mode::ServFail));
    for _ in 0..3 {
        ask(&dns, "ok.test.", RecordType::A).await;
    }
    ask(&dns, "ok.test.", RecordType::AAAA).await;
    ask(&dns, "bad.test.", RecordType::A).await;
    ask(&dns, "unknown.test.", RecordType::A).await;

    assert_eq!(dns.queries("ok.test"), 4);
    assert_eq!(dns.queries("bad.test"), 1);
    assert_eq!(dns.queries("unknown.test"), 1);
    assert_eq!(dns.queries("never.test"), 0);
    assert_eq!(dns.total_queries(), 6);
    dns.reset_queries();
    assert_eq!(dns.total_queries(), 0);
}

#[tokio::test]
async fn tcp_is_served_on_the_same_port() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("all.alb.test", Record::a(v4(100)).with_max_answers(100));
    let answer = query_tcp(dns.addr(), "all.alb.test.", RecordType::A, WAIT).await.expect("answer");
    assert_eq!(answer.code, ResponseCode::NoError);
    assert_eq!(answer.addresses.len(), 100);
    assert!(!answer.truncated);
}

#[tokio::test]
async fn replace_all_swaps_the_whole_zone() {
    let dns = TestDns::start().await.expect("dns");
    dns.set("old.test", Record::a(v4(1)));
    dns.replace_all([("New.Test.".to_owned(), Record::a(v4(2)))]);
    assert_eq!(ask(&dns, "old.test.", RecordType::A).await.code, ResponseCode::NXDomain);
    assert_eq!(ask(&dns, "new.test.", RecordType::A).await.addresses.len(), 2);
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let dns = TestDns::start().await.expect("dns");
    let addr = dns.addr();
    dns.set("alb.test", Record::a(v4(1)));
    ask(&dns, "alb.test.", RecordType::A).await;
    dns.shutdown().await;

    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let silent = query_udp(addr, "alb.test.", RecordType::A, Duration::from_millis(200)).await;
    assert!(silent.is_err());
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let dns = TestDns::start().await.expect("dns");
    let addr = dns.addr();
    drop(dns);

    // The shutdown runs on the runtime after the drop; give it a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
