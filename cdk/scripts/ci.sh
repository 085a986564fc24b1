#!/usr/bin/env bash
# CI for the CDK app, from a fresh clone: pinned install, type check, tests, cfn-lint of the synthesized templates.
# Needs node (20+), npm and python3 (3.11+) on the PATH, and cargo for the contract test (the Rust binding parser
# runs over the synthesized schedule inputs; or set ALBSYNC_BINDING_PARSER to a built `parse-bindings` example).
# No AWS account, no Docker, no cargo-lambda: the tests skip bundling and the lint uses ALBSYNC_CODE_DIR (real
# arm64 bootstraps) or dummy ones.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }
t0=$SECONDS

step "npm ci (package-lock.json, exact versions)"
npm ci --no-audit --no-fund

step "tsc --noEmit"
npx --no-install tsc --noEmit

step "library build (JavaScript + .d.ts in dist/)"
npm run -s build

step "jest"
npx --no-install jest --ci

step "cfn-lint of the synthesized templates"
bash scripts/lint-templates.sh

printf '\ncdk ci: OK in %ss\n' "$((SECONDS - t0))"
