"""End-to-end tests against the local AWS stand-in (testing/standin). Run with the venv of scripts/setup-python.sh:

    scripts/setup-python.sh && .tools/venv/bin/python -m pytest tests/e2e

One stack per session (`st`): moto, the Lambda emulator with the four real functions, the DNS server. Starting
moto costs seconds of CPU, so the suites share it; each test isolates itself by a binding of its own
(`st.new_binding(name)`: a fresh target group and DNS name), never by a stack of its own.
"""

import os
import sys

import pytest

TESTING_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "testing"))
if TESTING_DIR not in sys.path:
    sys.path.insert(0, TESTING_DIR)  # makes `import standin` work (test support lives in testing/)


@pytest.fixture(scope="session")
def st():
    """albsync on the stand-in, shared by every test of the session (see the module docstring)."""
    from standin.albsync import AlbsyncStack

    with AlbsyncStack() as stack:
        yield stack
