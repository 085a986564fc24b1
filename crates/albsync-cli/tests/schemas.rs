//! The JSON Schemas in `schemas/` describe what `--output json` prints: every document the pure code builds is
//! checked against its schema here (a small validator for the subset the schemas use: `type`, `enum`,
//! `properties` with `required` and `additionalProperties: false`, `items`, `oneOf`, `$ref`), so a field added,
//! renamed or removed in the code fails `cargo test` until the schema follows. The end-to-end tests validate
//! real outputs with the full `jsonschema` validator.

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
use serde_json::{Value, json};

const DEFINITION: &str = include_str!("../../../statemachine/albsync.asl.json");

fn schema(name: &str) -> Value {
    let path = format!("{}/schemas/{name}.schema.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("schema file");
    serde_json::from_str(&text).expect("schema is JSON")
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// Problems of `v` against `s`, with JSON paths.
fn check(root: &Value, s: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return check(root, &root["$defs"][name], v, at, out);
    }
    if let Some(options) = s.get("oneOf").and_then(Value::as_array) {
        let fits = options.iter().filter(|o| {
            let mut errs = Vec::new();
            check(root, o, v, at, &mut errs);
            errs.is_empty()
        });
        if fits.count() != 1 {
            out.push(format!("{at}: matches not exactly one of oneOf"));
        }
        return;
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        out.push(format!("{at}: {v} not in enum"));
    }
    match s.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => out.push(format!("{at}: {v} is not {t}")),
        Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)) => {
            out.push(format!("{at}: {v} is none of {ts:?}"));
        }
        _ => {}
    }
    if let (Some(props), Some(obj)) = (s.get("properties").and_then(Value::as_object), v.as_object()) {
        let declared: BTreeSet<&String> = props.keys().collect();
        let present: BTreeSet<&String> = obj.keys().collect();
        if s.get("additionalProperties") == Some(&Value::Bool(false)) && present != declared {
            out.push(format!("{at}: keys {present:?} differ from the schema's {declared:?}"));
        }
        for req in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !obj.contains_key(req) {
                out.push(format!("{at}: missing required {req}"));
            }
        }
        for (k, sub) in props {
            if let Some(child) = obj.get(k) {
                check(root, sub, child, &format!("{at}.{k}"), out);
            }
        }
    }
    if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"), out);
        }
    }
    if let (Some(extra), Some(obj)) = (s.get("additionalProperties").filter(|a| a.is_object()), v.as_object()) {
        for (k, child) in obj {
            check(root, extra, child, &format!("{at}.{k}"), out);
        }
    }
}

fn assert_valid(name: &str, doc: &impl serde::Serialize) {
    let s = schema(name);
    let v = serde_json::to_value(doc).expect("serializes");
    let mut problems = Vec::new();
    check(&s, &s, &v, "$", &mut problems);
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
    assert_valid("status", &Status::build(&b, Ok(&r), &stored(&b)));
    let mut absent = stored(&b);
    absent.saved = Saved::Invalid("broken".into());
    assert_valid("status", &Status::build(&b, Err("SERVFAIL".into()), &absent));
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
    let info = ExecutionInfo { arn: "arn:x".into(), status: "SUCCEEDED".into(), ..ExecutionInfo::default() };
    let t = Timeline::build(&info, &[]);
    g.mark(&t.execution_arn, &t.states);
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
