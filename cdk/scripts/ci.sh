#!/usr/bin/env bash
# CI for the CDK app, from a fresh clone: pinned install, type check, tests, cfn-lint of the synthesized templates.
# Needs node (20+), npm and python3 (3.11+) on the PATH, and cargo for the contract test (the Rust binding parser
# runs over the synthesized schedule inputs; or set ALBSYNC_BINDING_PARSER to a built `parse-bindings` example).
# No AWS account, no Docker, no cargo-lambda: the tests skip bundling and the lint uses ALBSYNC_CODE_DIR (real
# arm64 bootstraps) or dummy ones.
#
# Time: jest (ts-jest transpile-only, jest.config.js) is the long step, so the steps that need nothing from it run
# beside it, each into a log printed at the join: the type check (tsc --noEmit), the library build (a second tsc,
# of lib/ alone, emitting dist/) and the cfn-lint install (which starts before npm ci). Every step still runs and
# any failure fails the script.
#
# --no-lint: stops before the cfn-lint of the synthesized templates (cfn-lint is still installed), for a caller
# that lints later with the real packages (scripts/test.sh: the CDK tests run beside its other tests, before the
# arm64 build is done).
set -euo pipefail
lint=1
case "${1:-}" in
  "") ;;
  --no-lint) lint=0 ;;
  *) echo "cdk ci: unknown argument '$1' (give --no-lint or nothing)" >&2; exit 2 ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }
t0=$SECONDS

logs="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$logs"' EXIT
beside() { # name, command...: runs the command in the background, its output into $logs/<name>
  local name="$1"; shift
  ( s=$SECONDS; rc=0; "$@" >"$logs/$name" 2>&1 || rc=$?; echo "$rc $((SECONDS - s))" >"$logs/$name.rc" ) &
  pids+=("$!")
}
# The cfn-lint install (pip, its own venv) needs nothing from npm: it starts first and runs beside npm ci too.
step "beside npm ci and jest: cfn-lint install"
beside "cfn-lint install" bash scripts/lint-templates.sh --install-only

step "npm ci (package-lock.json, exact versions)"
npm ci --no-audit --no-fund

step "beside jest: tsc --noEmit; library build (JavaScript + .d.ts in dist/)"
beside "tsc --noEmit" npx --no-install tsc --noEmit
beside "library build" npm run -s build

step "jest"
jest_rc=0
# Two workers: jest's default on two cores is one (cores - 1); its main process only schedules and reports.
npx --no-install jest --ci --maxWorkers=2 || jest_rc=$?

failed=0
[[ $jest_rc -eq 0 ]] || failed=1
wait "${pids[@]}" || true
pids=()
for name in "tsc --noEmit" "library build" "cfn-lint install"; do
  read -r rc took <"$logs/$name.rc" || { rc=1; took="?"; }
  step "$name (in the background, ${took}s): $([[ $rc -eq 0 ]] && echo ok || echo "FAILED (exit $rc)")"
  cat "$logs/$name"
  [[ $rc -eq 0 ]] || failed=1
done
[[ $failed -eq 0 ]] || { echo "cdk ci: FAILED (see above)" >&2; exit 1; }

if [[ $lint -eq 1 ]]; then
  step "cfn-lint of the synthesized templates"
  bash scripts/lint-templates.sh
fi

printf '\ncdk ci: OK in %ss\n' "$((SECONDS - t0))"
