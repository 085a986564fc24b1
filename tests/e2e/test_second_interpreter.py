"""End-to-end: the same definition, the same real binaries, in a second and stricter ASL interpreter.

aws-local-stepfunctions 3.0.0 (Node 22, installed pinned into statemachine/ by scripts/setup.sh) fails where
moto's interpreter is lenient (an intrinsic over an empty Map result, `ResultPath: "$"`). Each scenario runs in
both interpreters on bindings of their own and must take the same path and leave the same target group.
Validators pass definitions that fail at run time; only executing them catches that (TOOLING.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

from standin.albsync import DEFINITION, AlbsyncStack, addresses
from standin.stack import REPO_ROOT, FAKE_CREDENTIALS, substitute

pytestmark = pytest.mark.timeout(300)

NODE = os.path.join(REPO_ROOT, "statemachine", "node_modules", ".bin", "node")
RUNNER = os.path.join(REPO_ROOT, "statemachine", "run-local.mjs")


@pytest.fixture(scope="module", autouse=True)
def node_installed():
    """The second interpreter must be installed; the stack itself (`st`) is the session's, from conftest.py."""
    if not os.access(NODE, os.X_OK):
        pytest.fail(f"{NODE} is missing: run scripts/setup.sh (it installs Node 22 and aws-local-stepfunctions)")


def local_run(st: AlbsyncStack, binding: dict, tmp_path) -> dict:
    """One execution in aws-local-stepfunctions; Lambda Tasks call the stand-in's Lambda emulator."""
    st.next_slot(binding)
    with open(DEFINITION) as f:
        text = substitute(f.read(), st.substitutions(), DEFINITION)
    path = tmp_path / f"definition-{uuid.uuid4().hex[:6]}.json"
    path.write_text(text)
    name = f"local-{uuid.uuid4().hex[:10]}"
    context = {"Execution": {"Id": f"arn:aws:states:us-east-1:123456789012:execution:albsync-local:{name}",
                             "Name": name, "Input": binding}}
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), **FAKE_CREDENTIALS,
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_LAMBDA": st.standin.emulator.endpoint_url}
    st._last_start[st._slot_key(binding)] = int(time.time()) // int(binding["slotSeconds"])
    out = subprocess.run([NODE, RUNNER, str(path), json.dumps(binding), json.dumps(context)], env=env,
                         capture_output=True, text=True, timeout=240, cwd=os.path.dirname(RUNNER))
    assert out.returncode == 0, f"runner failed: {out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def serve(st, binding, ips):
    st.dns.set(binding["dnsName"] + ".", a=ips, mode="ok")
    st.dns.set("all." + binding["dnsName"] + ".", a=ips, max_answers=len(ips), mode="ok")


def test_a_first_run_and_a_scale_out_take_the_same_path_in_both_interpreters(st, tmp_path):
    on_moto = st.new_binding("twice-moto")
    on_local = st.new_binding("twice-local")
    paths = {}
    for label, b in (("moto", on_moto), ("local", on_local)):
        serve(st, b, addresses("10.0.7", 2))
        first = st.run(b) if label == "moto" else local_run(st, b, tmp_path)
        status = first.status if label == "moto" else first["status"]
        assert status == "SUCCEEDED", (label, first)
        assert st.targets(b) == addresses("10.0.7", 2), label
        serve(st, b, addresses("10.0.7", 3))
        out = st.run(b) if label == "moto" else local_run(st, b, tmp_path)
        status = out.status if label == "moto" else out["status"]
        assert status == "SUCCEEDED", (label, out)
        assert st.targets(b) == addresses("10.0.7", 3), label
        paths[label] = (first.path if label == "moto" else first["path"], out.path if label == "moto" else out["path"])
    assert paths["local"] == paths["moto"]
    first_path, scale_out_path = paths["local"]
    assert "NothingMissing" in first_path and "CountGrace" not in first_path, first_path
    assert "Register" in scale_out_path and "NothingMissing" in scale_out_path, scale_out_path


def test_a_missing_address_is_counted_and_removed_in_both_interpreters(st, tmp_path):
    for label in ("moto", "local"):
        b = st.new_binding(f"count-{label}", graceRuns=2)
        ips = addresses("10.0.8", 3)
        serve(st, b, ips)
        run = (lambda: st.run(b)) if label == "moto" else (lambda: local_run(st, b, tmp_path))
        run()
        serve(st, b, ips[:2])
        counted = run()
        removed = run()
        counted_path = counted.path if label == "moto" else counted["path"]
        removed_path = removed.path if label == "moto" else removed["path"]
        assert "KeepCounting" in counted_path and "Deregister" not in counted_path, (label, counted_path)
        assert "Expire" in removed_path and "Deregister" in removed_path, (label, removed_path)
        assert st.targets(b) == ips[:2], label


def test_an_invalid_binding_ends_as_invalid_binding_in_both_interpreters(st, tmp_path):
    b = st.new_binding("invalid")
    b["port"] = 70000
    moto = st.run(b)
    local = local_run(st, b, tmp_path)
    assert (moto.status, moto.error) == ("FAILED", "InvalidBinding")
    assert (local["status"], local["error"]) == ("FAILED", "InvalidBinding"), local
