#!/usr/bin/env bash
# Creates the Python virtual environment used by the local AWS stand-in and the end-to-end tests:
#   .tools/venv  with the exact packages of tests/requirements.txt (+ tests/constraints.txt).
#
# Idempotent: when the venv exists and was built from the same requirements, constraints and
# interpreter, it does nothing (well under a second). Otherwise it (re)builds the venv.
#
# Usage: scripts/setup-python.sh            # install or verify
#        scripts/setup-python.sh --force    # rebuild from scratch
# Environment: PYTHON (default python3; must be >= 3.10)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/venv"
req="$root/tests/requirements.txt"
cons="$root/tests/constraints.txt"
stamp="$venv/.albsync-requirements.sha256"
python="${PYTHON:-python3}"

force=0
if [[ "${1:-}" == "--force" ]]; then force=1; fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup-python: '$python' not found (set PYTHON=/path/to/python3.10+)" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    echo "setup-python: $("$python" --version 2>&1) is too old; need Python >= 3.10" >&2
    exit 1
fi

# The stamp covers both requirement files and the interpreter version the venv was made with.
want="$( { cat "$req" "$cons"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [[ $force -eq 0 && -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    # Cheap sanity check that the venv still works (e.g. its base interpreter was not removed).
    if "$venv/bin/python" -c 'import moto, boto3, pytest' >/dev/null 2>&1; then
        echo "setup-python: $venv is up to date"
        exit 0
    fi
    echo "setup-python: $venv is broken; rebuilding" >&2
fi

echo "setup-python: building $venv"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" -c "$cons"
"$venv/bin/python" -m pip check
echo "$want" > "$stamp"
echo "setup-python: done ($("$venv/bin/python" -c 'import moto; print("moto", moto.__version__)'))"
