#!/usr/bin/env bash
# The demo (README's first command): sets up what is missing, builds the binaries, tells the story.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
cargo build --locked -p albsync-functions -p albsync-testdns $( [[ -d crates/albsync-cli ]] && echo -p albsync-cli )
exec .tools/venv/bin/python scripts/demo.py "$@"
