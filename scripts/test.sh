#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it): sets up what is missing, then runs every check.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    skips the arm64 release build and the CDK app
# Every step runs even after one fails, so one red step does not hide the others; a summary table (step,
# result, seconds) closes the output, and the exit status is non-zero if any step failed.
#
# Time: on a 2-core machine the suite is bound by CPU while it compiles and by waiting (schedule slots, DNS
# caches, moto) while it tests. So the steps that need nothing from each other run side by side ("beside"):
# the debug build while the tools install, the arm64 release build as soon as cargo-lambda is installed, and
# after the debug build the Rust tests, the CDK app's tests and the end-to-end suite together. A step beside the others writes into a log, printed when it is joined. (The suite
# must hold on a busy machine anyway: its timeouts state intent, not the machine's speed.)
#
# ALBSYNC_LINT_IN_BUILD=1 (.ci/run sets it, for a clean clone): clippy lints albsync's crates while they are
# compiled for the tests, the way `cargo clippy` itself runs it (clippy-driver as the workspace's rustc
# wrapper, lints denied as with `-D warnings`), instead of a separate `cargo clippy`, which checks every
# dependency a second time. Off by default: the wrapper is part of the build's fingerprint, so albsync's own
# crates would be compiled again by the next plain `cargo build`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
quick=0
case "${1:-}" in
    "") ;;
    --quick) quick=1 ;;
    *) echo "test.sh: unknown argument '$1' (give --quick or nothing)" >&2; exit 2 ;;
esac

passed=0
failed=0
summary=()
record() { # name, exit status, seconds
    local result="ok"
    if [[ $2 -eq 0 ]]; then
        passed=$((passed + 1))
    else
        result="FAILED (exit $2)"
        failed=$((failed + 1))
    fi
    echo "=== $1: $result ($3 s)"
    summary+=("$(printf '%-62s %-16s %6s' "$1" "$result" "$3")")
}
step() { # name, command...: in the foreground
    local name="$1"; shift
    echo
    echo "=== $name"
    local t0=$SECONDS rc=0
    "$@" || rc=$?
    record "$name" "$rc" "$((SECONDS - t0))"
}

logs="$(mktemp -d)"
declare -A bg_pid=() bg_log=()
kill_tree() { # pid: the process and everything it started (cargo's rustc jobs, pytest's stand-ins)
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}
# An interrupted or failed run leaves nothing behind.
trap 'for p in "${bg_pid[@]}"; do kill_tree "$p"; done; rm -rf "$logs"' EXIT
beside() { # name, command...: in the background, into a log; `join NAME` waits for it and records it
    local name="$1"; shift
    local log
    log="$logs/${#bg_log[@]}.log"
    bg_log[$name]="$log"
    echo
    echo "=== $name: started beside the next steps (its output is printed when it is joined)"
    ( t0=$SECONDS; rc=0; "$@" >"$log" 2>&1 || rc=$?; echo "$rc $((SECONDS - t0))" >"$log.rc" ) &
    bg_pid[$name]=$!
}
join() { # name: waits for a step started by `beside`, prints its output, records it
    local name="$1" t0=$SECONDS rc took
    wait "${bg_pid[$name]}" || true
    unset "bg_pid[$name]"
    read -r rc took <"${bg_log[$name]}.rc" || { rc=1; took="?"; }
    echo
    echo "=== $name (beside; waited $((SECONDS - t0)) s for it here): output"
    cat "${bg_log[$name]}"
    record "$name (beside)" "$rc" "$took"
}

step "setup: Rust toolchain components" scripts/setup.sh --rust
lint_in_build="${ALBSYNC_LINT_IN_BUILD:-0}"
if [[ $lint_in_build == 1 ]]; then
    RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)"
    export RUSTC_WORKSPACE_WRAPPER
    # clippy-driver reads its own arguments from CLIPPY_ARGS (separated by __CLIPPY_HACKERY__), as cargo-clippy
    # passes `-- -D warnings`; rustc's lints are denied by the same flag.
    export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
fi
# The debug build needs nothing but Rust: it starts while the tools install. --all-targets: the same feature
# set as `cargo test --workspace`, so the AWS SDK is compiled once, not twice.
build="build"
if [[ $lint_in_build == 1 ]]; then
    build="build, with clippy -D warnings on albsync's crates"
else
    step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
fi
beside "$build" cargo build --workspace --all-targets --locked
step "setup: Python venv, Node packages, dnsmasq" scripts/setup.sh --tools
# Only now: set-up must find the system's python3, not the venv's it may be rebuilding.
export PATH="$root/.tools/venv/bin:$PATH"
# The arm64 release build needs no test and no test needs it: it starts as soon as cargo-lambda is installed
# and soaks up the CPU the debug build and the tests leave. Release builds are not linted (no wrapper).
if [[ $quick -eq 0 ]]; then
    beside "arm64 Lambda packages" env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
        cargo lambda build --release --arm64 --locked -p albsync-functions
fi
step "format" cargo fmt --all --check
join "$build"

# The Rust tests spend most of their time waiting (a caching resolver turning over, moto), and so do the
# end-to-end files (schedule slots): side by side, with the CDK app's tests, which want the CPU.
beside "rust tests" cargo test --workspace --locked
if [[ $quick -eq 0 ]]; then
    # The contract test runs the binding parser the build above made, instead of `cargo run -p albsync-core`
    # (a -p build resolves features on its own and compiles albsync-core and its dependencies again).
    beside "CDK app: tsc, jest, library build" \
        env ALBSYNC_BINDING_PARSER="$root/target/debug/examples/parse-bindings" bash cdk/scripts/ci.sh --no-lint
fi
step "definition (asl-validator)" npm --prefix statemachine run -s validate
# Two workers, each with its own stand-in (tests/e2e/conftest.py); loadfile keeps a file's tests, and its
# module fixtures, on one worker.
step "end-to-end (stand-in)" python -m pytest tests/e2e -q -p no:cacheprovider -n 2 --dist loadfile
join "rust tests"
if [[ $quick -eq 0 ]]; then
    join "CDK app: tsc, jest, library build"
    join "arm64 Lambda packages"
    step "package sizes" python scripts/package-report.py --dir target/lambda --limit-mib 5
    step "CDK templates: synth with the real packages, cdk-nag, cfn-lint" \
        env ALBSYNC_CODE_DIR="$root/target/lambda" bash cdk/scripts/lint-templates.sh
fi
echo
printf '%-62s %-16s %6s\n' "step" "result" "seconds"
printf '%s\n' "${summary[@]}"
printf '%-62s %-16s %6s\n' "total" "" "$SECONDS"
echo
echo "checks: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
