//! The trigger against moto's Step Functions, driven with CloudTrail events in the shape EventBridge delivers
//! them ("AWS API Call via CloudTrail", `tests/fixtures/cloudtrail-*.json`).

use albsync_aws::{Clients, SfnExecutions};
use albsync_functions::handlers::trigger::{Deps, TriggerResult, handle};
use albsync_moto::Moto;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = albsync_moto::repo_root().join("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture JSON")
}

fn binding(name: &str, eni: Option<Value>) -> Value {
    let mut b = json!({
        "name": name, "dnsName": "alb.test", "port": 443,
        "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
        "vpcCidrs": ["10.0.0.0/16"]
    });
    if let Some(eni) = eni {
        b["eni"] = eni;
    }
    b
}

struct World {
    clients: Clients,
    deps: Deps<SfnExecutions>,
}

async fn world() -> World {
    let moto = Moto::shared();
    let clients = Clients::new(&moto.sdk_config().await);
    // A one-state machine: what matters here is which executions exist and with which input.
    let definition = json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}).to_string();
    let sm = clients
        .sfn
        .create_state_machine()
        .name(Moto::unique("albsync"))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/albsync")
        .send()
        .await
        .expect("state machine");
    let web = json!({"loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"});
    let api = json!({"loadBalancerName": "api", "loadBalancerId": "0123456789abcdef"});
    let bindings = [binding("web", Some(web)), binding("api", Some(api)), binding("rds", None)]
        .into_iter()
        .map(|v| (serde_json::from_value(v.clone()).expect("binding"), v))
        .collect();
    let deps = Deps {
        executions: SfnExecutions::new(clients.sfn.clone()),
        state_machine_arn: sm.state_machine_arn().to_owned(),
        bindings,
    };
    World { clients, deps }
}

impl World {
    async fn trigger(&self, event: Value) -> Result<TriggerResult, Diagnostic> {
        handle(&self.deps, event).await.map_err(Diagnostic::from)
    }

    /// (name, input) of every execution, sorted by name.
    async fn executions(&self) -> Vec<(String, Value)> {
        let list = self.clients.sfn.list_executions().state_machine_arn(&self.deps.state_machine_arn).send();
        let mut out = Vec::new();
        for e in list.await.expect("list").executions() {
            let d =
                self.clients.sfn.describe_execution().execution_arn(e.execution_arn()).send().await.expect("describe");
            out.push((e.name().to_owned(), serde_json::from_str(d.input().unwrap_or("null")).expect("input JSON")));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[tokio::test]
async fn a_creation_starts_its_binding_once_however_often_it_is_delivered() {
    let w = world().await;
    let event = fixture("cloudtrail-create-network-interface.json");
    let first = w.trigger(event.clone()).await.expect("trigger");
    assert_eq!(first.runs.len(), 1, "only the ALB of the description: {first:?}");
    assert_eq!((first.runs[0].binding.as_str(), first.runs[0].started), ("web", true));
    assert_eq!(first.runs[0].name, "eni-created-web-20261201T133000");
    let again = w.trigger(event.clone()).await.expect("redelivery");
    assert!(!again.runs[0].started, "a redelivered event starts nothing new");
    // Another interface of the same ALB 20 s later, in the same burst window: the same run.
    let mut burst = event.clone();
    burst["detail"]["eventTime"] = json!("2026-12-01T13:30:27Z");
    burst["detail"]["eventID"] = json!("another-event");
    assert!(!w.trigger(burst).await.expect("burst").runs[0].started);
    let executions = w.executions().await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0].1, w.deps.bindings[0].1, "the input is the binding exactly as configured");
}

#[tokio::test]
async fn a_deletion_starts_every_eni_binding_and_an_unbound_alb_starts_nothing() {
    let w = world().await;
    let done = w.trigger(fixture("cloudtrail-delete-network-interface.json")).await.expect("trigger");
    let names: Vec<&str> = done.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["eni-deleted-web-20261201T135230", "eni-deleted-api-20261201T135230"]);
    let mut other = fixture("cloudtrail-create-network-interface.json");
    other["detail"]["requestParameters"]["description"] = json!("ELB app/other/fedcba9876543210");
    other["detail"]["responseElements"]["networkInterface"]["description"] = json!("ELB app/other/fedcba9876543210");
    assert!(w.trigger(other).await.expect("other ALB").runs.is_empty());
    assert_eq!(w.executions().await.len(), 2);
}

#[tokio::test]
async fn events_that_are_not_elb_interface_calls_are_refused_by_name() {
    let w = world().await;
    let mut by_user = fixture("cloudtrail-create-network-interface.json");
    by_user["detail"]["userIdentity"] = json!({"type": "IAMUser", "userName": "alice"});
    by_user["detail"]["sourceIPAddress"] = json!("203.0.113.7");
    let err = w.trigger(by_user).await.expect_err("not ELB");
    assert_eq!(err.error_type, "Albsync.InvalidInput");
    assert!(err.error_message.contains("elasticloadbalancing.amazonaws.com"), "{}", err.error_message);
    let err = w.trigger(json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})).await;
    assert_eq!(err.expect_err("not CloudTrail").error_type, "Albsync.InvalidInput");
    let mut failed = fixture("cloudtrail-create-network-interface.json");
    failed["detail"]["errorCode"] = json!("Client.UnauthorizedOperation");
    assert!(w.trigger(failed).await.expect("a failed call").runs.is_empty(), "a failed call changed nothing");
    assert!(w.executions().await.is_empty());
}
