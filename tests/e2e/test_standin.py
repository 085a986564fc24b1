"""Self-test of the local AWS stand-in (testing/standin), WITHOUT the Rust functions: a Python fake Lambda
(testing/standin/fake_function.py) runs behind our Lambda emulator and moto's Step Functions call it.

If `test_state_machine_task_reaches_the_emulator` fails after a moto upgrade, the plumbing itself is broken:
read testing/standin/stack.py (module docstring) and testing/standin/MOTO-NOTES.md before touching anything else.

The fake functions run on the session's stand-in (`st` in conftest.py: one moto for the whole run). Timing
assertions are lower bounds or come from the functions' own clocks, so a busy machine makes these tests slower,
never red.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from standin import StandinError, Zone, fast_retries, substitute
from standin.stack import REPO_ROOT

pytestmark = pytest.mark.timeout(120)

FAKE = os.path.join(REPO_ROOT, "testing", "standin", "fake_function.py")
ECHO_ARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"

# Inline definition: a Lambda Task retried on one custom error name, everything else caught into a Fail state.
SELF_TEST_ASL = """{
  "Comment": "stand-in self-test",
  "StartAt": "Echo",
  "States": {
    "Echo": {
      "Type": "Task",
      "Resource": "${EchoFunctionArn}",
      "Retry": [
        {"ErrorEquals": ["Custom.Retryable"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}
      ],
      "Catch": [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Failed"}
      ],
      "End": true
    },
    "Failed": {"Type": "Fail", "Error": "SelfTest.Caught", "CausePath": "$.caught.Error"}
  }
}"""


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def stack(st):
    """The session's stand-in with the fake functions added (their names are not albsync's)."""
    s = st.standin
    fake = [sys.executable, FAKE]
    s.register_function("echo", fake, timeout=10)
    s.register_function("scratch", fake, timeout=10)
    s.register_function("slow", fake, timeout=1)
    s.register_function("initcrash", fake, env={"FAKE_INIT_EXIT": "3"})
    s.register_function("pair", fake, processes=2, prestart=True, timeout=120)
    return s


@pytest.fixture(scope="module")
def state_machine(stack):
    return stack.create_state_machine_from_text(SELF_TEST_ASL, {"EchoFunctionArn": stack.function_arn("echo")},
                                                name="self-test")


@pytest.fixture(scope="module")
def lam(stack):
    """A boto3 Lambda client on the emulator's Invoke API."""
    return boto3.client("lambda", endpoint_url=stack.emulator.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 0, "total_max_attempts": 1}, read_timeout=60))


def events_of(history, event_type):
    return [e for e in history if e["type"] == event_type]


# ------------------------------------------------------------------------------------------------ plumbing


def test_state_machine_task_reaches_the_emulator(stack):
    """moto's interpreter sends a Lambda Task to http://localhost:$MOTO_PORT (moto 5.2.5, pinned exactly):
    MOTO_PORT must be the emulator's Invoke port and localhost a loopback address, or nothing reaches it."""
    with open(f"/proc/{stack.moto_proc.pid}/environ", "rb") as f:
        moto_env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    assert moto_env[b"MOTO_PORT"] == str(stack.emulator.invoke_port).encode()
    assert "127.0.0.1" in stack.localhost_addresses or "::1" in stack.localhost_addresses
    marker = uuid.uuid4().hex
    sm = stack.create_state_machine_from_text(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ECHO_ARN, "End": True}}}, name="plumbing")
    before = len(stack.emulator.invocations("echo"))
    done = stack.run_execution(sm, {"marker": marker}, timeout=30)
    calls = stack.emulator.invocations("echo")[before:]
    assert done["status"] == "SUCCEEDED" and calls, (
        "moto's Step Functions did not route the Lambda Task to the emulator on MOTO_PORT "
        f"(status {done['status']}, error {done.get('error')}: {done.get('cause')}); "
        f"see {stack.log_dir}/moto.log and testing/standin/MOTO-NOTES.md")
    assert json.loads(done["output"]) == {"marker": marker}
    assert calls[-1].outcome == "ok"


# ------------------------------------------------------------------------------------------------ ASL via moto


def test_output_equals_echo(stack, state_machine):
    doc = {"name": "web", "port": 443, "nested": {"list": [1, "two", None, True], "unicode": "é"}}
    done = stack.run_execution(state_machine, doc, name=f"echo-{uuid.uuid4().hex[:8]}")
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == doc
    types = [e["type"] for e in stack.history(done["executionArn"])]
    assert types == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                     "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_custom_error_is_retried_then_caught(stack, state_machine):
    before = len(stack.emulator.invocations("echo"))
    t0 = time.monotonic()
    done = stack.run_execution(state_machine, {"fake": {"raise": "Custom.Retryable", "message": "try again"}})
    elapsed = time.monotonic() - t0
    assert done["status"] == "FAILED", done
    assert done["error"] == "SelfTest.Caught" and done["cause"] == "Custom.Retryable", done

    history = stack.history(done["executionArn"])
    failed = events_of(history, "LambdaFunctionFailed")
    assert len(failed) == 3, [e["type"] for e in history]  # 1 attempt + MaxAttempts 2
    for e in failed:
        details = e["lambdaFunctionFailedEventDetails"]
        assert details["error"] == "Custom.Retryable"
        assert json.loads(details["cause"]) == {"errorType": "Custom.Retryable", "errorMessage": "try again"}
    assert len(events_of(history, "LambdaFunctionScheduled")) == 3
    gaps = [(b["timestamp"] - a["timestamp"]).total_seconds() for a, b in zip(failed, failed[1:])]
    assert all(g >= 0.9 for g in gaps), f"Retry did not wait IntervalSeconds: {gaps}"
    assert elapsed >= 1.9
    fail_input = json.loads(events_of(history, "FailStateEntered")[0]["stateEnteredEventDetails"]["input"])
    assert fail_input["caught"]["Error"] == "Custom.Retryable"

    calls = stack.emulator.invocations("echo")[before:]
    assert [c.error_type for c in calls] == ["Custom.Retryable"] * 3


def test_a_retry_can_succeed_and_an_unlisted_error_is_caught_at_once(stack, state_machine):
    doc = {"fake": {"raise": "Custom.Retryable", "failTimes": 1, "key": uuid.uuid4().hex}}
    done = stack.run_execution(state_machine, doc)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == doc
    types = [e["type"] for e in stack.history(done["executionArn"])]
    assert types.count("LambdaFunctionFailed") == 1 and types.count("LambdaFunctionSucceeded") == 1

    done = stack.run_execution(state_machine, {"fake": {"raise": "Albsync.InvalidInput", "message": "bad"}})
    assert done["status"] == "FAILED" and done["cause"] == "Albsync.InvalidInput", done
    assert len(events_of(stack.history(done["executionArn"]), "LambdaFunctionFailed")) == 1


# ------------------------------------------------------------------------------------------------ Invoke API


def test_invoke_api_answers_like_lambda_for_names_arns_errors_and_unknown_functions(lam):
    for name in ("echo", ECHO_ARN, "echo:$LATEST", f"{ECHO_ARN}:$LATEST", "123456789012:function:echo"):
        resp = lam.invoke(FunctionName=name, Payload=b'{"x": 1}')
        assert resp["StatusCode"] == 200
        assert resp["ExecutedVersion"] == "$LATEST"
        assert "FunctionError" not in resp
        assert json.loads(resp["Payload"].read()) == {"x": 1}

    # A function error is 200 with X-Amz-Function-Error, as in Lambda (cargo lambda watch answers 500).
    resp = lam.invoke(FunctionName=ECHO_ARN, Payload=json.dumps({"fake": {"raise": "Albsync.DnsTimeout",
                                                                             "message": "no answer"}}))
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert resp["Payload"].read() == b'{"errorType": "Albsync.DnsTimeout", "errorMessage": "no answer"}'

    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "arn:aws:lambda:us-east-1:123456789012:function:nope" in str(info.value)


def test_function_sees_lambda_environment_and_context(stack):
    before = time.time()
    res = stack.emulator.invoke("echo", {"fake": {"context": True}})
    after = time.time()
    assert res.ok, res.payload
    out = res.json()
    env, ctx = out["env"], out["context"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/echo"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"] == stack.moto_endpoint
    assert env["AWS_LAMBDA_RUNTIME_API"] == stack.function("echo").runtime_api
    assert ctx["requestId"] == res.request_id
    assert ctx["invokedFunctionArn"] == ECHO_ARN
    assert ctx["traceId"].startswith("Root=1-")
    # The deadline is set when the invocation is delivered, somewhere between our two clock readings.
    assert int(before * 1000) + 10_000 - 1 <= ctx["deadlineMs"] <= after * 1000 + 10_000


def test_crash_is_runtime_exit_error_and_the_process_restarts(stack):
    first = stack.emulator.invoke("scratch", {"fake": {"context": True}}).json()["pid"]
    crash = stack.emulator.invoke("scratch", {"fake": {"exit": 7}})
    assert crash.error_type == "Runtime.ExitError"
    assert "exit status 7" in crash.json()["errorMessage"]
    again = stack.emulator.invoke("scratch", {"fake": {"context": True}})
    assert again.ok and again.cold_start and again.json()["pid"] != first


def test_init_crash_is_runtime_exit_error(stack):
    res = stack.emulator.invoke("initcrash", {})
    assert res.function_error == "Unhandled" and res.error_type == "Runtime.ExitError"
    assert "exit status 3" in res.json()["errorMessage"]
    log = open(stack.function_log("initcrash")).read()
    assert "fake: init crash as asked" in log  # the function's own output is captured


def test_timeout_kills_and_restarts(stack):
    t0 = time.monotonic()
    res = stack.emulator.invoke("slow", {"fake": {"sleep": 30}})
    assert res.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in res.json()["errorMessage"]
    assert time.monotonic() - t0 < 25, "killed at its 1 s timeout, not after the 30 s sleep"
    after = stack.emulator.invoke("slow", {"a": 1})
    assert after.ok and after.json() == {"a": 1} and after.cold_start


def test_one_invocation_per_process_at_a_time(stack, tmp_path):
    """processes=1 serializes invocations (like one Lambda instance); processes=2 runs two at once.
    Judged by the functions' own clocks and a rendezvous, so the machine's speed cannot decide it."""
    from concurrent.futures import ThreadPoolExecutor

    def both(name, directive):
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(lambda d: stack.emulator.invoke(name, {"fake": d}), directive))

    single = both("scratch", [{"sleep": 0.3, "context": True}] * 2)
    assert all(r.ok for r in single)
    (a, b) = sorted((r.json() for r in single), key=lambda o: o["clock"]["started"])
    assert a["pid"] == b["pid"]
    assert a["clock"]["ended"] <= b["clock"]["started"], "one process ran two invocations at once"

    # Each waits (up to 60 s) for the other to have started: only possible if both run at the same time.
    meet = [{"rendezvous": {"dir": str(tmp_path), "me": me, "other": other, "within": 60}, "context": True}
            for me, other in (("a", "b"), ("b", "a"))]
    pair = both("pair", meet)
    assert all(r.ok for r in pair), [r.payload for r in pair]
    assert [r.json()["met"] for r in pair] == [True, True]
    assert len({r.json()["pid"] for r in pair}) == 2


def test_other_requests_on_the_invoke_port_reach_moto(stack):
    """moto's interpreter sends aws-sdk integrations to MOTO_PORT too: the emulator forwards them to moto."""
    s3 = boto3.client("s3", endpoint_url=stack.emulator.endpoint_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="forwarded-bucket")
    names = [b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]]
    assert "forwarded-bucket" in names


# ------------------------------------------------------------------------------------------------ helpers


def test_create_network(stack):
    net = stack.create_network(name="selftest", state_bucket="selftest-state")
    elb = stack.client("elbv2")
    tg = elb.describe_target_groups(TargetGroupArns=[net.target_group_arn])["TargetGroups"][0]
    assert (tg["TargetType"], tg["Protocol"], tg["Port"], tg["VpcId"]) == ("ip", "TCP", 80, net.vpc_id)
    lbs = {lb["LoadBalancerArn"]: lb for lb in elb.describe_load_balancers(
        LoadBalancerArns=[net.alb_arn, net.nlb_arn])["LoadBalancers"]}
    assert lbs[net.alb_arn]["Type"] == "application" and lbs[net.alb_arn]["Scheme"] == "internal"
    assert lbs[net.nlb_arn]["Type"] == "network"
    listener = elb.describe_listeners(LoadBalancerArn=net.nlb_arn)["Listeners"][0]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == net.target_group_arn
    subnets = stack.client("ec2").describe_subnets(SubnetIds=net.subnet_ids)["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b"]
    stack.client("s3").head_bucket(Bucket=net.state_bucket)


def test_substitution_fails_loudly():
    assert substitute('{"a": "${A}", "b": "${B}"}', {"A": "1", "B": "2"}) == '{"a": "1", "b": "2"}'
    with pytest.raises(StandinError, match=r"without a substitution: \$\{B\}.*not used by any placeholder: C"):
        substitute('{"a": "${A}", "b": "${B}"}', {"A": "1", "C": "3"})


def test_create_state_machine_from_file(stack, tmp_path):
    path = tmp_path / "one.asl.json"
    path.write_text(json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${Fn}", "End": True}}}))
    arn = stack.create_state_machine(str(path), {"Fn": stack.function_arn("echo")})
    assert stack.run_execution(arn, {"k": 1})["status"] == "SUCCEEDED"
    with pytest.raises(StandinError, match="Other"):
        stack.create_state_machine(str(path), {"Fn": "x", "Other": "y"})


def test_fast_retries_reaches_nested_states():
    slow = {"IntervalSeconds": 5, "BackoffRate": 2.0, "MaxAttempts": 4, "MaxDelaySeconds": 30,
            "JitterStrategy": "FULL", "ErrorEquals": ["Albsync.DnsTimeout"]}
    inner = {"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "x", "Retry": [dict(slow)], "End": True}}}
    doc = {"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemProcessor": inner, "Retry": [dict(slow)], "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [inner], "End": True}}}
    fast = fast_retries(doc)
    want = {"IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 4, "ErrorEquals": ["Albsync.DnsTimeout"]}
    assert fast["States"]["M"]["Retry"] == [want]
    assert fast["States"]["M"]["ItemProcessor"]["States"]["I"]["Retry"] == [want]
    assert fast["States"]["P"]["Branches"][0]["States"]["I"]["Retry"] == [want]
    assert doc["States"]["M"]["Retry"][0]["IntervalSeconds"] == 5  # the input is not modified


def test_zone_file_is_written_atomically(tmp_path):
    zone = Zone(str(tmp_path / "zone.json"), {"alb.test": {"a": ["10.0.1.1"]}})
    assert json.loads((tmp_path / "zone.json").read_text()) == {
        "names": {"alb.test.": {"a": ["10.0.1.1"], "aaaa": [], "mode": "ok", "maxAnswers": 8}}}
    zone.set("alb.test.", mode="servfail")
    zone.set("other.test", a=["10.0.2.2"], max_answers=2)
    doc = json.loads((tmp_path / "zone.json").read_text())
    assert doc["names"]["alb.test."] == {"a": ["10.0.1.1"], "aaaa": [], "mode": "servfail", "maxAnswers": 8}
    assert doc["names"]["other.test."]["maxAnswers"] == 2
    zone.remove("other.test.")
    assert list(json.loads((tmp_path / "zone.json").read_text())["names"]) == ["alb.test."]
    assert sorted(os.listdir(tmp_path)) == ["zone.json"]  # no temporary file left behind
    with pytest.raises(ValueError):
        zone.set("alb.test.", mode="bogus")


# ------------------------------------------------------------------------------------------------ teardown


# Seconds `python -m standin` may take to print its ready line: it starts moto (seconds of CPU); generous.
STANDIN_READY_SECONDS = 120


def _spawn_cli(run_dir):
    run_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO_ROOT, "testing")}
    return subprocess.Popen([sys.executable, "-m", "standin", "--run-dir", str(run_dir), "--fake", "f",
                             "--invoke", "f"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                            start_new_session=True)


def _ready(proc):
    """Reads the stand-in CLI's output until its ready line (JSON with the pids it started)."""
    deadline = time.monotonic() + STANDIN_READY_SECONDS
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("{"):
            info = json.loads(line)
            assert len(info["pids"]) == 2  # moto + the fake function
            return info
    raise AssertionError(f"python -m standin did not get ready within {STANDIN_READY_SECONDS} s:\n" + "".join(lines))


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pids, timeout=30.0):
    """The pids still alive after `timeout` seconds (generous: on a busy machine a process ends late)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def test_no_process_left_behind_after_sigterm_or_sigkill(tmp_path):
    """SIGTERM runs the cleanup (SIGINT has the same handler, procs._on_signal); SIGKILL leaves it to
    PR_SET_PDEATHSIG. Two stand-ins, one per signal, start side by side (each starts a moto of its own)."""
    signals = (signal.SIGTERM, signal.SIGKILL)
    procs = {sig: _spawn_cli(tmp_path / sig.name) for sig in signals}
    infos = {}
    try:
        for sig in signals:
            infos[sig] = _ready(procs[sig])
            assert all(_alive(p) for p in infos[sig]["pids"])
        for sig in signals:
            os.kill(procs[sig].pid, sig)
        for sig in signals:
            procs[sig].wait(30)
            assert _wait_gone(infos[sig]["pids"]) == [], f"left behind after {sig.name}: {infos[sig]['pids']}"
        assert procs[signal.SIGTERM].returncode != 0
    finally:
        for sig, proc in procs.items():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            for p in infos.get(sig, {}).get("pids", []):
                if _alive(p):
                    os.kill(p, signal.SIGKILL)


# ------------------------------------------------------------------------------------------------ DNS


def _dns_query(server: str, name: str, qtype: int = 1, timeout: float = 2.0):
    """A minimal UDP DNS query: returns (rcode, [answer rdata as text]) for A (1) / AAAA (28)."""
    host, port = server.rsplit(":", 1)
    qid = 0x1234
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    packet += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet += struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, int(port)))
        data, _ = s.recvfrom(4096)
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    pos = 12
    for _ in range(qd):
        while data[pos] != 0:
            pos += 1 + data[pos]
        pos += 5
    answers = []
    for _ in range(an):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos] != 0:
                pos += 1 + data[pos]
            pos += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        rdata = data[pos:pos + rdlen]
        pos += rdlen
        if rtype == 1:
            answers.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            answers.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return flags & 0xF, answers


def test_dns_server_serves_the_zone(stack):
    name = "selftest-dns.test."
    stack.zone.set(name, a=["10.0.1.1", "10.0.2.1"])
    rcode, answers = _wait_dns(stack.dns_server, name, lambda rc, a: rc == 0 and a)
    assert rcode == 0 and sorted(answers) == ["10.0.1.1", "10.0.2.1"]
    stack.zone.set(name, mode="servfail")
    rcode, _ = _wait_dns(stack.dns_server, name, lambda rc, a: rc == 2)
    assert rcode == 2, "zone file change (mode servfail) not picked up within 30 s"


def _wait_dns(server, name, done, within=30.0):
    """Queries until `done(rcode, answers)` or `within` seconds: the server reloads the zone file by itself."""
    deadline = time.monotonic() + within
    while True:
        try:
            rcode, answers = _dns_query(server, name)
        except socket.timeout:
            rcode, answers = -1, []
        if done(rcode, answers) or time.monotonic() > deadline:
            return rcode, answers
        time.sleep(0.1)
