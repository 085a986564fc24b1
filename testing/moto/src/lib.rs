//! Test support: one moto server (the AWS API emulator) per test binary, on 127.0.0.1.
//!
//! moto is installed, pinned, by `scripts/setup-python.sh` into `.tools/venv`; the tests use that
//! interpreter (or `ALBSYNC_PYTHON`). A missing install fails the test with the command to run, never skips.
//!
//! Why one server, not one per test: moto's first EC2 call on a fresh server costs seconds of CPU (the
//! backend import), and several servers starting at once on a busy 2-core machine starve each other. So
//! [`Moto::shared`] starts one server the first time a test asks and hands every later test the same one.
//! Tests isolate themselves by resource names ([`Moto::unique`]): nothing in a shared server is reset.
//!
//! The server lives exactly as long as the test process: it is started with a pipe on its standard input
//! that only this process holds, and exits when that pipe closes (the process ended, however it ended).
//!
//! Every request has a generous limit that says what it is for, and the error names it ("moto did not
//! answer CreateVpc within 60 s"): a slow machine makes a test slower, never red.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long one request to moto may take: far above the few seconds its slowest first call costs on a
/// loaded machine, so only a hung server reaches it.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// How long the server may take to start answering (Python start-up and imports on a busy machine).
pub const STARTUP_LIMIT: Duration = Duration::from_secs(120);

/// A running moto server. The shared one ([`Moto::shared`]) stops when the test process ends.
#[derive(Debug)]
pub struct Moto {
    port: u16,
    agent: ureq::Agent,
    // Held only so the server sees its standard input close when this process ends.
    _lifeline: Mutex<ChildStdin>,
    _child: Mutex<Child>,
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

/// Runs moto's server and exits as soon as standard input reaches end of file (the test process is gone).
const LAUNCHER: &str = "\
import os, sys, threading
def watch():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
";

static SHARED: OnceLock<Moto> = OnceLock::new();
static UNIQUE: AtomicU32 = AtomicU32::new(0);

impl Moto {
    /// The one server of this test binary, started on first use and configured to execute state machines.
    pub fn shared() -> &'static Moto {
        SHARED.get_or_init(Moto::start)
    }

    fn start() -> Moto {
        let py = python();
        if !py.exists() {
            panic!("moto is not installed: {} is missing; run `scripts/setup-python.sh` first", py.display());
        }
        let port = free_port();
        let log = std::env::temp_dir().join(format!("albsync-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err_file = log_file.try_clone().unwrap_or_else(|e| panic!("cloning log handle: {e}"));
        let mut child = Command::new(&py)
            .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting moto with {}: {e}", py.display()));
        let lifeline = child.stdin.take().unwrap_or_else(|| panic!("moto's standard input was not piped"));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_LIMIT))
            .http_status_as_error(false)
            .build()
            .into();
        let moto = Moto { port, agent, _lifeline: Mutex::new(lifeline), _child: Mutex::new(child) };
        let deadline = Instant::now() + STARTUP_LIMIT;
        while moto.get_status("/moto-api/") != Some(200) {
            let exited = moto._child.lock().map(|mut c| c.try_wait().ok().flatten()).unwrap_or(None);
            if let Some(status) = exited {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("moto exited with {status} before answering:\n{text}");
            }
            if Instant::now() > deadline {
                panic!(
                    "moto did not answer on 127.0.0.1:{port} within {} s of starting; log: {}",
                    STARTUP_LIMIT.as_secs(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // Conditional writes and everything else need no configuration; state machine execution does.
        let (status, text) = moto.post(
            "configuring state machine execution",
            "/moto-api/config",
            "application/json",
            None,
            r#"{"stepfunctions": {"execute_state_machine": true}}"#,
        );
        if !matches!(status, 200 | 201) {
            panic!("configuring moto answered {status}: {text}");
        }
        moto
    }

    fn get_status(&self, path: &str) -> Option<u16> {
        self.agent.get(format!("{}{path}", self.endpoint())).call().ok().map(|r| r.status().as_u16())
    }

    /// One POST; a transport error or the request limit panics with `what` in the message.
    fn post(&self, what: &str, path: &str, content_type: &str, service: Option<&str>, body: &str) -> (u16, String) {
        self.post_as("testing", what, path, content_type, service, body)
    }

    /// [`Moto::post`] with the access key of the caller: moto acts in the account the key belongs to (an
    /// assumed role's key acts in the role's account).
    fn post_as(
        &self,
        access_key: &str,
        what: &str,
        path: &str,
        content_type: &str,
        service: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        let mut request = self.agent.post(format!("{}{path}", self.endpoint())).header("Content-Type", content_type);
        if let Some(service) = service {
            // moto routes awsQuery requests by the credential scope of the signature; it checks no signature.
            let auth = format!(
                "AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
            );
            request = request.header("Authorization", auth);
        }
        let result = request.send(body).and_then(|mut r| {
            let status = r.status().as_u16();
            r.body_mut().read_to_string().map(|text| (status, text))
        });
        match result {
            Ok(answer) => answer,
            Err(ureq::Error::Timeout(_)) => {
                panic!("moto did not answer {what} within {} s", REQUEST_LIMIT.as_secs())
            }
            Err(e) => panic!("{what} to moto on 127.0.0.1:{} failed: {e}", self.port),
        }
    }

    /// A name no other test of this process has: `<prefix>-<n>`. Tests sharing the server isolate by it.
    pub fn unique(prefix: &str) -> String {
        format!("{prefix}-{}", UNIQUE.fetch_add(1, Ordering::Relaxed))
    }

    /// Creates a VPC and returns its id (plain EC2 Query requests: albsync does not use the EC2 SDK).
    pub fn create_vpc(&self, cidr: &str) -> String {
        self.create_vpc_as("testing", cidr)
    }

    /// [`Moto::create_vpc`] in the account of `access_key` (for example an assumed role's).
    pub fn create_vpc_as(&self, access_key: &str, cidr: &str) -> String {
        self.ec2_id_as(access_key, "CreateVpc", &[("CidrBlock", cidr)], "vpcId")
    }

    /// One EC2 Query request (`Action` plus `params`); the answer's XML. Anything but HTTP 200 panics with the
    /// answer. albsync reads EC2 without aws-sdk-ec2, and the tests set EC2 up without it too.
    pub fn ec2(&self, action: &str, params: &[(&str, &str)]) -> String {
        self.ec2_as("testing", action, params)
    }

    /// [`Moto::ec2`] in the account of `access_key` (for example an assumed role's).
    pub fn ec2_as(&self, access_key: &str, action: &str, params: &[(&str, &str)]) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action).append_pair("Version", "2016-11-15").extend_pairs(params);
        let body = form.finish();
        let (status, text) =
            self.post_as(access_key, action, "/", "application/x-www-form-urlencoded", Some("ec2"), &body);
        if status != 200 {
            panic!("{action} answered {status}: {text}");
        }
        text
    }

    /// One awsJson1_1 request (SSM, CloudWatch Logs) of `target` (`AmazonSSM.PutParameter`) signed for
    /// `service`; the answer's JSON text. Anything but HTTP 200 panics with the answer. The tests set up
    /// parameters and log records with this, not with the client under test.
    pub fn json(&self, service: &str, target: &str, body: &str) -> String {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let result = self
            .agent
            .post(format!("{}/", self.endpoint()))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", target)
            .header("Authorization", auth)
            .send(body)
            .and_then(|mut r| {
                let status = r.status().as_u16();
                r.body_mut().read_to_string().map(|text| (status, text))
            });
        match result {
            Ok((200, text)) => text,
            Ok((status, text)) => panic!("{target} answered {status}: {text}"),
            Err(ureq::Error::Timeout(_)) => {
                panic!("moto did not answer {target} within {} s", REQUEST_LIMIT.as_secs())
            }
            Err(e) => panic!("{target} to moto on 127.0.0.1:{} failed: {e}", self.port),
        }
    }

    /// The text of `tag` in the answer to an EC2 request, or a panic naming both.
    fn ec2_id(&self, action: &str, params: &[(&str, &str)], tag: &str) -> String {
        self.ec2_id_as("testing", action, params, tag)
    }

    fn ec2_id_as(&self, access_key: &str, action: &str, params: &[(&str, &str)], tag: &str) -> String {
        let text = self.ec2_as(access_key, action, params);
        match xml_text(&text, tag) {
            Some(id) => id.to_owned(),
            None => panic!("{action} answered without <{tag}>: {text}"),
        }
    }

    /// Creates a subnet; returns its id.
    pub fn create_subnet(&self, vpc: &str, cidr: &str) -> String {
        self.ec2_id("CreateSubnet", &[("VpcId", vpc), ("CidrBlock", cidr)], "subnetId")
    }

    /// Starts one instance in `subnet` (interfaces attached to it are `in-use`, as an ALB node's are); its id.
    pub fn run_instance(&self, subnet: &str) -> String {
        let params = [("ImageId", "ami-12c6146b"), ("MinCount", "1"), ("MaxCount", "1"), ("SubnetId", subnet)];
        self.ec2_id("RunInstances", &params, "instanceId")
    }

    /// Creates a network interface with `description` and the private address `ip`; returns its id.
    pub fn create_network_interface(&self, subnet: &str, description: &str, ip: &str) -> String {
        let params = [("SubnetId", subnet), ("Description", description), ("PrivateIpAddress", ip)];
        self.ec2_id("CreateNetworkInterface", &params, "networkInterfaceId")
    }

    /// Attaches an interface to an instance at `device`; returns the attachment id.
    pub fn attach_network_interface(&self, interface: &str, instance: &str, device: u32) -> String {
        let device = device.to_string();
        let params = [("NetworkInterfaceId", interface), ("InstanceId", instance), ("DeviceIndex", device.as_str())];
        self.ec2_id("AttachNetworkInterface", &params, "attachmentId")
    }

    /// Detaches an attachment.
    pub fn detach_network_interface(&self, attachment: &str) {
        self.ec2("DetachNetworkInterface", &[("AttachmentId", attachment)]);
    }

    /// Deletes an interface.
    pub fn delete_network_interface(&self, interface: &str) {
        self.ec2("DeleteNetworkInterface", &[("NetworkInterfaceId", interface)]);
    }

    /// Creates a VPC (10.0.0.0/16) and a TCP IP target group in it on `port`; returns the target group ARN.
    /// `name` must be unique in the shared server (see [`Moto::unique`]); at most 32 characters (ELB's rule).
    pub fn create_ip_target_group(&self, name: &str, port: u16) -> String {
        let vpc = self.create_vpc("10.0.0.0/16");
        let body = format!(
            "Action=CreateTargetGroup&Version=2015-12-01&Name={name}&Protocol=TCP&Port={port}&VpcId={vpc}&TargetType=ip"
        );
        let (status, text) = self.post(
            "CreateTargetGroup",
            "/",
            "application/x-www-form-urlencoded",
            Some("elasticloadbalancing"),
            &body,
        );
        match (status, xml_text(&text, "TargetGroupArn")) {
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

/// The text of the first `<tag>…</tag>` element of an awsQuery answer.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    xml.split(&format!("<{tag}>")).nth(1).and_then(|t| t.split('<').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_takes_the_first_element_and_nothing_else() {
        let xml = "<a><vpcId>vpc-1</vpcId><vpcId>vpc-2</vpcId></a>";
        assert_eq!(xml_text(xml, "vpcId"), Some("vpc-1"));
        assert_eq!(xml_text(xml, "TargetGroupArn"), None);
    }

    #[test]
    fn unique_names_never_repeat() {
        let names: std::collections::HashSet<String> = (0..100).map(|_| Moto::unique("tg")).collect();
        assert_eq!(names.len(), 100);
    }

    #[test]
    fn the_shared_server_is_one_server_and_serves_two_target_groups() {
        let a = Moto::shared();
        let b = Moto::shared();
        assert_eq!(a.endpoint(), b.endpoint());
        let one = a.create_ip_target_group(&Moto::unique("self"), 443);
        let two = b.create_ip_target_group(&Moto::unique("self"), 443);
        assert_ne!(one, two);
    }
}
