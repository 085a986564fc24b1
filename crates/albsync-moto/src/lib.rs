//! Starts the moto server, the AWS API emulator the integration tests run against, on 127.0.0.1.
//!
//! moto is installed, pinned, by `scripts/setup-python.sh` into `.tools/venv`; the tests use that
//! interpreter (or `ALBSYNC_PYTHON`). A missing install fails the test with the command to run, never skips.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server, stopped when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ALBSYNC_PYTHON") {
        return PathBuf::from(p);
    }
    repo_root().join(".tools/venv/bin/python")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// Sends one HTTP/1.0 request and returns the status and body (enough for moto's control API).
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    http_with(port, method, path, "application/json", "", body)
}

fn http_with(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    extra_headers: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(s);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let code = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut rest = String::new();
    reader.read_to_string(&mut rest)?;
    let body = rest.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((code, body))
}

impl Moto {
    /// Starts a fresh server on a free port and waits until it answers.
    pub fn start() -> Moto {
        let py = python();
        if !py.exists() {
            panic!("moto is not installed: {} is missing; run `scripts/setup-python.sh` first", py.display());
        }
        let port = free_port();
        let log = std::env::temp_dir().join(format!("albsync-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err_file = log_file.try_clone().unwrap_or_else(|e| panic!("cloning log handle: {e}"));
        let child = Command::new(&py)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting moto with {}: {e}", py.display()));
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http(port, "GET", "/moto-api/", "") {
                break;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("moto exited with {status} before answering:\n{text}");
            }
            if Instant::now() > deadline {
                panic!("moto did not answer on 127.0.0.1:{port} within 30 s; log: {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        moto.configure();
        moto
    }

    fn configure(&mut self) {
        // Conditional writes and everything else need no configuration; state machine execution does.
        let body = r#"{"stepfunctions": {"execute_state_machine": true}}"#;
        match http(self.port, "POST", "/moto-api/config", body) {
            Ok((200 | 201, _)) => {}
            other => panic!("configuring moto failed: {other:?}"),
        }
    }

    /// Creates a VPC and returns its id. The EC2 SDK is a large build that nothing else needs, so this one
    /// call is made as a plain awsQuery request (moto routes it by the credential scope; it checks no signature).
    pub fn create_vpc(&self, cidr: &str) -> String {
        let body = format!("Action=CreateVpc&Version=2016-11-15&CidrBlock={}", cidr.replace('/', "%2F"));
        let auth = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n";
        let (status, text) = http_with(self.port, "POST", "/", "application/x-www-form-urlencoded", auth, &body)
            .unwrap_or_else(|e| panic!("CreateVpc: {e}"));
        let id = text.split("<vpcId>").nth(1).and_then(|t| t.split('<').next());
        match (status, id) {
            (200, Some(id)) => id.to_owned(),
            _ => panic!("CreateVpc answered {status}: {text}"),
        }
    }

    /// Creates a VPC (10.0.0.0/16) and a TCP IP target group in it on `port`; returns the target group ARN.
    /// Made as plain awsQuery requests like [`Moto::create_vpc`], so tests need no extra SDK to set up.
    pub fn create_ip_target_group(&self, name: &str, port: u16) -> String {
        let vpc = self.create_vpc("10.0.0.0/16");
        let body = format!(
            "Action=CreateTargetGroup&Version=2015-12-01&Name={name}&Protocol=TCP&Port={port}&VpcId={vpc}&TargetType=ip"
        );
        let auth = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=0\r\n";
        let (status, text) = http_with(self.port, "POST", "/", "application/x-www-form-urlencoded", auth, &body)
            .unwrap_or_else(|e| panic!("CreateTargetGroup: {e}"));
        let arn = text.split("<TargetGroupArn>").nth(1).and_then(|t| t.split('<').next());
        match (status, arn) {
            (200, Some(arn)) => arn.to_owned(),
            _ => panic!("CreateTargetGroup answered {status}: {text}"),
        }
    }

    /// The endpoint URL for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment an SDK client or a function process needs to talk to this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint().as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// An SDK configuration pointing at this server, with fake credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
