#!/usr/bin/env bash
# The demo (README's first command): sets up what is missing, builds the binaries, tells the story.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
# The same build as scripts/test.sh (the same feature set): after the tests the demo builds nothing again, and
# the demo's build serves the tests (a `-p` build unifies features differently and recompiles the AWS SDK).
cargo build --workspace --all-targets --locked
exec .tools/venv/bin/python scripts/demo.py "$@"
