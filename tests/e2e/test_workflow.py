"""End-to-end: real executions of statemachine/albsync.asl.json in moto's interpreter, calling the real function
binaries through the Lambda Runtime API, resolving on a real DNS server on 127.0.0.1. Every assertion goes
through the AWS APIs (target group, state object, execution history) or the emulator's invocation record.

Each test gets a binding of its own (fresh target group, DNS name `<name>.test`) on one shared stack.
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from standin.albsync import AlbsyncStack, addresses

pytestmark = pytest.mark.timeout(300)

STEADY = ["Resolve", "Diff", "Decide", "NoChange"]


@pytest.fixture(scope="module")
def st():
    with AlbsyncStack() as stack:
        yield stack


def serve(st, binding, ips, all_names=True, max_answers=8):
    """DNS answers `ips` for the binding's name; with `all_names`, all.<name> answers every one at once."""
    name = binding["dnsName"] + "."
    st.dns.set(name, a=ips, max_answers=max_answers, mode="ok")
    if all_names:
        st.dns.set("all." + name, a=ips, max_answers=len(ips) or 8, mode="ok")
    else:
        st.dns.remove("all." + name)


def puts(st, binding):
    """Writes of the state object so far: its ETag changes with every write."""
    return st.state(binding)[1]


def calls(st, name):
    return len(st.invocations(name))


def test_first_run_registers_every_address(st):
    b = st.new_binding("first")
    serve(st, b, addresses("10.0.1", 3))
    run = st.run(b)
    assert run.status == "SUCCEEDED", run.error
    assert "Register" in run.path and "Deregister" not in run.path
    assert st.targets(b) == addresses("10.0.1", 3)
    doc, _ = st.state(b)
    assert doc["active"] == addresses("10.0.1", 3) and doc["pending"] == {}
    assert doc["writtenBy"] == run.arn


def test_an_unchanged_run_writes_nothing_and_enters_at_most_four_states(st):
    b = st.new_binding("steady")
    serve(st, b, addresses("10.0.2", 4))
    assert st.run(b).status == "SUCCEEDED"
    etag = puts(st, b)
    registers, deregisters = calls(st, "register"), calls(st, "deregister")
    for _ in range(3):
        run = st.run(b)
        assert run.status == "SUCCEEDED"
        assert run.path == STEADY
        assert run.states_entered <= 4
    assert puts(st, b) == etag, "no S3 PUT in a steady run"
    assert (calls(st, "register"), calls(st, "deregister")) == (registers, deregisters), "no ELB change call"


def test_a_new_address_is_registered_in_the_same_run(st):
    b = st.new_binding("scaleout")
    serve(st, b, addresses("10.0.3", 2))
    st.run(b)
    serve(st, b, addresses("10.0.3", 3))
    run = st.run(b)
    assert run.status == "SUCCEEDED" and "Register" in run.path
    assert st.targets(b) == addresses("10.0.3", 3)


def test_a_vanished_address_leaves_after_exactly_grace_runs_and_not_one_earlier(st):
    b = st.new_binding("vanish", graceRuns=3)
    ips = addresses("10.0.4", 3)
    serve(st, b, ips)
    st.run(b)
    serve(st, b, ips[:2])
    for miss in (1, 2):
        run = st.run(b)
        assert run.status == "SUCCEEDED" and "Deregister" not in run.path
        assert st.targets(b) == ips, f"still registered after {miss} misses"
        assert st.state(b)[0]["pending"] == {ips[2]: miss}
    run = st.run(b)
    assert run.status == "SUCCEEDED"
    assert "Expire" in run.path and "Deregister" in run.path
    assert st.targets(b) == ips[:2]
    run = st.run(b)
    assert st.state(b)[0]["pending"] == {}, "forgotten once gone"


def test_an_address_back_before_its_grace_is_never_removed_and_its_count_resets(st):
    b = st.new_binding("flap", graceRuns=3)
    ips = addresses("10.0.5", 3)
    serve(st, b, ips)
    st.run(b)
    for _ in range(3):  # two misses, then back: repeatedly
        serve(st, b, ips[:2])
        st.run(b)
        st.run(b)
        assert st.state(b)[0]["pending"] == {ips[2]: 2}
        serve(st, b, ips)
        run = st.run(b)
        assert run.status == "SUCCEEDED"
        assert st.state(b)[0]["pending"] == {}, "the count resets when the address is back"
        assert st.targets(b) == ips
    assert not any("Deregister" == s for s in run.path)


@pytest.mark.parametrize("mode,retried", [("servfail", "Albsync.DnsUnavailable"), ("drop", "Albsync.DnsTimeout")])
def test_dns_outages_are_retried_then_fail_without_any_change(st, mode, retried):
    b = st.new_binding(f"outage-{mode}")
    serve(st, b, addresses("10.0.6", 2))
    st.run(b)
    etag = puts(st, b)
    st.dns.set(b["dnsName"] + ".", mode=mode)
    st.dns.set("all." + b["dnsName"] + ".", mode=mode)
    run = st.run(b)
    assert run.status == "FAILED" and run.error == "ResolutionFailed"
    assert run.path == ["Resolve", "ResolutionFailed"]
    assert run.failures() == [retried] * 3, "first attempt plus two retries, visible in the history"
    assert st.targets(b) == addresses("10.0.6", 2)
    assert puts(st, b) == etag


@pytest.mark.parametrize("mode,error", [("nxdomain", "Albsync.DnsNameNotFound"), ("empty", "Albsync.DnsNoAddresses")])
def test_nxdomain_or_an_empty_answer_changes_nothing(st, mode, error):
    b = st.new_binding(f"gone-{mode}")
    serve(st, b, addresses("10.0.7", 2))
    st.run(b)
    etag = puts(st, b)
    st.dns.remove("all." + b["dnsName"] + ".")
    if mode == "nxdomain":
        st.dns.remove(b["dnsName"] + ".")
    else:
        st.dns.set(b["dnsName"] + ".", a=[])
    run = st.run(b)
    # The end state says which failure it was: a definite answer is not "after retries".
    assert run.status == "FAILED" and run.error == error.removeprefix("Albsync."), run.error
    assert run.failures() == [error], "not retried: the answer is definite"
    assert st.targets(b) == addresses("10.0.7", 2)
    assert puts(st, b) == etag


def test_a_foreign_address_is_refused(st):
    b = st.new_binding("foreign")
    serve(st, b, addresses("10.0.8", 2))
    st.run(b)
    serve(st, b, addresses("10.0.8", 2) + ["203.0.113.7"])
    run = st.run(b)
    assert run.status == "FAILED" and run.failures() == ["Albsync.ForeignAddress"]
    assert st.targets(b) == addresses("10.0.8", 2)


def test_a_hundred_addresses_behind_eight_record_rotation_are_all_registered_in_one_run(st):
    b = st.new_binding("hundred")
    ips = addresses("10.1.0", 100)
    serve(st, b, ips, all_names=False)
    run = st.run(b)
    assert run.status == "SUCCEEDED", run.error
    assert st.targets(b) == sorted(ips, key=lambda ip: tuple(map(int, ip.split("."))))
    run = st.run(b)
    assert run.status == "SUCCEEDED"
    assert run.path[-1] == "NoChange", run.path


def test_an_address_absent_from_sampled_answers_is_looked_for_before_it_is_counted(st):
    b = st.new_binding("lookagain", lookup={"timeoutMs": 300, "maxQueries": 60, "settleQueries": 5})
    ips = addresses("10.0.12", 13)
    serve(st, b, ips)
    st.run(b)
    # No all.<name>: only sampling can tell; 12 addresses rotated 8 at a time, so no answer is complete.
    serve(st, b, ips[:12], all_names=False)
    run = st.run(b)
    assert run.status == "SUCCEEDED", run.error
    assert run.path[:6] == ["Resolve", "Diff", "Decide", "LookAgain", "Diff", "Decide"], run.path
    assert run.path.count("LookAgain") == 1, "one targeted look, then the count"
    assert "KeepCounting" in run.path
    assert st.state(b)[0]["pending"] == {ips[12]: 1}
    assert st.targets(b) == sorted(ips, key=lambda ip: tuple(map(int, ip.split("."))))


def test_a_small_alb_is_answered_whole_so_an_absence_is_counted_without_looking_again(st):
    b = st.new_binding("small", lookup={"timeoutMs": 300})
    ips = addresses("10.0.13", 4)
    serve(st, b, ips)
    st.run(b)
    serve(st, b, ips[:3], all_names=False)  # 3 records: fewer than an answer holds, so the answer is complete
    run = st.run(b)
    assert run.status == "SUCCEEDED", run.error
    assert "LookAgain" not in run.path, run.path
    assert st.state(b)[0]["pending"] == {ips[3]: 1}


def test_when_looking_again_is_spent_unsettled_addresses_are_neither_counted_nor_reset(st):
    # settleQueries 1 and maxQueries 4: too little evidence to settle anything among 12 addresses.
    b = st.new_binding("unsettled", lookup={"timeoutMs": 300, "maxQueries": 4, "settleQueries": 1, "lookAgain": 0})
    ips = addresses("10.0.14", 12)
    serve(st, b, ips)
    assert st.run(b).status == "SUCCEEDED"
    serve(st, b, ips[:11], all_names=False)
    runs = [st.run(b) for _ in range(4)]
    for run in runs:
        assert run.status == "SUCCEEDED", run.error
        assert "LookAgain" not in run.path, run.path
    pending = st.state(b)[0]["pending"]
    assert pending.get(ips[11], 0) == 0, "never counted on this little evidence"
    assert ips[11] in st.targets(b), "so never removed"


def test_a_corrupt_state_document_fails_the_run_and_is_not_overwritten(st):
    b = st.new_binding("corrupt")
    serve(st, b, addresses("10.0.9", 2))
    st.run(b)
    s3 = st.client("s3")
    s3.put_object(Bucket=st.net.state_bucket, Key=st.state_key(b), Body=b'{"schemaVersion": 1, "oops": true}')
    serve(st, b, addresses("10.0.9", 3))
    run = st.run(b)
    assert run.status == "FAILED" and run.error == "StateDocumentInvalid"
    assert run.failures() == ["Albsync.StateDocumentInvalid"]
    body = s3.get_object(Bucket=st.net.state_bucket, Key=st.state_key(b))["Body"].read()
    assert body == b'{"schemaVersion": 1, "oops": true}'
    assert st.targets(b) == addresses("10.0.9", 2), "nothing registered on a corrupt state"


def test_overlapping_executions_leave_one_winner_and_lose_no_counter(st):
    b = st.new_binding("overlap", graceRuns=10)
    ips = addresses("10.0.10", 3)
    serve(st, b, ips)
    st.run(b)
    serve(st, b, ips[:2])
    conflicts = 0
    for _ in range(4):
        before = st.state(b)[0]["pending"].get(ips[2], 0)
        arns = [st.start_run(b), st.start_run(b)]
        runs = [st.wait(a) for a in arns]
        ends = sorted(r.path[-1] for r in runs)
        assert all(r.status == "SUCCEEDED" for r in runs), [r.error for r in runs]
        saved = ends.count("Synced")
        assert saved >= 1 and set(ends) <= {"Synced", "SupersededByAnotherRun"}, ends
        conflicts += ends.count("SupersededByAnotherRun")
        # Each run that saved counted exactly one miss: none lost, none doubled by a loser.
        assert st.state(b)[0]["pending"][ips[2]] == before + saved
    assert conflicts >= 1, "the two executions never overlapped: the test proved nothing"
    assert st.targets(b) == ips


def test_the_safety_cap_stops_a_mass_removal(st):
    b = st.new_binding("mass", graceRuns=1)
    ips = addresses("10.0.11", 6)
    serve(st, b, ips)
    st.run(b)
    serve(st, b, ips[:2])
    run = st.run(b)
    assert run.status == "FAILED" and run.error == "SafetyRailTripped"
    assert run.path[-2:] == ["Deregister", "SafetyRailTripped"]
    assert run.failures() == ["Albsync.SafetyRailTripped"]
    assert st.targets(b) == ips, "4 of 6 at once is over the cap of 3: nothing removed"


def test_a_thousand_unchanged_runs_never_count_a_live_address_as_missing(st):
    """Sampling without all.: the resolve and diff functions driven directly through the Lambda Invoke API,
    the way the state machine chains them (a second, targeted look when something seems absent)."""
    b = st.new_binding("thousand")
    ips = addresses("10.2.0", 100)
    serve(st, b, ips)
    assert st.run(b).path[-1] == "Synced"
    serve(st, b, ips, all_names=False)
    lam = boto3.client("lambda", endpoint_url=st.standin.emulator.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       config=Config(retries={"max_attempts": 0}))

    def invoke(fn, payload):
        out = lam.invoke(FunctionName=fn, Payload=json.dumps(payload).encode())
        body = json.loads(out["Payload"].read())
        assert "FunctionError" not in out, body
        return body

    runs = int(__import__("os").environ.get("ALBSYNC_E2E_STEADY_RUNS", "1000"))
    second_looks = 0
    for _ in range(runs):
        resolved = invoke("resolve", {"binding": b})
        plan = invoke("diff", {"op": "plan", "binding": b, "resolved": resolved})
        if plan["unconfirmed"]:
            second_looks += 1
            resolved = invoke("resolve", {"binding": b, "expected": plan["unconfirmed"], "previous": resolved})
            plan = invoke("diff", {"op": "plan", "binding": b, "resolved": resolved})
        assert plan["missing"] == [] and plan["unconfirmed"] == [], plan
        assert plan["noop"], plan
    print(f"{runs} runs, {second_looks} needed a second look")
