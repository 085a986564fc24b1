#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it): sets up what is missing, then runs every check.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    skips the arm64 release build and the CDK app
# Every step runs even after one fails, so one red step does not hide the others; a summary table (step,
# result, seconds) closes the output, and the exit status is non-zero if any step failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

setup_t0=$SECONDS
scripts/setup.sh
export PATH="$root/.tools/venv/bin:$PATH"

passed=0
failed=0
summary=("$(printf '%-62s %-16s %6s' "setup (tools, venv, node modules)" "ok" "$((SECONDS - setup_t0))")")
step() {
    local name="$1"; shift
    echo
    echo "=== $name"
    local t0=$SECONDS rc=0
    "$@" || rc=$?
    local took=$((SECONDS - t0)) result="ok"
    if [[ $rc -eq 0 ]]; then
        passed=$((passed + 1))
    else
        result="FAILED (exit $rc)"
        failed=$((failed + 1))
    fi
    echo "=== $name: $result ($took s)"
    summary+=("$(printf '%-62s %-16s %6s' "$name" "$result" "$took")")
}

step "format" cargo fmt --all --check
step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# --all-targets: the same feature set as `cargo test --workspace`, so the AWS SDK is compiled once, not twice.
step "build" cargo build --workspace --all-targets --locked
# The arm64 release build needs no test and no test needs it. The tests spend much of their time waiting (on
# moto, DNS, schedule slots), so the build runs beside them and is joined before the steps that use its
# packages; its output is printed at the join. (The suite must hold on a busy machine anyway.)
bg_pid=""
if [[ $quick -eq 0 ]]; then
    bg_log="$(mktemp)"
    bg_t0=$SECONDS
    ( cargo lambda build --release --arm64 --locked -p albsync-functions >"$bg_log" 2>&1 ) &
    bg_pid=$!
    # An interrupted run must not leave the build behind.
    trap 'if [[ -n $bg_pid ]]; then pkill -P "$bg_pid" 2>/dev/null || true; kill "$bg_pid" 2>/dev/null || true; fi' EXIT
fi
step "rust tests" cargo test --workspace --locked
step "definition (asl-validator)" npm --prefix statemachine run -s validate
step "end-to-end (stand-in)" python -m pytest tests/e2e -q -p no:cacheprovider
if [[ $quick -eq 0 ]]; then
    join_packages() {
        local rc=0
        wait "$bg_pid" || rc=$?
        cat "$bg_log"
        rm -f "$bg_log"
        bg_total=$((SECONDS - bg_t0))
        bg_pid=""
        return $rc
    }
    step "arm64 Lambda packages (wait after the tests)" join_packages
    summary+=("$(printf '%-62s %-16s %6s' "  arm64 build, start to end (beside the tests)" "" "$bg_total")")
    step "package sizes" python scripts/package-report.py --dir target/lambda --limit-mib 5
    step "CDK app (tsc, jest, cdk-nag, cfn-lint on the real packages)" \
        env ALBSYNC_CODE_DIR="$root/target/lambda" bash cdk/scripts/ci.sh
fi
echo
printf '%-62s %-16s %6s\n' "step" "result" "seconds"
printf '%s\n' "${summary[@]}"
printf '%-62s %-16s %6s\n' "total" "" "$SECONDS"
echo
echo "checks: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
