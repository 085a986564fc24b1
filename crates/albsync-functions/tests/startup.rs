//! Each function binary fails at start, before asking for an event, with one line naming the bad variable.

use std::process::Command;

fn start(bin: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(bin)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .envs(env.iter().copied())
        .output()
        .expect("binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).trim().to_owned())
}

#[test]
fn resolve_names_a_missing_or_bad_variable() {
    let bin = env!("CARGO_BIN_EXE_albsync-resolve");
    let (ok, err) = start(bin, &[]);
    assert!(!ok);
    assert_eq!(err, "albsync-resolve: configuration error: ALBSYNC_METRIC_NAMESPACE: is not set");
    let (ok, err) = start(bin, &[("ALBSYNC_METRIC_NAMESPACE", "AlbSync")]);
    assert!(!ok);
    assert_eq!(err, "albsync-resolve: configuration error: ALBSYNC_DEPLOYMENT: is not set");
    let (ok, err) = start(
        bin,
        &[("ALBSYNC_METRIC_NAMESPACE", "AlbSync"), ("ALBSYNC_DEPLOYMENT", "prod"), ("ALBSYNC_DNS_SERVER", "localhost")],
    );
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ALBSYNC_DNS_SERVER: \"localhost\""), "{err}");
}

#[test]
fn diff_names_a_missing_or_bad_variable() {
    let bin = env!("CARGO_BIN_EXE_albsync-diff");
    let (ok, err) = start(bin, &[("ALBSYNC_STATE_BUCKET", "state")]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ALBSYNC_STATE_PREFIX: is not set"), "{err}");
    let (ok, err) = start(
        bin,
        &[("ALBSYNC_STATE_BUCKET", "state"), ("ALBSYNC_STATE_PREFIX", "a/"), ("ALBSYNC_METRIC_NAMESPACE", "AWS/X")],
    );
    assert!(!ok);
    assert!(err.contains("ALBSYNC_METRIC_NAMESPACE: \"AWS/X\" is reserved"), "{err}");
}
