#!/usr/bin/env bash
# Builds the four Lambda packages for arm64 (provided.al2023): target/lambda/<binary>/bootstrap, the layout
# `cdk deploy -c albsync:codeDir=../target/lambda` and FunctionCode.prebuilt() read.
#
# Uses the project's pinned cargo-lambda (tests/requirements.txt, installed into .tools/venv by
# scripts/setup.sh) whatever PATH holds: a cargo-lambda elsewhere on the PATH, or none, makes no difference.
# Extra arguments go to `cargo lambda build` (e.g. --bin albsync-resolve).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv_bin="$root/.tools/venv/bin"
if [[ ! -x "$venv_bin/cargo-lambda" ]]; then
    scripts/setup-python.sh
fi
# cargo finds `cargo lambda` as the first cargo-lambda on the PATH, and cargo-lambda finds zig (python -m ziglang)
# through the venv's python: both must come from the venv.
export PATH="$venv_bin:$PATH"
if [[ "$(command -v cargo-lambda)" != "$venv_bin/cargo-lambda" ]]; then
    echo "build-lambdas: cargo-lambda resolves to $(command -v cargo-lambda), not $venv_bin/cargo-lambda" >&2
    exit 2
fi
echo "build-lambdas: $("$venv_bin/cargo-lambda" --version) (from .tools/venv)"
cargo lambda build --release --arm64 --locked -p albsync-functions "$@"
for bin in albsync-resolve albsync-diff albsync-register albsync-deregister; do
    f="target/lambda/$bin/bootstrap"
    [[ -f "$f" ]] || { echo "build-lambdas: $f was not built" >&2; exit 1; }
done
echo "build-lambdas: target/lambda/<binary>/bootstrap ready (cdk deploy -c albsync:codeDir=../target/lambda)"
