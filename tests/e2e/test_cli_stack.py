"""End-to-end tests of the CLI's deployment awareness against the stand-in: `--stack NAME` reads the SSM parameter
`/albsync/NAME` the CDK construct publishes (cdk/lib/config.ts), so `status`, `plan`, `run` and `executions` need
no bindings file, bucket or state machine flag; `history` and `graph` take an execution name.

Build first:  cargo build --workspace --all-targets --locked
Run:          .tools/venv/bin/python -m pytest tests/e2e/test_cli_stack.py
"""

from __future__ import annotations

import json
import uuid

import pytest

from conftest import albsync, one_error_line
from standin.albsync import addresses

pytestmark = pytest.mark.timeout(240)


def publish(st, deployment: str, *bindings) -> None:
    """What the construct writes: the deployment's configuration as the SSM parameter /albsync/<deployment>."""
    config = {
        "schemaVersion": 1,
        "deployment": deployment,
        "stateMachineArn": st.state_machine_arn,
        "workflowType": "STANDARD",
        "workflowLogGroup": "/aws/vendedlogs/states/albsync-test",
        "stateBucket": st.net.state_bucket,
        "statePrefix": "albsync/",
        "metricNamespace": "AlbSync",
        "alarmTopicArn": "arn:aws:sns:us-east-1:123456789012:albsync-alarms",
        "bindings": list(bindings),
    }
    st.client("ssm").put_parameter(Name=f"/albsync/{deployment}", Value=json.dumps(config), Type="String", Overwrite=True)


def serve(st, binding, ips):
    name = binding["dnsName"] + "."
    st.dns.set(name, a=ips)
    st.dns.set("all." + name, a=ips, max_answers=max(len(ips), 1))


def test_status_run_executions_history_and_graph_by_stack_name_without_any_file(st):
    web = st.new_binding("stkweb")
    api = st.new_binding("stkapi")
    deployment = f"web{uuid.uuid4().hex[:6]}"
    publish(st, deployment, web, api)
    serve(st, api, addresses("10.0.1", 2))

    r = albsync(st, "--stack", deployment, "status", "--binding", "stkapi")
    assert r.returncode == 0, r.stderr
    assert "binding  stkapi" in r.stdout and "10.0.1.10" in r.stdout

    r = albsync(st, "--stack", deployment, "run", "--binding", "stkapi", "--name", f"stk-{deployment}-1")
    assert r.returncode == 0, r.stderr
    assert "registered 2: 10.0.1.10 10.0.1.11" in r.stdout
    assert sorted(st.targets(api)) == ["10.0.1.10", "10.0.1.11"]
    r = albsync(st, "--stack", deployment, "run", "--binding", "stkapi", "--name", f"stk-{deployment}-2")
    assert r.returncode == 0, r.stderr

    r = albsync(st, "--stack", deployment, "executions", "--binding", "stkapi")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("2 executions of binding stkapi on "), r.stdout
    assert r.stdout.index(f"stk-{deployment}-2") < r.stdout.index(f"stk-{deployment}-1"), r.stdout
    assert "path  Resolve -> Diff -> Decide -> NoChange" in r.stdout

    r = albsync(st, "--stack", deployment, "--output", "json", "executions", "--binding", "stkapi", "--limit", "1")
    doc = json.loads(r.stdout)
    assert [e["name"] for e in doc["executions"]] == [f"stk-{deployment}-2"]
    assert doc["executions"][0]["binding"] == "stkapi" and doc["executions"][0]["status"] == "SUCCEEDED"

    r = albsync(st, "--stack", deployment, "history", f"stk-{deployment}-1")
    assert r.returncode == 0, r.stderr
    assert "SUCCEEDED" in r.stdout and "Register" in r.stdout
    r = albsync(st, "--stack", deployment, "graph", "--execution", f"stk-{deployment}-1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("flowchart TD")


def test_an_unknown_stack_a_missing_binding_and_an_unknown_execution_name_are_one_line_each(st):
    deployment = f"web{uuid.uuid4().hex[:6]}"
    publish(st, deployment, st.new_binding("stkone"))
    line = one_error_line(albsync(st, "--stack", "nosuchstack", "status", "--binding", "stkone"), 3)
    assert "/albsync/nosuchstack does not exist" in line
    line = one_error_line(albsync(st, "--stack", deployment, "status", "--binding", "nope"), 2)
    assert f'unknown binding "nope": deployment {deployment} has stkone' in line
    line = one_error_line(albsync(st, "--stack", deployment, "history", "no-such-run"), 3)
    assert "no such execution" in line


def test_explicit_flags_win_over_the_deployment_and_an_exported_bindings_file_does_not_block_input(st, tmp_path):
    b = st.new_binding("stkflag")
    serve(st, b, addresses("10.0.2", 1))
    other = tmp_path / "other.json"
    other.write_text(json.dumps([st.new_binding("stkother")]))
    r = albsync(st, "plan", "--input", json.dumps(b), "--state-bucket", st.net.state_bucket,
                env={"ALBSYNC_BINDINGS_FILE": str(other)})
    assert r.returncode == 0, r.stderr
    assert "10.0.2.10" in r.stdout


def test_an_empty_endpoint_setting_is_one_line_not_a_panic(st):
    line = one_error_line(albsync(st, "--stack", "x", "status", env={"AWS_ENDPOINT_URL": ""}), 2)
    assert "AWS_ENDPOINT_URL is set but empty" in line


def test_ssm_follows_its_own_endpoint_setting_and_a_refused_connection_names_service_and_endpoint(st):
    # Port 1 on loopback: nothing listens there. AWS_ENDPOINT_URL_SSM wins over AWS_ENDPOINT_URL, as in the SDKs.
    line = one_error_line(albsync(st, "--stack", "x", "status", env={"AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:1"}), 3)
    assert line == ("albsync: error: cannot reach SSM at http://127.0.0.1:1: connection refused "
                    "(is the endpoint, or the local stand-in, running?)"), line
