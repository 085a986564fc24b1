//! A target group in another account, reached with the binding's `roleArn`, against moto.
//!
//! moto keeps one backend per account, and credentials from sts:AssumeRole act in the assumed role's account
//! (https://docs.getmoto.org/en/latest/docs/multi_account.html), as on AWS: the target group below exists only
//! in account 210987654321, so the functions' own credentials (account 123456789012) cannot see it, and the
//! register handler reaches it only through the role. moto does not check trust or role policies: that
//! AssumeRole is refused without the target account's trust policy is AWS's part (README, "Target groups in
//! another account").

use albsync_aws::{Clients, ElbTargetGroup, RoleClients, TargetGroup};
use albsync_core::binding::RoleArn;
use albsync_functions::handlers::register;
use albsync_moto::Moto;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
use serde_json::json;

const OTHER_ACCOUNT: &str = "210987654321";

struct Other {
    role: RoleArn,
    tg_arn: String,
    /// ELB in the other account, as its owner sees it.
    elb: aws_sdk_elasticloadbalancingv2::Client,
    /// The functions' own clients (the default account).
    clients: Clients,
}

async fn other_account() -> Other {
    let moto = Moto::shared();
    let config = moto.sdk_config().await;
    let clients = Clients::new(&config);
    let role: RoleArn =
        format!("arn:aws:iam::{OTHER_ACCOUNT}:role/{}", Moto::unique("albsync-targets")).parse().expect("role ARN");
    let provider = AssumeRoleProvider::builder(role.as_str()).session_name("owner").configure(&config).build().await;
    let owner = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(provider)
        .load()
        .await;
    let key = owner.credentials_provider().expect("provider").provide_credentials().await.expect("assumed role");
    let vpc_id = moto.create_vpc_as(key.access_key_id(), "10.0.0.0/16");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&owner);
    let tg = elb
        .create_target_group()
        .name(Moto::unique("xacct"))
        .protocol(ProtocolEnum::Tcp)
        .port(443)
        .vpc_id(vpc_id)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .expect("target group in the other account");
    let tg_arn = tg.target_groups().first().and_then(|t| t.target_group_arn()).expect("arn").to_owned();
    Other { role, tg_arn, elb, clients }
}

fn binding(tg_arn: &str, role: Option<&RoleArn>) -> serde_json::Value {
    let mut b = json!({"name": "xacct", "dnsName": "alb.test", "port": 443, "targetGroupArn": tg_arn,
                       "vpcCidrs": ["10.0.0.0/16"]});
    if let Some(role) = role {
        b["roleArn"] = json!(role.as_str());
    }
    b
}

async fn registered(elb: &aws_sdk_elasticloadbalancingv2::Client, tg: &str) -> Vec<String> {
    let out = elb.describe_target_health().target_group_arn(tg).send().await.expect("describe");
    let mut ips: Vec<String> = out
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
        .collect();
    ips.sort();
    ips
}

#[tokio::test]
async fn register_reaches_the_other_accounts_target_group_only_through_the_bindings_role() {
    let o = other_account().await;
    assert!(o.tg_arn.contains(&format!(":{OTHER_ACCOUNT}:targetgroup/")), "{}", o.tg_arn);
    // A DNS-source binding: the interface reader is built (as in main) but never read.
    let interfaces = albsync_aws::Ec2NetworkInterfaces::new(&Moto::shared().sdk_config().await).expect("EC2 reader");
    let deps = register::Deps { targets: o.clients.target_group(), interfaces };
    let targets = json!([{"ip": "10.0.1.5", "port": 443}]);

    // Without the role the functions' own account has no such target group: nothing is registered.
    let err = register::handle(&deps, json!({"binding": binding(&o.tg_arn, None), "targets": targets}))
        .await
        .expect_err("own credentials cannot see another account's target group");
    assert!(format!("{err:?}").contains("TargetGroupNotFound"), "{err:?}");
    assert_eq!(registered(&o.elb, &o.tg_arn).await, Vec::<String>::new());

    let out = register::handle(&deps, json!({"binding": binding(&o.tg_arn, Some(&o.role)), "targets": targets}))
        .await
        .expect("registers with the role");
    assert_eq!(out.registered, 1);
    assert_eq!(registered(&o.elb, &o.tg_arn).await, ["10.0.1.5"]);
}

#[tokio::test]
async fn one_client_per_role_is_kept_and_reads_as_that_role() {
    let o = other_account().await;
    let roles = RoleClients::new(&o.clients.config);
    let first = roles.elb(&o.role).await;
    let _again = roles.elb(&o.role).await;
    assert_eq!(roles.cached(), 1);
    // The cached client acts in the role's account.
    first.describe_target_health().target_group_arn(&o.tg_arn).send().await.expect("visible with the role");

    let tg = o.clients.target_group();
    let scoped = tg.for_role(Some(&o.role)).await.expect("assumed");
    assert_eq!(scoped.describe(&o.tg_arn).await.expect("describe with the role"), vec![]);
    // An adapter built without role support refuses a role instead of using its own credentials.
    let plain = ElbTargetGroup::new(o.clients.elb.clone());
    let err = plain.for_role(Some(&o.role)).await.expect_err("no role support");
    assert!(err.to_string().contains("without role support"), "{err}");
}

/// An STS endpoint that refuses every AssumeRole, as STS does while the target account's trust policy does not
/// name the caller: a 403 with the Query protocol's `ErrorResponse` and code `AccessDenied`
/// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, "Errors";
/// https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html). moto never refuses, so this one
/// endpoint stands in for STS; every request it gets is counted.
fn refusing_sts() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Read the head and the body its Content-Length announces, then answer and close.
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= head_end + 4 + length {
                        break;
                    }
                }
            }
            count.fetch_add(1, Ordering::SeqCst);
            let body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
                <Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/albsync-register/x is \
                not authorized to perform: sts:AssumeRole</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_refused_assume_role_fails_register_as_access_denied_naming_the_role_and_registers_nothing() {
    let (sts, seen) = refusing_sts();
    // Every service at the refusing endpoint: the ELB call must never be reached without the role's credentials.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&sts)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .load()
        .await;
    let interfaces = albsync_aws::Ec2NetworkInterfaces::new(&config).expect("EC2 reader");
    let deps = register::Deps { targets: Clients::new(&config).target_group(), interfaces };
    let role: RoleArn = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/albsync-targets").parse().expect("role ARN");
    let tg = format!("arn:aws:elasticloadbalancing:us-east-1:{OTHER_ACCOUNT}:targetgroup/web/0123456789abcdef");
    let err = register::handle(
        &deps,
        json!({"binding": binding(&tg, Some(&role)), "targets": [{"ip": "10.0.1.5", "port": 443}]}),
    )
    .await
    .expect_err("the role is refused");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "Albsync.AccessDenied", "{}", diagnostic.error_message);
    assert!(
        diagnostic.error_message.contains("sts:AssumeRole") && diagnostic.error_message.contains(role.as_str()),
        "names the refused role: {}",
        diagnostic.error_message
    );
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) >= 1, "STS was asked");
}
