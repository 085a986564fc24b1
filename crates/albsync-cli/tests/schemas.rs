//! The JSON Schemas in `schemas/` describe what `--output json` prints. They are generated from the output
//! structs (schemars, the serialize contract: what the CLI writes, every field present), checked in so that
//! users and the end-to-end tests can read them, and kept equal to the code here: a field added, renamed or
//! removed fails `cargo test` until the files are regenerated with
//! `ALBSYNC_BLESS=1 cargo test -p albsync-cli --test schemas`. Every document the pure code builds is then
//! validated against its file with a real validator (the jsonschema crate); the end-to-end tests validate the
//! real outputs of the binary the same way (Python jsonschema).

use std::collections::BTreeSet;
use std::net::IpAddr;

use albsync_cli::asl;
use albsync_cli::events::{AttemptEnd, Event, Kind};
use albsync_cli::graph::Graph;
use albsync_cli::preview::Preview;
use albsync_cli::status::Status;
use albsync_cli::timeline::{ExecutionInfo, Timeline};
use albsync_cli::world::{Saved, Stored};
use albsync_core::events::{Resolved, Strategy};
use albsync_core::plan::plan;
use albsync_core::target::{HealthState, RegisteredTarget};
use albsync_core::{Binding, StateDocument};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

const DEFINITION: &str = include_str!("../../../statemachine/albsync.asl.json");

/// The commands whose `--output json` has a schema: (file name, command line).
const DOCUMENTS: [(&str, &str); 4] = [
    ("status", "albsync status --output json"),
    ("plan", "albsync plan --output json"),
    ("graph", "albsync graph --output json"),
    ("history", "albsync history --output json"),
];

fn path_of(name: &str) -> String {
    format!("{}/schemas/{name}.schema.json", env!("CARGO_MANIFEST_DIR"))
}

fn generate<T: JsonSchema>(name: &str, title: &str) -> Value {
    let schema = SchemaSettings::draft2020_12().for_serialize().into_generator().into_root_schema_for::<T>();
    let mut doc = schema.to_value();
    doc["$id"] = json!(format!("https://github.com/albsync/albsync/crates/albsync-cli/schemas/{name}.schema.json"));
    doc["title"] = json!(title);
    doc
}

/// The schema the code generates for `name`.
fn generated(name: &str) -> Value {
    let title = DOCUMENTS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect("known document");
    match name {
        "status" => generate::<Status>(name, title),
        "plan" => generate::<Preview>(name, title),
        "graph" => generate::<Graph>(name, title),
        "history" => generate::<Timeline>(name, title),
        other => panic!("no schema for {other}"),
    }
}

/// The schema file as checked in.
fn schema(name: &str) -> Value {
    let text = std::fs::read_to_string(path_of(name)).expect("schema file");
    serde_json::from_str(&text).expect("schema is JSON")
}

#[test]
fn the_schema_files_are_the_ones_the_structs_generate() {
    let bless = std::env::var_os("ALBSYNC_BLESS").is_some();
    for (name, _) in DOCUMENTS {
        let want = generated(name);
        if bless {
            let text = serde_json::to_string_pretty(&want).expect("serializes") + "\n";
            std::fs::write(path_of(name), text).expect("write schema");
        }
        assert_eq!(
            schema(name),
            want,
            "schemas/{name}.schema.json is out of date: ALBSYNC_BLESS=1 cargo test -p albsync-cli --test schemas"
        );
    }
}

#[test]
fn the_validator_refuses_what_the_schemas_forbid() {
    // The checks below are worth something only if the schemas reject a wrong document.
    let b = binding();
    let good = serde_json::to_value(Status::build(&b, Ok(&resolved()), &stored(&b), 1_795_608_000)).expect("status");
    let validator = jsonschema::validator_for(&schema("status")).expect("valid schema");
    assert!(validator.is_valid(&good));
    let mut extra = good.clone();
    extra["surprise"] = json!(1);
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("inSync");
    let mut wrong_type = good.clone();
    wrong_type["port"] = json!("443");
    let mut wrong_enum = good;
    wrong_enum["dns"]["strategy"] = json!("guessed");
    for bad in [extra, missing, wrong_type, wrong_enum] {
        assert!(!validator.is_valid(&bad), "accepted: {bad:#}");
    }
}

fn assert_valid(name: &str, doc: &impl serde::Serialize) {
    let v = serde_json::to_value(doc).expect("serializes");
    let validator = jsonschema::validator_for(&schema(name)).expect("valid schema");
    let problems: Vec<String> = validator.iter_errors(&v).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(problems.is_empty(), "{name}: {problems:#?}\n{v:#}");
}

fn binding() -> Binding {
    Binding::from_json(
        r#"{"name":"web","dnsName":"alb.test","port":443,"vpcCidrs":["10.0.0.0/16"],
            "targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"}"#,
    )
    .expect("binding")
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([10, 0, 1, last])
}

fn resolved() -> Resolved {
    Resolved {
        addresses: [ip(1), ip(3)].into_iter().collect(),
        strategy: Strategy::All,
        queries: 1,
        sought: BTreeSet::new(),
        confirmed: BTreeSet::new(),
        resolution: Default::default(),
    }
}

fn stored(b: &Binding) -> Stored {
    let doc = StateDocument::new(b, vec![ip(1), ip(2)], [(ip(2), 2)].into_iter().collect(), "t".into(), "x".into());
    Stored {
        registered: vec![
            RegisteredTarget { ip: ip(1), port: 443, state: HealthState::Healthy, availability_zone: None },
            RegisteredTarget { ip: ip(2), port: 443, state: HealthState::UnhealthyDraining, availability_zone: None },
            RegisteredTarget { ip: ip(9), port: 80, state: HealthState::Initial, availability_zone: None },
        ],
        saved: Saved::Found(doc),
        bucket: "albsync-state".into(),
        key: "albsync/k.json".into(),
    }
}

#[test]
fn status_documents_match_their_schema_with_and_without_dns() {
    let b = binding();
    let r = resolved();
    assert_valid("status", &Status::build(&b, Ok(&r), &stored(&b), 1_795_608_000));
    let mut absent = stored(&b);
    absent.saved = Saved::Invalid("broken".into());
    assert_valid("status", &Status::build(&b, Err("SERVFAIL".into()), &absent, 1_795_608_000));
}

#[test]
fn plan_documents_match_their_schema() {
    let b = binding();
    let r = resolved();
    let s = stored(&b);
    let Saved::Found(doc) = &s.saved else { panic!("fixture has a document") };
    let p = plan(&b, &r, &s.registered, Some(doc), 1_795_608_000);
    assert_valid("plan", &Preview::build(&b, &r, 1, &s.registered, &p, true, &s.key));
}

#[test]
fn graph_documents_match_their_schema_marked_or_not() {
    let machine = asl::parse(DEFINITION).expect("definition");
    let mut g = Graph::of(&machine);
    assert_valid("graph", &g);
    // Marked with a real path: retries, a Map iteration and a failure, so every marking field is exercised.
    let info = ExecutionInfo { arn: "arn:x".into(), status: "FAILED".into(), ..ExecutionInfo::default() };
    let t = Timeline::build(&info, &events());
    g.mark(&t.execution_arn, &t.states);
    let v = serde_json::to_value(&g).expect("graph");
    let resolve = v["nodes"].as_array().and_then(|n| n.iter().find(|n| n["name"] == "Resolve")).expect("Resolve");
    assert_eq!((resolve["visits"].as_u64(), resolve["retries"].as_u64()), (Some(1), Some(1)), "{resolve:#}");
    assert!(v["edges"].as_array().is_some_and(|e| e.iter().any(|e| e["taken"] == true)), "{v:#}");
    assert_valid("graph", &g);
}

#[test]
fn history_documents_match_their_schema_running_or_done() {
    let running = ExecutionInfo {
        arn: "arn:x".into(),
        status: "RUNNING".into(),
        input: Some(json!({"name": "web"})),
        ..ExecutionInfo::default()
    };
    assert_valid("history", &Timeline::build(&running, &[]));
    let done = ExecutionInfo {
        status: "FAILED".into(),
        stop_ms: Some(5),
        error: Some("ResolutionFailed".into()),
        cause: Some("DNS".into()),
        ..running
    };
    assert_valid("history", &Timeline::build(&done, &events()));
}

/// Resolve fails once and is retried, then a Map with one iteration, then the execution fails.
fn events() -> Vec<Event> {
    let entered = |name: &str, t: &str| Kind::StateEntered { name: name.into(), state_type: t.into() };
    let kinds = vec![
        Kind::ExecutionStarted,
        entered("Resolve", "Task"),
        Kind::AttemptScheduled,
        Kind::AttemptEnded { end: AttemptEnd::Failed, error: Some("Albsync.DnsTimeout".into()), cause: None },
        Kind::AttemptScheduled,
        Kind::AttemptEnded { end: AttemptEnd::Succeeded, error: None, cause: None },
        Kind::StateExited { name: "Resolve".into() },
        entered("CountGrace", "Map"),
        Kind::MapStarted { items: 1 },
        Kind::IterationStarted { map: "CountGrace".into(), index: 0 },
        entered("GraceReached", "Choice"),
        Kind::StateExited { name: "GraceReached".into() },
        Kind::IterationEnded { map: "CountGrace".into(), index: 0, failed: false },
        Kind::StateExited { name: "CountGrace".into() },
        entered("Oops", "Fail"),
        Kind::ExecutionEnded { status: "FAILED".into(), error: Some("ResolutionFailed".into()), cause: None },
    ];
    kinds.into_iter().zip(1..).map(|(kind, id)| Event { id, previous: id - 1, at_ms: id, kind }).collect()
}
