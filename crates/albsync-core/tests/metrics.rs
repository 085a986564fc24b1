//! The published metric list against the Rust one.
//!
//! `statemachine/metrics.json` is generated from `Metric::ALL` (run with `ALBSYNC_BLESS=1` to rewrite it);
//! the CDK tests read it to check that alarms and the dashboard use exactly these names and dimensions.

use std::path::PathBuf;

use albsync_core::metrics::Metric;

#[test]
fn the_published_metric_list_matches_the_rust_list() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../statemachine/metrics.json");
    let expected = Metric::catalogue_json();
    if std::env::var_os("ALBSYNC_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write metrics.json");
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(found, expected, "statemachine/metrics.json is stale: run `ALBSYNC_BLESS=1 cargo test -p albsync-core`");
}
