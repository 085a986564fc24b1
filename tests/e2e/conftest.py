"""End-to-end tests against the local AWS stand-in (testing/standin). Run with the venv of scripts/setup-python.sh:

    scripts/setup-python.sh && .tools/venv/bin/python -m pytest tests/e2e

One stack per session (`st`): moto, the Lambda emulator with the four real functions, the DNS server. Starting
moto costs seconds of CPU, so the suites share it; each test isolates itself by a binding of its own
(`st.new_binding(name)`: a fresh target group and DNS name), never by a stack of its own.

Under pytest-xdist (`-n 2 --dist loadfile`, as scripts/test.sh runs it) each worker is a session of its own, so
each has its own stack, in a run folder of its own (.run/<worker>): the suite's time is mostly spent waiting on
schedule slots, and two stacks wait side by side.

The CLI helpers below (`albsync`, `cli_env`, `one_error_line`) are shared by the CLI suites that read a
deployment by `--stack` (test_cli_stack.py, test_cli_express.py): `from conftest import albsync, ...`.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TESTING_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "testing"))
if TESTING_DIR not in sys.path:
    sys.path.insert(0, TESTING_DIR)  # makes `import standin` work (test support lives in testing/)

from standin.stack import REPO_ROOT  # noqa: E402 (needs the path above)

CLI = os.path.join(REPO_ROOT, "target", "debug", "albsync")
# One CLI command against the stand-in; generous, for a busy machine (a run follows a whole execution).
CLI_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="session")
def st():
    """albsync on the stand-in, shared by every test of the session (see the module docstring)."""
    from standin.albsync import AlbsyncStack

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    run_dir = os.path.join(REPO_ROOT, ".run", worker) if worker else None
    with AlbsyncStack(run_dir=run_dir) as stack:
        yield stack


def cli_env(st, env: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment: only the stand-in's AWS settings and its DNS server (no AWS_ or ALBSYNC_ variable
    of the test process leaks in), so everything else must come from the command line or `--stack`."""
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"{CLI} is missing: cargo build --workspace --all-targets --locked")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALBSYNC_"))}
    return {**base, **st.env, "ALBSYNC_DNS_SERVER": st.standin.dns_server, **(env or {})}


def albsync(st, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs the CLI with `cli_env(st, env)`."""
    return subprocess.run([CLI, *args], env=cli_env(st, env), capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_SECONDS)


def one_error_line(r: subprocess.CompletedProcess, code: int) -> str:
    """Asserts the exit code and exactly one `albsync: error:` line on stderr, no panic; returns the line."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("albsync: error: "), r.stderr
    assert "panicked" not in r.stderr
    return lines[0]
