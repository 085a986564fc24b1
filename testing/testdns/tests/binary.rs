//! The `albsync-testdns` binary as the demo and the Python tests use it: started as a child
//! process, driven by a zone file rewritten (by rename) while it runs.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use albsync_testdns::client::{Answer, query_udp};
use albsync_testdns::proto::op::ResponseCode;
use albsync_testdns::proto::rr::RecordType;

const BINARY: &str = env!("CARGO_BIN_EXE_albsync-testdns");

/// A fresh, empty directory per test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("testdns-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Writes the zone file the way the demo does: a temporary file renamed over the old one.
fn write_zone(path: &Path, json: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, json).expect("write zone");
    std::fs::rename(&temporary, path).expect("rename zone");
}

/// The running binary; killed if a test fails before stopping it.
struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    // Kept open so the binary never writes into a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    fn start(zone: &Path) -> Self {
        let mut child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--zone-file"])
            .arg(zone)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn albsync-testdns");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the ready line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Self { child: Some(child), addr, _stdout: stdout }
    }

    /// Sends SIGTERM and returns how the process ended, with its stderr.
    fn terminate(mut self) -> Output {
        let child = self.child.take().expect("running");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        child.wait_with_output().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn ask(addr: SocketAddr, name: &str) -> Answer {
    query_udp(addr, name, RecordType::A, Duration::from_secs(2)).await.expect("answer")
}

/// Polls until the server's answer satisfies `done` (the reload is asynchronous).
async fn eventually(addr: SocketAddr, name: &str, done: impl Fn(&Answer) -> bool) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = ask(addr, name).await;
        if done(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "never changed: {answer:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

#[tokio::test]
async fn serves_the_zone_file_and_follows_atomic_rewrites() {
    let dir = scratch("reload");
    let zone = dir.join("zone.json");
    write_zone(&zone, r#"{"names": {"alb.test.": {"a": ["10.0.1.1"], "aaaa": [], "mode": "ok", "maxAnswers": 8}}}"#);
    let server = Server::start(&zone);

    let first = ask(server.addr, "ALB.test.").await;
    assert_eq!(first.addresses, vec![ip("10.0.1.1")]);

    write_zone(&zone, r#"{"names": {"alb.test": {"a": ["10.0.2.2", "10.0.2.3"]}, "gone.test": {"mode": "servfail"}}}"#);
    let moved = eventually(server.addr, "alb.test.", |a| a.addresses.len() == 2).await;
    assert!(moved.addresses.contains(&ip("10.0.2.2")));
    assert_eq!(ask(server.addr, "gone.test.").await.code, ResponseCode::ServFail);

    let ended = server.terminate();
    assert!(ended.status.success(), "{ended:?}");
}

#[tokio::test]
async fn a_bad_rewrite_keeps_the_last_good_zone_and_logs_the_problem() {
    let dir = scratch("bad-rewrite");
    let zone = dir.join("zone.json");
    write_zone(&zone, r#"{"names": {"alb.test": {"a": ["10.0.1.1"]}}}"#);
    let server = Server::start(&zone);

    write_zone(&zone, r#"{"names": {"alb.test": {"a": ["10.0.1.1"], "mode": "flaky"}}}"#);
    // Then a good change, so the test knows the bad one was seen and passed over.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ask(server.addr, "alb.test.").await.addresses, vec![ip("10.0.1.1")]);
    write_zone(&zone, r#"{"names": {"alb.test": {"a": ["10.0.3.3"]}}}"#);
    eventually(server.addr, "alb.test.", |a| a.addresses == vec![ip("10.0.3.3")]).await;

    let ended = server.terminate();
    assert!(ended.status.success());
    let stderr = String::from_utf8_lossy(&ended.stderr);
    assert!(stderr.contains("flaky"), "problem not named: {stderr}");
}

#[tokio::test]
async fn every_answer_comes_from_one_whole_zone_while_it_is_rewritten() {
    // Every rewrite is atomic, so each answer comes from one whole zone: one of the two sets.
    let dir = scratch("flapping");
    let zone = dir.join("zone.json");
    let one = r#"{"names": {"alb.test": {"a": ["10.0.1.1"]}}}"#;
    let two = r#"{"names": {"alb.test": {"a": ["10.0.2.1", "10.0.2.2"]}}}"#;
    write_zone(&zone, one);
    let server = Server::start(&zone);
    for round in 0..20 {
        write_zone(&zone, if round % 2 == 0 { two } else { one });
        let answer = ask(server.addr, "alb.test.").await;
        assert!(answer.addresses == vec![ip("10.0.1.1")] || answer.addresses.len() == 2, "{answer:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn a_bad_zone_file_at_start_exits_non_zero_with_one_line() {
    let dir = scratch("bad-start");
    let zone = dir.join("zone.json");
    std::fs::write(&zone, r#"{"names": {"alb.test": {"a": ["10.0.1.300"]}}}"#).expect("write");

    let output =
        Command::new(BINARY).args(["--listen", "127.0.0.1:0", "--zone-file"]).arg(&zone).output().expect("run");

    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("zone file"), "{stderr}");
}

#[test]
fn a_missing_zone_file_at_start_exits_non_zero_naming_it() {
    let dir = scratch("missing");
    let zone = dir.join("absent.json");
    let output =
        Command::new(BINARY).args(["--listen", "127.0.0.1:0", "--zone-file"]).arg(&zone).output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("absent.json"), "{stderr}");
}

#[test]
fn refuses_to_listen_on_a_non_loopback_address() {
    let dir = scratch("public");
    let zone = dir.join("zone.json");
    write_zone(&zone, r#"{"names": {}}"#);
    let output = Command::new(BINARY).args(["--listen", "0.0.0.0:0", "--zone-file"]).arg(&zone).output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[test]
fn missing_arguments_are_reported_with_the_usage() {
    let output = Command::new(BINARY).output().expect("run");
    assert!(!output.status.success());
    let mut stderr = String::new();
    output.stderr.as_slice().read_to_string(&mut stderr).expect("utf-8");
    assert!(stderr.contains("usage:"), "{stderr}");
}

#[test]
fn stops_cleanly_on_sigint_sent_right_after_the_ready_line() {
    let dir = scratch("sigint");
    let zone = dir.join("zone.json");
    write_zone(&zone, r#"{"names": {}}"#);
    let mut server = Server::start(&zone);
    let child = server.child.take().expect("running");
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{output:?}");
}
