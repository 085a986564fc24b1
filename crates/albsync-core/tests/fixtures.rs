//! The JSON exchanged with the state machine, as files: each fixture parses into its type and serializes
//! back to the same JSON, so a renamed field or a changed default breaks here before it breaks a run.

use std::path::PathBuf;

use albsync_core::events::{
    DeregisterRequest, DeregisterResult, DiffEvent, PlanResult, RegisterRequest, RegisterResult, ResolveEvent,
    Resolved, SaveResult,
};
use albsync_core::{Binding, StateDocument};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let json = fixture(name);
    let typed: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(serde_json::to_value(&typed).expect("serializes"), json, "{name} does not round-trip");
    typed
}

#[test]
fn every_fixture_round_trips_through_its_type() {
    round_trip::<Binding>("binding.json");
    round_trip::<ResolveEvent>("resolve-event.json");
    round_trip::<Resolved>("resolved.json");
    assert!(matches!(round_trip::<DiffEvent>("diff-plan-event.json"), DiffEvent::Plan(_)));
    assert!(matches!(round_trip::<DiffEvent>("diff-save-event.json"), DiffEvent::Save(_)));
    let plan = round_trip::<PlanResult>("plan-result.json");
    assert_eq!(plan.plan.register[0].availability_zone.as_deref(), Some("all"));
    round_trip::<SaveResult>("save-result.json");
    round_trip::<RegisterRequest>("register-event.json");
    round_trip::<RegisterResult>("register-result.json");
    round_trip::<DeregisterRequest>("deregister-event.json");
    round_trip::<DeregisterResult>("deregister-result.json");
    round_trip::<StateDocument>("state-document.json");
}

#[test]
fn the_state_document_fixture_is_accepted_by_its_binding() {
    let binding: Binding = serde_json::from_value(fixture("binding.json")).expect("binding");
    let bytes = serde_json::to_vec(&fixture("state-document.json")).expect("bytes");
    let doc = StateDocument::parse(&bytes, "k", &binding).expect("parses");
    assert_eq!(doc.pending.values().copied().collect::<Vec<_>>(), vec![2]);
}
