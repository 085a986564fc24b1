#!/usr/bin/env bash
# Installs everything the tests and the demo need, pinned and idempotent, on a fresh machine:
#   Rust: rustfmt, clippy and the aarch64 target (Lambda runs arm64);
#   Python (.tools/venv): moto, boto3, pytest, cargo-lambda with zig (tests/requirements.txt, exact pins);
#   Node (statemachine/node_modules): asl-validator, and aws-local-stepfunctions 3.0.0 with Node 22.23.3 (the
#   `node` package, whose install script is allowed in package.json `allowScripts`), the second ASL interpreter
#   tests/e2e/test_second_interpreter.py runs (package-lock.json). The CDK app installs its own packages in
#   cdk/scripts/ci.sh.
# `setup.sh --rust` does only the Rust part (enough to build and lint) and `setup.sh --tools` only the rest, so
# scripts/test.sh can start the build while the tools install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
part="${1:-all}"
case "$part" in
    all | --rust | --tools) ;;
    *) echo "setup: unknown argument '$part' (give --rust, --tools or nothing)" >&2; exit 2 ;;
esac

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "setup: '$1' is required but not installed ($2)" >&2; exit 1; }
}
need cargo "install Rust with rustup"
need rustup "install Rust with rustup"
if [[ $part != --tools ]]; then
installed_targets="$(rustup target list --installed)"
grep -qx aarch64-unknown-linux-gnu <<<"$installed_targets" || rustup target add aarch64-unknown-linux-gnu
installed_components="$(rustup component list --installed)"
for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed_components" || rustup component add "$c"
done
fi
[[ $part == --rust ]] && { echo "setup: Rust done"; exit 0; }

need python3 "Python 3.10 or later"
need npm "Node.js 20 or later"
scripts/setup-python.sh

# dnsmasq: a real caching resolver in front of the test DNS server (the Rust statistical test and the
# end-to-end caching test). Debian bookworm's package, pinned; a later point release of the same upstream
# version is accepted (security updates replace the pinned one in the archive) and checked below.
dnsmasq_pin="2.90-4~deb12u2"
if ! command -v dnsmasq >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        as_root=()
        [[ $(id -u) -eq 0 ]] || as_root=(sudo)
        if ! "${as_root[@]}" apt-get install -y --no-install-recommends "dnsmasq-base=$dnsmasq_pin" >/dev/null; then
            "${as_root[@]}" apt-get update -qq
            "${as_root[@]}" apt-get install -y --no-install-recommends "dnsmasq-base=$dnsmasq_pin" >/dev/null \
                || "${as_root[@]}" apt-get install -y --no-install-recommends dnsmasq-base >/dev/null
        fi
    else
        echo "setup: dnsmasq is needed for the caching-resolver tests; install dnsmasq 2.90 (package dnsmasq-base)" >&2
        exit 1
    fi
fi
dnsmasq_version="$(dnsmasq --version | head -1 | awk '{print $3}')"
[[ $dnsmasq_version == 2.90* ]] || echo "setup: warning: dnsmasq $dnsmasq_version, the tests were written against 2.90" >&2

stamp=statemachine/node_modules/.albsync-lock.sha256
want="$(sha256sum statemachine/package-lock.json | cut -d' ' -f1)"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    (cd statemachine && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
fi
# Node 22 for aws-local-stepfunctions comes from the `node` package; fail here, not in a test, if it did not.
statemachine/node_modules/.bin/node --version | grep -q '^v22\.' || {
    echo "setup: statemachine/node_modules/.bin/node is not Node 22 (npm ci of statemachine/ should install it)" >&2
    exit 1
}
echo "setup: done"
