//! The state machine definition against the one list of error names.
//!
//! `statemachine/errors.json` is generated from `ErrorName::ALL` (run with `ALBSYNC_BLESS=1` to rewrite
//! it); the CDK tests read it, so it must never drift from the Rust list.

use std::collections::BTreeSet;
use std::path::PathBuf;

use albsync_core::ErrorName;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn definition() -> Value {
    let text = std::fs::read_to_string(repo("statemachine/albsync.asl.json")).expect("definition readable");
    serde_json::from_str(&text).expect("definition is JSON")
}

/// Every (state name, field, error names) of Retry and Catch, Map iterations included.
fn matchers(states: &Value, out: &mut Vec<(String, &'static str, Vec<String>)>) {
    let Some(states) = states.as_object() else { return };
    for (name, state) in states {
        for field in ["Retry", "Catch"] {
            for entry in state[field].as_array().into_iter().flatten() {
                let names = entry["ErrorEquals"].as_array().expect("ErrorEquals").iter();
                out.push((name.clone(), field, names.map(|n| n.as_str().expect("string").to_owned()).collect()));
            }
        }
        matchers(&state["ItemProcessor"]["States"], out);
    }
}

#[test]
fn the_published_error_list_matches_the_rust_list() {
    let path = repo("statemachine/errors.json");
    let expected = ErrorName::catalogue_json();
    if std::env::var_os("ALBSYNC_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write errors.json");
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(found, expected, "statemachine/errors.json is stale: run `ALBSYNC_BLESS=1 cargo test -p albsync-core`");
}

#[test]
fn every_error_name_the_definition_matches_exists_and_only_retryable_ones_are_retried() {
    let mut all = Vec::new();
    matchers(&definition()["States"], &mut all);
    assert!(!all.is_empty());
    let mut retried = BTreeSet::new();
    for (state, field, names) in &all {
        for n in names.iter().filter(|n| n.starts_with("Albsync.")) {
            let name = ErrorName::from_type(n).unwrap_or_else(|| panic!("{state}.{field} matches unknown {n}"));
            if *field == "Retry" {
                assert!(name.retryable(), "{state} retries {n}, which the functions call not retryable");
                retried.insert(name);
            }
        }
        for n in names.iter().filter(|n| !n.starts_with("Albsync.")) {
            assert!(n.starts_with("Lambda.") || n.starts_with("States."), "{state}.{field}: unexpected {n}");
        }
    }
    let retryable: BTreeSet<_> = ErrorName::ALL.into_iter().filter(|n| n.retryable()).collect();
    assert_eq!(retried, retryable, "every retryable name is retried somewhere");
}

#[test]
fn the_definition_uses_exactly_the_documented_placeholders() {
    let text = std::fs::read_to_string(repo("statemachine/albsync.asl.json")).expect("readable");
    let found: BTreeSet<&str> =
        text.split("${").skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| name).collect();
    let expected: BTreeSet<&str> =
        ["ResolveFunctionArn", "DiffFunctionArn", "RegisterFunctionArn", "DeregisterFunctionArn"].into_iter().collect();
    assert_eq!(found, expected);
}

#[test]
fn every_task_retries_lambda_service_errors_with_full_jitter() {
    let def = definition();
    for (name, state) in def["States"].as_object().expect("states") {
        if state["Type"] != "Task" {
            continue;
        }
        let retries = state["Retry"].as_array().unwrap_or_else(|| panic!("{name} has no Retry"));
        assert!(
            retries.iter().any(|r| r["ErrorEquals"].to_string().contains("Lambda.ServiceException")),
            "{name} does not retry Lambda service errors"
        );
        for r in retries {
            assert_eq!(r["JitterStrategy"], "FULL", "{name}");
            assert!(r["MaxAttempts"].as_u64().is_some_and(|n| (1..=5).contains(&n)), "{name}: bounded attempts");
        }
        assert!(state["Catch"].is_array(), "{name} has no Catch");
    }
}
