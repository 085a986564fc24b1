"""End-to-end tests of the operator CLI (`target/debug/albsync`, crates/albsync-cli) against the local stand-in:
real executions of the real definition, followed, read back, drawn and compared with DNS and the target group.
Every JSON output is validated against its schema in crates/albsync-cli/schemas/.

Build first:  cargo build --workspace --all-targets --locked
Run:          .tools/venv/bin/python -m pytest tests/e2e/test_cli.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid

import jsonschema
import pytest

from standin.albsync import addresses
from standin.stack import REPO_ROOT

pytestmark = pytest.mark.timeout(180)

CLI = os.path.join(REPO_ROOT, "target", "debug", "albsync")
SCHEMAS = os.path.join(REPO_ROOT, "crates", "albsync-cli", "schemas")
DEFINITION = os.path.join(REPO_ROOT, "statemachine", "albsync.asl.json")

FIRST_RUN = "Resolve -> Diff -> Decide -> NothingMissing -> SaveState -> AnyToRegister -> Register -> AnyExpired -> Synced"
STEADY = "Resolve -> Diff -> Decide -> NoChange"


@pytest.fixture(scope="module", autouse=True)
def cli_built():
    """The CLI binary must be built; the stack itself (`st`) is the session's, from conftest.py."""
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"{CLI} is missing: cargo build --workspace --all-targets --locked")


def base_env() -> dict[str, str]:
    """The test process's environment without any AWS or albsync setting, so nothing leaks in."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALBSYNC_"))}


def albsync(st, *args: str, env: dict[str, str | None] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs the CLI with the stand-in's environment, changed by `env` (a None value removes the variable)."""
    full = {**base_env(), **st.env, "ALBSYNC_STATE_MACHINE_ARN": st.state_machine_arn,
            "ALBSYNC_STATE_BUCKET": st.net.state_bucket, "ALBSYNC_DNS_SERVER": st.standin.dns_server}
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return subprocess.run([CLI, *args], env=full, capture_output=True, text=True, timeout=timeout)


def schema(name: str) -> dict:
    with open(os.path.join(SCHEMAS, f"{name}.schema.json")) as f:
        return json.load(f)


def check_json(result: subprocess.CompletedProcess, name: str) -> dict:
    """Parses stdout as one JSON document and validates it against schemas/<name>.schema.json."""
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema(name), format_checker=jsonschema.FormatChecker())
    return doc


def clean_error(result: subprocess.CompletedProcess, code: int) -> str:
    """Asserts one `albsync: error:` line on stderr, nothing on stdout, no panic, and the exit code."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("albsync: error: "), result.stderr
    assert "panicked" not in result.stderr and "backtrace" not in result.stderr.lower()
    assert result.stdout == ""
    return lines[0]


def serve(st, binding, ips, mode="ok"):
    """DNS answers `ips` for the binding's name, and all.<name> answers all of them (a complete answer)."""
    name = binding["dnsName"] + "."
    st.dns.set(name, a=ips, mode=mode)
    st.dns.set("all." + name, a=ips, max_answers=max(len(ips), 1), mode=mode)


def bindings_file(tmp_path, *bindings) -> str:
    path = tmp_path / "bindings.json"
    path.write_text(json.dumps(list(bindings)))
    return str(path)


def line(stdout: str, key: str) -> str:
    """The value of a `key   value` line of the text output."""
    for text in stdout.splitlines():
        if text.startswith(key + " "):
            return text[len(key):].strip()
    raise AssertionError(f"no {key!r} line in:\n{stdout}")


def world(st, binding):
    """What must not change when only reading: the targets and the state object's version."""
    return st.targets(binding), st.state(binding)[1]


# ------------------------------------------------------------------------------------------------ run


def test_run_follows_an_execution_prints_its_path_and_exits_0(st, tmp_path):
    b = st.new_binding("clirun")
    serve(st, b, addresses("10.0.1", 2))
    other = st.new_binding("cliother")
    file = bindings_file(tmp_path, other, b)
    r = albsync(st, "run", "--bindings-file", file, "--binding", "clirun")
    assert r.returncode == 0, r.stderr
    assert line(r.stdout, "path") == FIRST_RUN
    assert line(r.stdout, "outcome").startswith("SUCCEEDED after ")
    assert "registered 2: 10.0.1.10 10.0.1.11" in r.stdout
    # The live display showed each state as it was entered.
    assert "Register" in r.stdout.split("path")[0]
    assert st.targets(b) == addresses("10.0.1", 2)

    again = albsync(st, "run", "--bindings-file", file, "--binding", "clirun")
    assert again.returncode == 0, again.stderr
    assert line(again.stdout, "path") == STEADY
    assert line(again.stdout, "retries") == "none"


def test_run_output_json_matches_the_history_schema_and_the_real_path(st):
    b = st.new_binding("clijson")
    serve(st, b, addresses("10.0.2", 1))
    r = albsync(st, "run", "--input", json.dumps(b), "--output", "json")
    assert r.returncode == 0, r.stderr
    doc = check_json(r, "history")
    assert doc["status"] == "SUCCEEDED"
    real = st.wait(doc["executionArn"])
    assert doc["path"] == real.path
    assert doc["input"]["name"] == "clijson" and doc["input"]["graceRuns"] == st.grace_runs


def test_run_no_follow_prints_the_arn_and_returns_at_once(st):
    b = st.new_binding("clinofollow")
    serve(st, b, addresses("10.0.3", 1))
    r = albsync(st, "run", "--input", json.dumps(b), "--no-follow", "--name", f"nf-{uuid.uuid4().hex[:8]}")
    assert r.returncode == 0, r.stderr
    arn = line(r.stdout, "started")
    assert arn.startswith("arn:aws:states:") and "path" not in r.stdout
    assert st.wait(arn).status == "SUCCEEDED"


def test_a_failed_run_exits_1_and_history_and_graph_show_the_retries(st):
    b = st.new_binding("cliretry")
    serve(st, b, addresses("10.0.4", 1), mode="servfail")
    r = albsync(st, "run", "--input", json.dumps(b))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert line(r.stdout, "path") == "Resolve -> ResolutionFailed"
    assert line(r.stdout, "retries") == "Resolve 2x (Albsync.DnsUnavailable)"
    assert line(r.stdout, "outcome").startswith("FAILED after ")
    assert "attempt 1 failed: Albsync.DnsUnavailable: cliretry.test: the name server answered SERVFAIL" in r.stdout
    assert "retry 1 after waiting" in r.stdout
    arn = line(r.stdout, "started")

    h = albsync(st, "history", arn)
    assert h.returncode == 0, h.stderr
    assert "caught, 2 retries" in h.stdout
    assert "attempt 3 after waiting" in h.stdout
    assert "last error: Albsync.DnsUnavailable in Resolve: cliretry.test: the name server answered SERVFAIL" in h.stdout

    doc = check_json(albsync(st, "history", arn, "--output", "json"), "history")
    resolve = doc["states"][0]
    assert (doc["status"], doc["error"], doc["retries"]) == ("FAILED", "ResolutionFailed", 2)
    assert (resolve["name"], resolve["status"], resolve["retries"]) == ("Resolve", "caught", 2)
    assert [a["error"] for a in resolve["attempts"]] == ["Albsync.DnsUnavailable"] * 3
    assert all(a["waitedMs"] >= 900 for a in resolve["attempts"][1:]), resolve["attempts"]

    g = albsync(st, "graph", "--execution", arn)
    assert g.returncode == 0, g.stderr
    assert g.stdout.startswith("flowchart TD\n")
    assert 's_Resolve["Resolve<br/>retried 2x: Albsync.DnsUnavailable"]' in g.stdout
    assert "    class s_Resolve retried\n" in g.stdout
    assert "    class s_ResolutionFailed failed\n" in g.stdout
    assert "    class s_Resolve,s_ResolutionFailed visited\n" in g.stdout
    assert "subgraph g_CountGrace" in g.stdout

    gj = check_json(albsync(st, "graph", "--execution", arn, "--output", "json"), "graph")
    taken = {(e["from"], e["to"]) for e in gj["edges"] if e["taken"]}
    assert taken == {("__start__", "Resolve"), ("Resolve", "ResolutionFailed")}

    dot = albsync(st, "graph", "--execution", arn, "--format", "dot")
    assert dot.returncode == 0 and dot.stdout.startswith("digraph albsync {")
    assert '"Resolve" -> "ResolutionFailed" [label="States.ALL", style=dashed, color="#2e7d32", penwidth=3];' in dot.stdout
    if shutil.which("dot"):
        rendered = subprocess.run(["dot", "-Tsvg"], input=dot.stdout, capture_output=True, text=True, timeout=30)
        assert rendered.returncode == 0, rendered.stderr


def test_graph_of_a_run_through_the_map_marks_the_iteration(st):
    b = st.new_binding("cligrace")
    serve(st, b, addresses("10.0.5", 2))
    assert st.run(b).status == "SUCCEEDED"
    serve(st, b, addresses("10.0.5", 1))
    run = st.run(b)
    assert "KeepCounting" in run.path
    r = albsync(st, "history", run.arn)
    assert "CountGrace[0] > KeepCounting" in r.stdout
    assert line(r.stdout, "path").endswith(
        "CountGrace [GraceReached -> KeepCounting] -> SaveState -> AnyToRegister -> AnyExpired -> Synced")
    g = check_json(albsync(st, "graph", "--execution", run.arn, "--output", "json"), "graph")
    taken = {(e["from"], e["to"]) for e in g["edges"] if e["taken"]}
    assert ("CountGrace", "CountGrace/GraceReached") in taken
    assert ("CountGrace/GraceReached", "CountGrace/KeepCounting") in taken
    assert ("CountGrace/GraceReached", "CountGrace/Expire") not in taken


# ------------------------------------------------------------------------------------------------ graph offline


def test_graph_from_a_definition_file_needs_no_aws(st):
    for fmt, start in (("mermaid", "flowchart TD\n"), ("dot", "digraph albsync {\n")):
        r = subprocess.run([CLI, "graph", "--definition", DEFINITION, "--format", fmt], env=base_env(),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(start)
        assert "classDef" not in r.stdout and "penwidth=3" not in r.stdout
    r = subprocess.run([CLI, "graph", "--definition", DEFINITION, "-o", "json"], env=base_env(),
                       capture_output=True, text=True, timeout=30)
    doc = check_json(r, "graph")
    with open(DEFINITION) as f:
        states = json.load(f)["States"]
    inner = sum(len(s.get("ItemProcessor", s.get("Iterator", {})).get("States", {})) for s in states.values())
    assert len(doc["nodes"]) == len(states) + inner and doc["groups"][0]["owner"] == "CountGrace"


# ------------------------------------------------------------------------------------------------ status / plan


def test_status_and_plan_follow_a_dns_change_and_change_nothing(st, tmp_path):
    b = st.new_binding("clistatus")
    file = bindings_file(tmp_path, b)
    a, b_ip, c = addresses("10.0.6", 3)
    serve(st, b, [a, b_ip])
    assert st.run(b).status == "SUCCEEDED"

    s = albsync(st, "status", "--bindings-file", file)
    assert s.returncode == 0, s.stderr
    assert "IN SYNC: DNS, the target group and the state agree on 2 addresses" in s.stdout
    doc = check_json(albsync(st, "status", "--bindings-file", file, "-o", "json"), "status")
    # Two addresses: one plain answer holds them all (fewer than 8 records), which settles the run.
    assert doc["inSync"] and doc["dns"]["resolution"]["complete"]
    assert doc["stateKey"] == st.state_key(b)
    # The in-sync figures, as the diff's EMF lines carry them (same core functions).
    f = doc["figures"]
    assert (f["resolvedAddresses"], f["registeredTargets"], f["pendingAddresses"], f["drift"]) == (2, 2, 0, 0), f
    assert f["lastInSync"] is not None and not f["eniRulesNotApplied"], f

    p = check_json(albsync(st, "plan", "--bindings-file", file, "-o", "json"), "plan")
    assert p["noop"] and not p["writesState"] and p["register"] == [] and p["deregister"] == []

    serve(st, b, [a, c])
    before = world(st, b)
    s = check_json(albsync(st, "status", "--bindings-file", file, "-o", "json"), "status")
    rows = {r["ip"]: r for r in s["addresses"]}
    assert not s["inSync"]
    assert rows[a]["agree"] and rows[a]["note"] == "in sync"
    # Registered: `initial` until the strict front's health checks pass, then `healthy` (timing, not behaviour).
    assert not rows[b_ip]["inDns"] and rows[b_ip]["targetHealth"] in ("initial", "healthy") and not rows[b_ip]["agree"]
    assert rows[c]["inDns"] and rows[c]["targetHealth"] is None and not rows[c]["agree"]
    text = albsync(st, "status", "--bindings-file", file).stdout
    assert "NOT IN SYNC: 2 of 3 addresses disagree" in text
    # One missing (its first miss: highest count 1 after a run now), one to register: drift 2.
    f = s["figures"]
    assert (f["resolvedAddresses"], f["registeredTargets"], f["pendingAddresses"], f["maxPendingMisses"],
            f["drift"], f["lastInSync"]) == (2, 2, 1, 1, 2, None), f
    assert "metrics  resolved 2, registered 2, healthy " in text and "pending 1 (highest misses 1), drift 2" in text

    p = check_json(albsync(st, "plan", "--bindings-file", file, "-o", "json"), "plan")
    steps = {(x["ip"], x["action"]): x for x in p["steps"]}
    assert p["register"] == [c] and p["deregister"] == [] and p["writesState"]
    assert steps[(b_ip, "count")]["misses"] == 1
    assert (a, "keep") in steps
    text = albsync(st, "plan", "--bindings-file", file).stdout
    assert "next run: registers 1, deregisters 0, saves " in text
    assert world(st, b) == before, "status and plan must not change the target group or the state"

    # The plan is what the run then does.
    run = st.run(b)
    assert run.status == "SUCCEEDED"
    assert st.targets(b) == sorted([a, b_ip, c], key=lambda ip: tuple(map(int, ip.split("."))))
    assert st.state(b)[0]["pending"] == {b_ip: 1}


def test_plan_names_the_dns_failure_the_run_would_hit(st):
    b = st.new_binding("cliplanfail")
    serve(st, b, addresses("10.0.7", 1), mode="nxdomain")
    r = albsync(st, "plan", "--input", json.dumps(b))
    err = clean_error(r, 3)
    assert "NXDOMAIN" in err and "ResolutionFailed" in err
    s = check_json(albsync(st, "status", "--input", json.dumps(b), "-o", "json"), "status")
    assert "NXDOMAIN" in s["dns"]["error"] and s["state"] is None and not s["inSync"]


# ------------------------------------------------------------------------------------------------ errors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unknown_execution_is_one_line_and_exit_3(st):
    arn = st.state_machine_arn.replace(":stateMachine:", ":execution:") + ":no-such-run"
    err = clean_error(albsync(st, "history", arn), 3)
    assert err == f"albsync: error: no such execution: {arn}"
    clean_error(albsync(st, "graph", "--execution", arn), 3)


def test_a_dead_endpoint_names_the_endpoint_and_exits_3(st):
    url = f"http://127.0.0.1:{free_port()}"
    err = clean_error(albsync(st, "history", "arn:aws:states:us-east-1:123456789012:execution:x:y",
                              env={"AWS_ENDPOINT_URL": url}), 3)
    assert f"cannot reach Step Functions at {url}: connection refused" in err
    b = st.new_binding("clidead")
    err = clean_error(albsync(st, "status", "--input", json.dumps(b), env={"AWS_ENDPOINT_URL": url}), 3)
    assert f"at {url}: connection refused" in err


def test_a_missing_state_machine_is_exit_3_and_no_arn_at_all_is_exit_2(st):
    b = st.new_binding("clism")
    missing = st.state_machine_arn + "-missing"
    err = clean_error(albsync(st, "run", "--input", json.dumps(b), "--state-machine", missing), 3)
    assert err == f"albsync: error: no such state machine: {missing}"
    err = clean_error(albsync(st, "run", "--input", json.dumps(b), env={"ALBSYNC_STATE_MACHINE_ARN": ""}), 2)
    assert "--state-machine" in err


def test_usage_mistakes_are_exit_2(st, tmp_path):
    b = st.new_binding("cliusage")
    file = bindings_file(tmp_path, b)
    err = clean_error(albsync(st, "plan", "--bindings-file", file, "--binding", "nope"), 2)
    assert err == f'albsync: error: unknown binding "nope": {file} has cliusage'
    bad = dict(b, port=70000)
    err = clean_error(albsync(st, "run", "--input", json.dumps(bad)), 2)
    assert "`port`" in err and "70000" in err
    no_creds = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_CONFIG_FILE": "/nonexistent",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}
    err = clean_error(albsync(st, "history", "arn:x", env=no_creds), 2)
    assert err.startswith("albsync: error: no AWS credentials:")
    r = albsync(st, "frobnicate")
    assert r.returncode == 2 and "unrecognized subcommand" in r.stderr


def test_every_command_has_help(st):
    for command in ("run", "history", "graph", "status", "plan"):
        r = albsync(st, command, "--help")
        assert r.returncode == 0 and "Usage: albsync " + command in r.stdout, r.stderr
    top = albsync(st, "--help")
    assert "Exit codes:" in top.stdout
