//! The handlers against real stand-ins: moto for AWS, a DNS server on 127.0.0.1.
//!
//! Each test drives the functions the way the state machine does (resolve, plan, save, register,
//! deregister) and asserts through the AWS APIs what changed. All tests share one moto server
//! ([`Moto::shared`]); each has a target group, a bucket and a DNS server of its own.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albsync_aws::{
    AwsError, AwsErrorKind, Clients, ElbTargetGroup, EmfMetrics, S3StateStore, StateStore, Stored, TargetGroup,
    WriteCondition,
};
use albsync_core::events::{PlanResult, Resolved, SaveResult};
use albsync_core::plan::count_grace;
use albsync_core::target::TargetSpec;
use albsync_functions::handlers::{deregister, diff, register, resolve};
use albsync_moto::Moto;
use albsync_testdns::{Record, TestDns};
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};

const PREFIX: &str = "albsync/";

struct World {
    dns: TestDns,
    clients: Clients,
    /// The EC2 interface reader the diff uses, for tests that build a diff of their own.
    ec2: albsync_aws::Ec2NetworkInterfaces,
    tg_arn: String,
    bucket: String,
    /// Every line the functions' metrics wrote, as stdout would hold them.
    log: Log,
    resolve: resolve::Deps<EmfMetrics<Log>>,
    diff: diff::Deps<ElbTargetGroup, S3StateStore>,
    register: register::Deps<ElbTargetGroup>,
    deregister: deregister::Deps<ElbTargetGroup, S3StateStore>,
    /// The binding's `eni` field; `None`: DNS only.
    eni: Option<Value>,
    /// This world's ALB id (16 hex digits), unique within the shared moto.
    alb_id: String,
    /// The unix second of the last run: with `slotSeconds: 1`, each run waits for a second of its own.
    last_run: Mutex<u64>,
    grace_runs: u32,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).expect("clock after 1970")
}

fn ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, i)
}

/// A shared stdout stand-in: what both functions' metrics wrote, in order.
#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Takes the lines written so far, each parsed as JSON.
    fn take(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.0.lock().expect("log"));
        let text = String::from_utf8(bytes).expect("utf-8");
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}"))).collect()
    }
}

impl World {
    async fn new() -> World {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let clients = Clients::new(&sdk);
        let ec2 = albsync_aws::Ec2NetworkInterfaces::new(&sdk).expect("EC2 reader");
        let tg_arn = moto.create_ip_target_group(&Moto::unique("web"), 443);
        let bucket = Moto::unique("state");
        clients.s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
        let dns = TestDns::start().await.expect("dns");
        let log = Log::default();
        let metrics = || EmfMetrics::new("AlbSync", "albsync-test", log.clone()).expect("metric settings");
        World {
            resolve: resolve::Deps { metrics: metrics(), dns_server: Some(dns.addr()) },
            diff: diff::Deps {
                targets: ElbTargetGroup::new(clients.elb.clone()),
                store: S3StateStore::new(clients.s3.clone(), &bucket),
                prefix: PREFIX.to_owned(),
                metrics: Box::new(metrics()),
                interfaces: ec2.clone(),
            },
            log,
            register: register::Deps { targets: ElbTargetGroup::new(clients.elb.clone()), interfaces: ec2.clone() },
            deregister: deregister::Deps {
                targets: ElbTargetGroup::new(clients.elb.clone()),
                store: S3StateStore::new(clients.s3.clone(), &bucket),
                prefix: PREFIX.to_owned(),
                interfaces: ec2.clone(),
            },
            last_run: Mutex::new(0),
            grace_runs: 2,
            dns,
            clients,
            ec2,
            tg_arn,
            bucket,
            eni: None,
            alb_id: format!("{:0>16}", Moto::unique("a").replace('-', "")),
        }
    }

    fn binding(&self) -> Value {
        let mut b = json!({
            "name": "web", "dnsName": "alb.test", "port": 443, "targetGroupArn": self.tg_arn,
            "vpcCidrs": ["10.0.0.0/16"], "graceRuns": self.grace_runs, "graceSeconds": 1, "slotSeconds": 1,
            "lookup": {"timeoutMs": 300, "maxQueries": 60}
        });
        if let Some(eni) = &self.eni {
            b["eni"] = eni.clone();
        }
        b
    }

    /// DNS answers `ips` for the name and for `all.<name>`, as an ALB's zone does (the resolver asks both).
    fn answer(&self, ips: &[u8]) {
        self.dns.set("alb.test", Record::a(ips.iter().map(|i| ip(*i))));
        self.dns.set("all.alb.test", Record::a(ips.iter().map(|i| ip(*i))));
    }

    async fn registered(&self) -> Vec<IpAddr> {
        let t = ElbTargetGroup::new(self.clients.elb.clone());
        t.describe(&self.tg_arn).await.expect("describe").into_iter().map(|t| t.ip).collect()
    }

    /// Waits until the clock is past the second of the previous run: a slot of its own for this run.
    async fn next_slot(&self) {
        let last = *self.last_run.lock().expect("lock");
        while unix_now() <= last {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        *self.last_run.lock().expect("lock") = unix_now();
    }

    /// One whole run, as the state machine chains it, in a schedule slot of its own; returns the plan.
    async fn run(&self, execution: &str) -> Result<PlanResult, Diagnostic> {
        self.next_slot().await;
        self.run_now(execution).await
    }

    /// One whole run without waiting for a new slot (a duplicate execution of the same minute).
    async fn run_now(&self, execution: &str) -> Result<PlanResult, Diagnostic> {
        let binding = self.binding();
        let resolved: Resolved = resolve::handle(&self.resolve, json!({ "binding": binding })).await?;
        let plan = self.plan(&resolved).await?;
        if plan.plan.noop {
            return Ok(plan);
        }
        let saved = self.save(&plan, execution).await?;
        if !plan.plan.register.is_empty() {
            let event = json!({"binding": binding, "targets": plan.plan.register});
            register::handle(&self.register, event).await?;
        }
        let counted = count_grace(&plan.plan);
        if counted.iter().any(|c| c.expired) {
            self.deregister(&plan, &saved, execution).await?;
        }
        Ok(plan)
    }

    async fn save(&self, plan: &PlanResult, execution: &str) -> Result<SaveResult, Diagnostic> {
        let save = json!({"op": "save", "binding": self.binding(), "etag": plan.etag, "active": plan.plan.active,
                          "counted": count_grace(&plan.plan), "countedSlot": plan.plan.counted_slot,
                          "held": plan.plan.held, "evidence": plan.plan.evidence, "execution": execution});
        Ok(serde_json::from_value(diff::handle(&self.diff, save).await?).expect("save result"))
    }

    async fn deregister(
        &self,
        plan: &PlanResult,
        saved: &SaveResult,
        execution: &str,
    ) -> Result<albsync_core::events::DeregisterResult, Diagnostic> {
        let event = json!({"binding": self.binding(), "counted": count_grace(&plan.plan), "active": plan.plan.active,
                           "etag": saved.etag, "execution": execution});
        Ok(deregister::handle(&self.deregister, event).await?)
    }

    /// Resolve and plan in a slot of their own, stopping before the save: the steps that follow are the test's.
    async fn plan_in_next_slot(&self) -> PlanResult {
        self.next_slot().await;
        let resolved: Resolved =
            resolve::handle(&self.resolve, json!({ "binding": self.binding() })).await.expect("resolve");
        self.plan(&resolved).await.expect("plan")
    }

    async fn plan(&self, resolved: &Resolved) -> Result<PlanResult, Diagnostic> {
        self.plan_event(json!({"op": "plan", "binding": self.binding(), "resolved": resolved})).await
    }

    async fn plan_event(&self, event: Value) -> Result<PlanResult, Diagnostic> {
        Ok(serde_json::from_value(diff::handle(&self.diff, event).await?).expect("plan result"))
    }

    /// A plan as Diff makes it inside an execution that started at `started_at` (`$$.Execution.StartTime`).
    async fn plan_started(&self, resolved: &Resolved, started_at: &str) -> Result<PlanResult, Diagnostic> {
        self.plan_event(json!({"op": "plan", "binding": self.binding(), "resolved": resolved, "startedAt": started_at}))
            .await
    }

    /// The state document's key: `<prefix><dnsName>/<target group name>-<id>/<port>.json`.
    fn state_key(&self) -> String {
        let mut parts = self.tg_arn.rsplit('/');
        let (id, name) = (parts.next().expect("id"), parts.next().expect("name"));
        format!("{PREFIX}alb.test/{name}-{id}/443.json")
    }

    async fn state(&self) -> Option<albsync_aws::Stored> {
        self.diff.store.read(&self.state_key()).await.expect("read state")
    }
}

fn ips(list: &[u8]) -> Vec<IpAddr> {
    list.iter().map(|i| IpAddr::V4(ip(*i))).collect()
}

#[tokio::test]
async fn a_whole_cycle_registers_counts_and_removes_after_the_grace() {
    let w = World::new().await;
    w.answer(&[1, 2, 3]);
    let first = w.run("e1").await.expect("first run");
    assert_eq!(first.etag, None, "first run has no state yet");
    assert_eq!(w.registered().await, ips(&[1, 2, 3]));
    let state = w.state().await.expect("state written");

    let steady = w.run("e2").await.expect("steady run");
    assert!(steady.plan.noop, "{steady:?}");
    assert_eq!(w.state().await.expect("state").etag, state.etag, "a steady run writes nothing");

    w.answer(&[1, 2, 4]);
    w.run("e3").await.expect("3 vanished once");
    assert_eq!(w.registered().await, ips(&[1, 2, 3, 4]), "new address registered at once, old one kept");
    w.run("e4").await.expect("3 vanished twice");
    assert_eq!(w.registered().await, ips(&[1, 2, 4]), "removed after graceRuns = 2 runs");
    let next = w.run("e5").await.expect("after removal");
    assert_eq!(next.plan.forgotten, ips(&[3]));
}

#[tokio::test]
async fn a_corrupt_state_document_fails_the_plan_and_stays_untouched() {
    let w = World::new().await;
    w.answer(&[1]);
    w.run("e1").await.expect("first run");
    let key = w.state_key();
    w.clients.s3.put_object().bucket(&w.bucket).key(&key).body(b"{oops".to_vec().into()).send().await.expect("put");
    let err = w.run("e2").await.expect_err("corrupt");
    assert_eq!(err.error_type, "Albsync.StateDocumentInvalid");
    assert!(err.error_message.contains(&key), "{}", err.error_message);
    assert_eq!(w.state().await.expect("still there").bytes, b"{oops");
}

#[tokio::test]
async fn a_malformed_evidence_field_fails_the_plan_naming_it_and_a_save_carrying_one_is_refused() {
    let w = World::new().await;
    w.answer(&[1]);
    w.run("e1").await.expect("first run");
    let key = w.state_key();
    let mut doc: Value = serde_json::from_slice(&w.state().await.expect("saved").bytes).expect("json");
    doc["evidence"] = json!({"absence": {"10.0.1.9": {"answers": "many", "addresses": 12, "perAnswer": 8}}});
    let bytes = serde_json::to_vec(&doc).expect("bytes");
    w.clients.s3.put_object().bucket(&w.bucket).key(&key).body(bytes.clone().into()).send().await.expect("put");
    let err = w.run("e2").await.expect_err("malformed evidence");
    assert_eq!(err.error_type, "Albsync.StateDocumentInvalid");
    assert!(err.error_message.contains("field `evidence`"), "{}", err.error_message);
    assert_eq!(w.state().await.expect("still there").bytes, bytes, "left as it is");

    let save = json!({"op": "save", "binding": w.binding(), "etag": null, "active": [],
                      "evidence": {"absence": {"10.0.1.9": {"answers": 0, "addresses": 12, "perAnswer": 8}}},
                      "execution": "e3"});
    let err: Diagnostic = diff::handle(&w.diff, save).await.expect_err("refused").into();
    assert!(err.error_message.contains("evidence.absence 10.0.1.9"), "{}", err.error_message);
    assert_eq!(w.state().await.expect("still there").bytes, bytes, "nothing written");
}

#[tokio::test]
async fn two_saves_from_one_read_leave_one_winner() {
    let w = World::new().await;
    w.answer(&[1, 2]);
    w.run("e1").await.expect("first run");
    w.answer(&[1]);
    let resolved: Resolved = resolve::handle(&w.resolve, json!({"binding": w.binding()})).await.expect("resolve");
    let plan = w.plan(&resolved).await.expect("plan");
    let counted = count_grace(&plan.plan);
    let save = |who: &str| {
        json!({"op": "save", "binding": w.binding(), "etag": plan.etag, "active": plan.plan.active,
               "counted": counted, "countedSlot": plan.plan.counted_slot, "execution": who})
    };
    let (a, b) = tokio::join!(diff::handle(&w.diff, save("a")), diff::handle(&w.diff, save("b")));
    let results = [a, b];
    let ok: Vec<SaveResult> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|v| serde_json::from_value(v.clone()).expect("save"))
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].pending, 1, "the winner's counter is saved");
    let lost: Diagnostic = results.into_iter().find_map(Result::err).expect("one lost").into();
    assert_eq!(lost.error_type, "Albsync.StateConflict");
}

#[tokio::test]
async fn dns_failures_reach_step_functions_under_their_names() {
    let w = World::new().await;
    let name_of = |r: Result<Resolved, albsync_functions::edge::FunctionError>| -> String {
        Diagnostic::from(r.expect_err("fails")).error_type
    };
    let event = json!({"binding": w.binding()});
    assert_eq!(name_of(resolve::handle(&w.resolve, event.clone()).await), "Albsync.DnsNameNotFound");
    w.dns.set("alb.test", Record::a([]));
    assert_eq!(name_of(resolve::handle(&w.resolve, event.clone()).await), "Albsync.DnsNoAddresses");
    w.dns.set("alb.test", Record::fault(albsync_testdns::Mode::ServFail));
    assert_eq!(name_of(resolve::handle(&w.resolve, event.clone()).await), "Albsync.DnsUnavailable");
    w.dns.set("alb.test", Record::fault(albsync_testdns::Mode::Drop));
    assert_eq!(name_of(resolve::handle(&w.resolve, event.clone()).await), "Albsync.DnsTimeout");
    w.dns.set("alb.test", Record::a([ip(1), Ipv4Addr::new(8, 8, 8, 8)]));
    assert_eq!(name_of(resolve::handle(&w.resolve, event.clone()).await), "Albsync.ForeignAddress");
    let bad = json!({"binding": {"name": "web"}});
    assert_eq!(name_of(resolve::handle(&w.resolve, bad).await), "Albsync.InvalidInput");
}

#[tokio::test]
async fn a_scale_in_beyond_the_cap_removes_up_to_the_cap_each_run_and_converges_without_a_rail() {
    let w = World::new().await;
    w.answer(&[1, 2, 3, 4]);
    w.run("e1").await.expect("first run");
    w.answer(&[1]);
    w.run("e2").await.expect("three addresses missing once");
    w.run("e3").await.expect("3 of 4 expired: the cap of 2 removes two, no rail trips");
    assert_eq!(w.registered().await.len(), 2, "two removed, one held back");
    let doc = w.state().await.expect("state");
    let doc: Value = serde_json::from_slice(&doc.bytes).expect("json");
    assert_eq!(doc["pending"].as_object().map(|p| p.len()), Some(3), "the held-back one keeps its count");
    w.run("e4").await.expect("the rest goes next run");
    assert_eq!(w.registered().await, ips(&[1]));
}

#[tokio::test]
async fn a_late_deregister_after_another_run_reset_the_count_removes_nothing() {
    let w = World::new().await;
    w.answer(&[1, 2, 3]);
    w.run("e1").await.expect("first run");
    w.answer(&[1, 2]);
    w.run("e2").await.expect("3 missing once");
    // Run A counts 3 to expiry and saves; before its Deregister runs, run B sees 3 back and resets it.
    w.next_slot().await;
    let resolved: Resolved = resolve::handle(&w.resolve, json!({"binding": w.binding()})).await.expect("resolve");
    let a = w.plan(&resolved).await.expect("plan A");
    assert!(count_grace(&a.plan).iter().any(|c| c.expired), "A expires 3: {a:?}");
    let saved_a = w.save(&a, "run-a").await.expect("A saves");
    w.answer(&[1, 2, 3]);
    w.run("run-b").await.expect("B resets the count of 3");
    let late = w.deregister(&a, &saved_a, "run-a").await.expect_err("A's Deregister is late");
    assert_eq!(late.error_type, "Albsync.StateConflict", "{}", late.error_message);
    assert_eq!(w.registered().await, ips(&[1, 2, 3]), "3 is live and stays");
}

#[tokio::test]
async fn a_hand_registered_foreign_target_is_reported_and_kept_while_dns_adds_an_address() {
    let w = World::new().await;
    w.answer(&[1]);
    w.run("e1").await.expect("first run");
    // Someone registers a target outside allowedCidrs (the binding allows the private ranges only).
    let foreign: IpAddr = "203.0.113.7".parse().expect("ip");
    let by_hand = [TargetSpec { ip: foreign, port: 443, availability_zone: Some("all".into()) }];
    ElbTargetGroup::new(w.clients.elb.clone()).register(&w.tg_arn, &by_hand).await.expect("by hand");
    w.answer(&[1, 2]);
    for run in ["e2", "e3", "e4"] {
        let p = w.run(run).await.expect("a foreign target never fails the run");
        assert_eq!(p.plan.foreign.iter().map(|t| t.ip).collect::<Vec<_>>(), vec![foreign], "{run}");
        assert!(p.plan.missing.iter().all(|m| m.ip != foreign), "never counted");
    }
    let mut want = ips(&[1, 2]);
    want.push(foreign);
    assert_eq!(w.registered().await, want, "the new address is registered, the foreign one left alone");
}

#[tokio::test]
async fn duplicate_executions_in_one_slot_count_once() {
    let mut w = World::new().await;
    w.grace_runs = 10;
    w.answer(&[1, 2, 3]);
    w.run("e1").await.expect("first run");
    w.answer(&[1, 2]);
    // Five executions back to back: however many share a second (a slot), each slot counts one look.
    let mut slots = std::collections::BTreeSet::new();
    for i in 0..5 {
        let p = w.run_now(&format!("dup-{i}")).await.expect("a duplicate run is safe");
        slots.insert(p.plan.slot);
    }
    let doc: Value = serde_json::from_slice(&w.state().await.expect("state").bytes).expect("json");
    let misses = doc["pending"]["10.0.1.3"].as_u64().expect("3 pending");
    assert_eq!(misses, slots.len() as u64, "one count per slot, not per execution");
    assert!(w.registered().await.contains(&IpAddr::V4(ip(3))), "grace of 10 looks: still registered");
}

#[tokio::test]
async fn a_duplicate_planned_seconds_later_counts_in_the_slot_its_execution_started_in() {
    let mut w = World::new().await;
    w.grace_runs = 10;
    w.answer(&[1, 2, 3]);
    w.run("e1").await.expect("first run");
    w.answer(&[1, 2]);
    w.next_slot().await;
    let started = albsync_core::state::rfc3339_utc(unix_now());
    let resolved: Resolved = resolve::handle(&w.resolve, json!({ "binding": w.binding() })).await.expect("resolve");
    let first = w.plan_started(&resolved, &started).await.expect("plan");
    assert!(!first.plan.slot_counted);
    w.save(&first, "dup-a").await.expect("save");
    w.next_slot().await; // the duplicate's Diff runs in a later second than its start (cold start, retries)
    let late = w.plan_started(&resolved, &started).await.expect("plan");
    assert!(late.plan.slot_counted, "the duplicate's look was counted by the first: it carries");
    assert_eq!(count_grace(&late.plan)[0].misses, 1);
    let err = w.plan_started(&resolved, "yesterday").await.expect_err("an unreadable start is bad input");
    assert_eq!(err.error_type, "Albsync.InvalidInput");
    assert!(err.error_message.contains("startedAt"), "{}", err.error_message);
}

/// A state store whose write commits and then reports a lost condition, as an SDK retry does when its
/// first attempt committed but the answer was lost.
#[derive(Debug)]
struct CommitsThenConflicts(S3StateStore);

impl StateStore for CommitsThenConflicts {
    async fn read(&self, key: &str) -> Result<Option<Stored>, AwsError> {
        self.0.read(key).await
    }
    async fn write(&self, key: &str, bytes: Vec<u8>, condition: WriteCondition) -> Result<String, AwsError> {
        self.0.write(key, bytes, condition).await?;
        Err(AwsError::new(AwsErrorKind::Conflict, "s3:PutObject", "PreconditionFailed (HTTP 412): retried attempt"))
    }
}

#[tokio::test]
async fn a_save_whose_first_attempt_committed_is_not_superseded() {
    let w = World::new().await;
    w.answer(&[1]);
    let resolved: Resolved = resolve::handle(&w.resolve, json!({"binding": w.binding()})).await.expect("resolve");
    let plan = w.plan(&resolved).await.expect("plan");
    let deps = diff::Deps {
        targets: ElbTargetGroup::new(w.clients.elb.clone()),
        store: CommitsThenConflicts(S3StateStore::new(w.clients.s3.clone(), &w.bucket)),
        prefix: PREFIX.to_owned(),
        metrics: Box::new(EmfMetrics::new("AlbSync", "albsync-test", w.log.clone()).expect("metric settings")),
        interfaces: w.ec2.clone(),
    };
    let save = |who: &str| {
        json!({"op": "save", "binding": w.binding(), "etag": plan.etag, "active": plan.plan.active,
               "counted": [], "countedSlot": null, "execution": who})
    };
    let out: SaveResult =
        serde_json::from_value(diff::handle(&deps, save("me")).await.expect("own write")).expect("save result");
    assert_eq!(Some(out.etag), w.state().await.map(|s| s.etag), "the ETag of the document this run wrote");
    // A document written by another execution is a real loss.
    let err: Diagnostic = diff::handle(&deps, save("someone-else")).await.expect_err("lost").into();
    assert_eq!(err.error_type, "Albsync.StateConflict");
}

#[tokio::test]
async fn register_refuses_foreign_addresses_and_accepts_allowed_ones_outside_the_vpc() {
    let w = World::new().await;
    let event = json!({"binding": w.binding(), "targets": [{"ip": "8.8.8.8", "port": 443}]});
    let err: Diagnostic = register::handle(&w.register, event).await.expect_err("foreign").into();
    assert_eq!(err.error_type, "Albsync.ForeignAddress");
    assert!(w.registered().await.is_empty());
    let event = json!({"binding": w.binding(), "targets": [{"ip": "10.9.0.1", "port": 443}]});
    register::handle(&w.register, event).await.expect("outside the VPC, inside the allowed ranges");
    // moto does not report a target's zone back; the zone decision is asserted in the handler's unit tests.
    assert_eq!(w.registered().await, vec!["10.9.0.1".parse::<IpAddr>().expect("ip")]);
}

/// Checks one log line against the members the EMF specification requires
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
/// `_aws.Timestamp` (milliseconds since the epoch), `_aws.CloudWatchMetrics` (directives with `Namespace`,
/// `Dimensions` as arrays of at most 30 names, `Metrics` of at most 100 definitions with a `Name` and a valid
/// `Unit`), and every dimension (a string) and metric (a number) a directive names, as a top-level member.
fn check_emf(doc: &Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("the root is not an object")?;
    let meta = root.get("_aws").and_then(Value::as_object).ok_or("no _aws object")?;
    let ts = meta.get("Timestamp").and_then(Value::as_u64).ok_or("_aws.Timestamp is not a non-negative integer")?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    // CloudWatch rejects metrics more than two weeks old or two hours ahead; ours are written now.
    if ts.abs_diff(now) > 2 * 3600 * 1000 {
        return Err(format!("_aws.Timestamp {ts} is not in milliseconds around now ({now})"));
    }
    let directives =
        meta.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("no _aws.CloudWatchMetrics array")?;
    if directives.is_empty() {
        return Err("_aws.CloudWatchMetrics is empty".into());
    }
    let units = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    for d in directives {
        let ns = d.get("Namespace").and_then(Value::as_str).ok_or("a directive has no Namespace string")?;
        if ns.is_empty() || ns.len() > 255 {
            return Err(format!("Namespace {ns:?} is not 1 to 255 characters"));
        }
        let sets = d.get("Dimensions").and_then(Value::as_array).ok_or("a directive has no Dimensions array")?;
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("a dimension set has more than 30 dimensions".into());
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(format!("dimension {name} is not a top-level string member"));
                }
            }
        }
        let metrics = d.get("Metrics").and_then(Value::as_array).ok_or("a directive has no Metrics array")?;
        if metrics.len() > 100 {
            return Err("more than 100 metrics in one directive".into());
        }
        for m in metrics {
            let name = m.get("Name").and_then(Value::as_str).ok_or("a metric definition has no Name string")?;
            if let Some(unit) = m.get("Unit")
                && !unit.as_str().is_some_and(|u| units.contains(&u))
            {
                return Err(format!("metric {name} has unit {unit}, not a CloudWatch unit"));
            }
            if !root.get(name).is_some_and(Value::is_number) {
                return Err(format!("metric {name} is not a top-level number member"));
            }
        }
    }
    Ok(())
}

/// The one metric directive of an albsync line, as (namespace, dimension sets, metric names).
fn directive(doc: &Value) -> (String, Value, Vec<String>) {
    let d = &doc["_aws"]["CloudWatchMetrics"][0];
    let names = d["Metrics"].as_array().expect("metrics").iter().map(|m| m["Name"].as_str().expect("name").to_owned());
    (d["Namespace"].as_str().expect("namespace").to_owned(), d["Dimensions"].clone(), names.collect())
}

#[tokio::test]
async fn every_run_writes_emf_lines_with_the_in_sync_figures() {
    let w = World::new().await;
    w.answer(&[1, 2, 3]);
    w.run("e1").await.expect("first run");
    w.log.take();
    w.answer(&[1, 2, 4]);
    w.run("e2").await.expect("3 vanished, 4 appeared");
    let lines = w.log.take();
    assert_eq!(lines.len(), 2, "one line from resolve, one from the plan: {lines:?}");
    for line in &lines {
        check_emf(line).unwrap_or_else(|e| panic!("not EMF: {e}: {line}"));
        let (namespace, dimensions, _) = directive(line);
        assert_eq!(namespace, "AlbSync");
        assert_eq!(dimensions, json!([["Deployment", "Binding"]]));
        assert_eq!((&line["Deployment"], &line["Binding"]), (&json!("albsync-test"), &json!("web")));
    }
    assert_eq!(directive(&lines[0]).2, vec!["ResolvedAddresses"]);
    assert_eq!(lines[0]["ResolvedAddresses"], 3);
    let (_, _, names) = directive(&lines[1]);
    assert_eq!(names, ["RegisteredTargets", "HealthyTargets", "PendingAddresses", "MaxPendingMisses", "Drift"]);
    // Before this run registered anything: 1, 2, 3 registered and healthy (moto reports healthy at once);
    // 4 to register and 3 counted once: two addresses of drift.
    let figures: Vec<&Value> = names.iter().map(|n| &lines[1][n.as_str()]).collect();
    assert_eq!(figures, [&json!(3), &json!(3), &json!(1), &json!(1), &json!(2)]);

    w.run("e3").await.expect("3 removed after the grace");
    w.log.take();
    w.run("e4").await.expect("steady");
    let lines = w.log.take();
    assert_eq!(lines[1]["Drift"], 0, "in sync: {}", lines[1]);
    assert_eq!(lines[1]["RegisteredTargets"], 3);
}

/// An ALB's interfaces in moto's EC2: attached to an instance, which makes them `in-use` as an ALB node's are.
struct Interfaces {
    subnet: String,
    instance: String,
    next_device: u32,
    /// Interface and attachment id per address.
    ids: std::collections::BTreeMap<u8, (String, String)>,
    /// `ELB app/web/<the world's ALB id>`: the tests share one moto, so each ALB has an id of its own.
    description: String,
}

impl Interfaces {
    async fn new(w: &World) -> Interfaces {
        let moto = Moto::shared();
        let vpc = moto.create_vpc("10.0.0.0/16");
        let subnet = moto.create_subnet(&vpc, "10.0.1.0/24");
        let instance = moto.run_instance(&subnet);
        let description = format!("ELB app/web/{}", w.alb_id);
        Interfaces { subnet, instance, next_device: 1, ids: Default::default(), description }
    }

    /// A node's interface appears, in use, with address 10.0.1.<last>.
    async fn add(&mut self, last: u8) {
        let moto = Moto::shared();
        let id = moto.create_network_interface(&self.subnet, &self.description, &ip(last).to_string());
        let attachment = moto.attach_network_interface(&id, &self.instance, self.next_device);
        self.next_device += 1;
        self.ids.insert(last, (id, attachment));
    }

    /// The node is gone: its interface is detached and deleted.
    async fn remove(&mut self, last: u8) {
        let (id, attachment) = self.ids.remove(&last).expect("known interface");
        Moto::shared().detach_network_interface(&attachment);
        Moto::shared().delete_network_interface(&id);
    }
}

fn eni_source(w: &World, early: bool) -> Value {
    let arn = format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/{}", w.alb_id);
    json!({"loadBalancerArn": arn, "registerEarly": early})
}

#[tokio::test]
async fn eni_source_refuses_an_answered_address_that_is_on_no_interface() {
    let mut w = World::new().await;
    w.eni = Some(eni_source(&w, true));
    let mut interfaces = Interfaces::new(&w).await;
    interfaces.add(1).await;
    w.answer(&[1, 9]);
    let err = w.run("e1").await.expect_err("9 is not the ALB's");
    assert_eq!(err.error_type, "Albsync.NotAnInterfaceAddress");
    assert!(
        err.error_message.contains("10.0.1.9") && err.error_message.contains(&format!("ELB app/web/{}", w.alb_id)),
        "{}",
        err.error_message
    );
    assert!(w.registered().await.is_empty(), "nothing registered");
    assert!(w.state().await.is_none(), "nothing saved");
}

/// An ENI-source world (early registration on) with two nodes, 10.0.1.1 and .2: interfaces in use, both in DNS.
async fn two_node_eni_world() -> (World, Interfaces) {
    let mut w = World::new().await;
    w.eni = Some(eni_source(&w, true));
    let mut interfaces = Interfaces::new(&w).await;
    interfaces.add(1).await;
    interfaces.add(2).await;
    w.answer(&[1, 2]);
    (w, interfaces)
}

#[tokio::test]
async fn eni_source_never_counts_an_in_use_interface_that_dns_no_longer_answers() {
    let (w, mut interfaces) = two_node_eni_world().await;
    w.run("e1").await.expect("first run");
    // The node behind 2 drains: out of DNS, its interface still in use. Far beyond graceRuns = 2.
    w.answer(&[1]);
    for run in 2..7 {
        let plan = w.run(&format!("e{run}")).await.expect("draining run");
        assert!(plan.plan.missing.is_empty(), "run {run} counts 2: {:?}", plan.plan);
        assert_eq!(w.registered().await, ips(&[1, 2]), "run {run}");
    }
    // Now the interface goes: 2 needs no more looks, only the time grace (graceSeconds 1 here), so it is
    // counted at the grace in the next run and removed in the one after, a slot later.
    interfaces.remove(2).await;
    let plan = w.run("e7").await.expect("interface gone");
    assert_eq!(plan.plan.missing.iter().map(|m| m.ip).collect::<Vec<_>>(), ips(&[2]), "{:?}", plan.plan);
    assert_eq!(w.registered().await, ips(&[1, 2]), "first missed just now: the time grace holds it");
    w.run("e8").await.expect("time grace over");
    assert_eq!(w.registered().await, ips(&[1]));
}

#[tokio::test]
async fn eni_source_registers_a_new_interface_before_dns_only_when_asked() {
    let mut w = World::new().await;
    w.eni = Some(eni_source(&w, false));
    let mut interfaces = Interfaces::new(&w).await;
    interfaces.add(1).await;
    w.answer(&[1]);
    w.run("e1").await.expect("first run");
    interfaces.add(3).await;
    let plan = w.run("e2").await.expect("new interface, option off");
    assert!(plan.plan.noop, "{:?}", plan.plan);
    assert_eq!(w.registered().await, ips(&[1]));
    w.eni = Some(eni_source(&w, true));
    w.run("e3").await.expect("new interface, option on");
    assert_eq!(w.registered().await, ips(&[1, 3]), "registered before DNS answers it");
    // DNS catches up: nothing more to do, and nothing was counted meanwhile.
    w.answer(&[1, 3]);
    let plan = w.run("e4").await.expect("dns caught up");
    assert!(plan.plan.register.is_empty() && plan.plan.missing.is_empty(), "{:?}", plan.plan);
}

#[tokio::test]
async fn eni_source_register_leaves_out_an_address_whose_interface_was_deleted_after_the_diff() {
    let (w, mut interfaces) = two_node_eni_world().await;
    let plan = w.plan_in_next_slot().await;
    assert_eq!(plan.plan.register.iter().map(|t| t.ip).collect::<Vec<_>>(), ips(&[1, 2]));
    w.save(&plan, "e1").await.expect("save");
    // In the seconds between Diff and Register, node 2 goes and its interface is deleted.
    interfaces.remove(2).await;
    let event = json!({"binding": w.binding(), "targets": plan.plan.register});
    let result = register::handle(&w.register, event).await.expect("register");
    assert_eq!((result.registered, result.skipped.clone()), (1, ips(&[2])), "{result:?}");
    assert_eq!(w.registered().await, ips(&[1]), "nothing off the interfaces is registered");
}

#[tokio::test]
async fn eni_source_deregister_spares_an_address_a_new_interface_took_after_the_diff() {
    let (w, mut interfaces) = two_node_eni_world().await;
    w.run("e1").await.expect("first run");
    // Node 2 goes: its interface is deleted, so 2 is counted at the grace and expires in the next slot.
    interfaces.remove(2).await;
    w.answer(&[1]);
    w.run("e2").await.expect("interface gone");
    let plan = w.plan_in_next_slot().await;
    assert!(count_grace(&plan.plan).iter().any(|c| c.expired && c.ip == ips(&[2])[0]), "{:?}", plan.plan);
    let saved = w.save(&plan, "e3").await.expect("save");
    // Between Diff and Deregister the subnet gives the freed address to a new node's interface.
    interfaces.add(2).await;
    let result = w.deregister(&plan, &saved, "e3").await.expect("deregister");
    assert_eq!((result.deregistered, result.spared.clone()), (0, ips(&[2])), "{result:?}");
    assert_eq!(w.registered().await, ips(&[1, 2]), "the new node's address stays registered");
}

/// An EC2 reader whose endpoint refuses every connection (nothing listens on port 1 of 127.0.0.1).
async fn unreachable_ec2() -> albsync_aws::Ec2NetworkInterfaces {
    let sdk = Moto::shared().sdk_config().await.to_builder().endpoint_url("http://127.0.0.1:1").build();
    albsync_aws::Ec2NetworkInterfaces::new(&sdk).expect("EC2 reader")
}

#[tokio::test]
async fn eni_source_register_and_deregister_fail_retryably_and_change_nothing_when_the_interfaces_cannot_be_read() {
    let (w, mut interfaces) = two_node_eni_world().await;
    let broken = unreachable_ec2().await;
    // Register: the plan wants 1 and 2, but without a fresh read of the interfaces nothing may be registered.
    let plan = w.plan_in_next_slot().await;
    w.save(&plan, "e1").await.expect("save");
    let register = register::Deps { targets: ElbTargetGroup::new(w.clients.elb.clone()), interfaces: broken.clone() };
    let event = json!({"binding": w.binding(), "targets": plan.plan.register});
    let err = Diagnostic::from(register::handle(&register, event).await.expect_err("no read, no registration"));
    assert_eq!(err.error_type, "Albsync.AwsUnavailable", "{}", err.error_message);
    assert!(err.error_message.contains("DescribeNetworkInterfaces"), "{}", err.error_message);
    assert!(w.registered().await.is_empty(), "registered without reading the interfaces");
    // Deregister: 2 expires as in the test above, but the read just before DeregisterTargets fails.
    w.run("e2").await.expect("register both");
    interfaces.remove(2).await;
    w.answer(&[1]);
    w.run("e3").await.expect("interface gone");
    let plan = w.plan_in_next_slot().await;
    assert!(count_grace(&plan.plan).iter().any(|c| c.expired), "{:?}", plan.plan);
    let saved = w.save(&plan, "e4").await.expect("save");
    let deregister = deregister::Deps {
        targets: ElbTargetGroup::new(w.clients.elb.clone()),
        store: S3StateStore::new(w.clients.s3.clone(), &w.bucket),
        prefix: PREFIX.to_owned(),
        interfaces: broken,
    };
    let event = json!({"binding": w.binding(), "counted": count_grace(&plan.plan), "active": plan.plan.active,
                       "etag": saved.etag, "execution": "e4"});
    let err = Diagnostic::from(deregister::handle(&deregister, event).await.expect_err("no read, no removal"));
    assert_eq!(err.error_type, "Albsync.AwsUnavailable", "{}", err.error_message);
    assert_eq!(w.registered().await, ips(&[1, 2]), "deregistered without reading the interfaces");
}

/// The world's binding under another name and DNS name, on the same target group and port.
fn binding_as(w: &World, name: &str, dns_name: &str) -> Value {
    let mut b = w.binding();
    b["name"] = name.into();
    b["dnsName"] = dns_name.into();
    b
}

async fn plan_as(
    w: &World,
    deps: &diff::Deps<ElbTargetGroup, impl StateStore>,
    binding: &Value,
) -> Result<Value, Diagnostic> {
    let resolved: Resolved = resolve::handle(&w.resolve, json!({"binding": binding})).await.expect("resolve");
    Ok(diff::handle(deps, json!({"op": "plan", "binding": binding, "resolved": resolved})).await?)
}

fn owner_key(w: &World) -> String {
    let mut parts = w.tg_arn.rsplit('/');
    let (id, name) = (parts.next().expect("id"), parts.next().expect("name"));
    format!("{PREFIX}owners/{name}-{id}/443.owner.json")
}

#[tokio::test]
async fn a_second_binding_on_the_same_target_group_and_port_is_refused_and_changes_nothing() {
    let w = World::new().await;
    w.answer(&[1, 2]);
    w.run("e1").await.expect("the first binding's first run claims the target group and port");
    let state = w.state().await.expect("state");
    let owner = w.diff.store.read(&owner_key(&w)).await.expect("read").expect("ownership record written");
    let record: Value = serde_json::from_slice(&owner.bytes).expect("json");
    assert_eq!((record["binding"].as_str(), record["dnsName"].as_str()), (Some("web"), Some("alb.test")));

    w.dns.set("other.test", Record::a([ip(7)]));
    w.dns.set("all.other.test", Record::a([ip(7)]));
    // Another DNS name (a state document of its own), the same DNS name under another name (the owner's
    // state document), and the owner's name on another DNS name.
    for (name, dns_name) in [("api", "other.test"), ("api", "alb.test"), ("web", "other.test")] {
        let err = plan_as(&w, &w.diff, &binding_as(&w, name, dns_name)).await.expect_err("refused");
        assert_eq!(err.error_type, "Albsync.TargetGroupPortOwned", "{name} on {dns_name}: {}", err.error_message);
        let m = &err.error_message;
        let (claimant, key) = (format!("{name:?} ({dns_name})"), owner_key(&w));
        let parts: [&str; 5] = ["\"web\" (alb.test)", &claimant, &w.tg_arn, "port 443", &key];
        for part in parts {
            assert!(m.contains(part), "{m} lacks {part}");
        }
    }
    assert_eq!(w.registered().await, ips(&[1, 2]), "nothing registered or deregistered");
    assert_eq!(w.state().await.expect("state").etag, state.etag, "the owner's state document untouched");
    let after = w.diff.store.read(&owner_key(&w)).await.expect("read").expect("record");
    assert_eq!(after.etag, owner.etag, "the ownership record untouched");
    let mut arn = w.tg_arn.rsplit('/');
    let (id, tg_name) = (arn.next().expect("id"), arn.next().expect("name"));
    let other_key = format!("{PREFIX}other.test/{tg_name}-{id}/443.json");
    assert_eq!(w.diff.store.read(&other_key).await.expect("read"), None, "no state document for the refused one");

    w.answer(&[1, 2, 3]);
    w.run("e2").await.expect("the owner goes on");
    assert_eq!(w.registered().await, ips(&[1, 2, 3]));
}

#[tokio::test]
async fn of_two_bindings_starting_together_on_one_target_group_and_port_exactly_one_claims_it() {
    let w = World::new().await;
    w.answer(&[1]);
    w.dns.set("other.test", Record::a([ip(7)]));
    w.dns.set("all.other.test", Record::a([ip(7)]));
    let (web, api) = (w.binding(), binding_as(&w, "api", "other.test"));
    let (a, b) = tokio::join!(plan_as(&w, &w.diff, &web), plan_as(&w, &w.diff, &api));
    let refused: Vec<&Diagnostic> = [&a, &b].into_iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{a:?} {b:?}");
    assert_eq!(refused[0].error_type, "Albsync.TargetGroupPortOwned");
    let record = w.diff.store.read(&owner_key(&w)).await.expect("read").expect("record");
    let record: Value = serde_json::from_slice(&record.bytes).expect("json");
    let winner = if a.is_ok() { "web" } else { "api" };
    assert_eq!(record["binding"].as_str(), Some(winner), "the record names the binding whose plan went on");
}

/// Counts the store calls a plan makes.
struct Counting(S3StateStore, std::sync::atomic::AtomicUsize);

impl StateStore for Counting {
    async fn read(&self, key: &str) -> Result<Option<Stored>, AwsError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.read(key).await
    }

    async fn write(&self, key: &str, bytes: Vec<u8>, condition: WriteCondition) -> Result<String, AwsError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.write(key, bytes, condition).await
    }
}

#[tokio::test]
async fn a_plan_with_a_state_document_of_its_own_binding_spends_no_call_on_ownership() {
    let w = World::new().await;
    w.answer(&[1]);
    w.run("e1").await.expect("first run");
    let deps = diff::Deps {
        targets: ElbTargetGroup::new(w.clients.elb.clone()),
        store: Counting(S3StateStore::new(w.clients.s3.clone(), &w.bucket), Default::default()),
        prefix: PREFIX.to_owned(),
        metrics: Box::new(EmfMetrics::new("AlbSync", "albsync-test", w.log.clone()).expect("metric settings")),
        interfaces: w.ec2.clone(),
    };
    plan_as(&w, &deps, &w.binding()).await.expect("steady plan");
    assert_eq!(deps.store.1.load(std::sync::atomic::Ordering::SeqCst), 1, "only the state document is read");
}
