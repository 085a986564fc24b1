"""End-to-end tests against the local AWS stand-in (tests/standin). Run with the venv of scripts/setup-python.sh:

    scripts/setup-python.sh && .tools/venv/bin/python -m pytest tests/e2e
"""

import os
import sys

TESTS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)  # makes `import standin` work
