#!/usr/bin/env bash
# Synthesizes the CDK app (every variant: HTTP + Standard, HTTPS + Express) and lints each template with cfn-lint.
#
# Function code: ALBSYNC_CODE_DIR (a `cargo lambda build --release --arm64` output, `<dir>/<binary>/bootstrap`,
# e.g. ../target/lambda); unset: a temporary directory of dummy bootstraps, so no Rust build is needed.
# cfn-lint comes from cdk/requirements-lint.txt, installed into $ALBSYNC_CDK_VENV (default <repo>/.tools/cdk-venv);
# `lint-templates.sh --install-only` installs it and stops.
#
# Fails on any cfn-lint error or warning except W3005 ("DependsOn already implied by a reference"): CDK adds
# explicit DependsOn (e.g. a Lambda function on its role's default policy) that a Ref/GetAtt already implies;
# it is redundant, not wrong, and comes from aws-cdk-lib, not from our code.
set -euo pipefail

cdk_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_dir="$(cd "$cdk_dir/.." && pwd)"
venv="${ALBSYNC_CDK_VENV:-$repo_dir/.tools/cdk-venv}"
req="$cdk_dir/requirements-lint.txt"

# 1. cfn-lint in its own venv, reinstalled when requirements-lint.txt changes.
stamp="$venv/.requirements-lint.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/cfn-lint" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "lint-templates: installing cfn-lint into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
# --install-only: just step 1 (scripts/ci.sh installs cfn-lint beside jest, then lints after it).
[ "${1:-}" = "--install-only" ] && exit 0

# 2. Function code: real bootstraps if given, else dummies.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
code_dir="${ALBSYNC_CODE_DIR:-}"
if [ -z "$code_dir" ]; then
  code_dir="$tmp/lambda"
  for bin in albsync-resolve albsync-diff albsync-register albsync-deregister albsync-trigger; do
    mkdir -p "$code_dir/$bin"
    printf '#!/bin/sh\necho dummy %s\n' "$bin" > "$code_dir/$bin/bootstrap"
    chmod +x "$code_dir/$bin/bootstrap"
  done
  echo "lint-templates: using dummy bootstraps (set ALBSYNC_CODE_DIR to lint with the real build)"
else
  code_dir="$(cd "$code_dir" && pwd)"
  for bin in albsync-resolve albsync-diff albsync-register albsync-deregister albsync-trigger; do
    [ -f "$code_dir/$bin/bootstrap" ] || { echo "lint-templates: $code_dir/$bin/bootstrap missing" >&2; exit 1; }
  done
fi

# 3. Synthesize each variant (cdk-nag runs as a validation plugin: a finding fails the synth).
cd "$cdk_dir"
synth() { # outdir, extra context...
  local out="$1"; shift
  npx --no-install cdk synth --quiet --output "$out" -c "albsync:codeDir=$code_dir" "$@" > /dev/null
}
# The two synths are independent (separate output folders, no context lookups): side by side, both must pass.
synth "$tmp/http" & http_pid=$!
synth "$tmp/https" \
  -c albsync:certificateArn=arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555 \
  -c albsync:workflowType=EXPRESS & https_pid=$!
synth_failed=0
wait "$http_pid" || { echo "lint-templates: synth of the HTTP + Standard variant failed" >&2; synth_failed=1; }
wait "$https_pid" || { echo "lint-templates: synth of the HTTPS + Express variant failed" >&2; synth_failed=1; }
[ "$synth_failed" -eq 0 ] || exit 1

# 4. Lint.
templates=("$tmp"/http/*.template.json "$tmp"/https/*.template.json)
echo "lint-templates: cfn-lint $("$venv/bin/cfn-lint" --version | awk '{print $2}') on ${#templates[@]} templates"
"$venv/bin/cfn-lint" --ignore-checks W3005 -- "${templates[@]}"
echo "lint-templates: OK"
