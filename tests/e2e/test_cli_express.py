"""End-to-end tests of the CLI on an Express deployment against the stand-in: `history`, `graph --execution` and
`run` read the execution from the state machine's CloudWatch Logs log group (Step Functions keeps no Express
history), and print the same timeline as for Standard.

moto neither runs Express differently nor writes execution logs, so the tests write the log records themselves,
in the shape Step Functions writes at level ALL with execution data
(https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html): one JSON record per history event with
`id`, `type`, `details` (the event's `*EventDetails`), `previous_event_id`, `event_timestamp` (ms) and
`execution_arn`, numbers as strings. The events come from a real execution of the definition on the stand-in.

Build first:  cargo build -p albsync-cli -p albsync-functions -p albsync-testdns
Run:          .tools/venv/bin/python -m pytest tests/e2e/test_cli_express.py
"""

from __future__ import annotations

import calendar
import json
import re
import select
import subprocess
import time
import uuid

import pytest

from conftest import CLI, albsync, cli_env, one_error_line
from standin.albsync import addresses

pytestmark = pytest.mark.timeout(300)


def express_state_machine(st, level: str = "ALL") -> tuple[str, str]:
    """An Express state machine with the stack's definition, logging to a log group of its own, as the construct
    configures it (cdk/lib/workflow.ts). Returns its ARN and the log group's name."""
    sfn = st.client("stepfunctions")
    definition = sfn.describe_state_machine(stateMachineArn=st.state_machine_arn)["definition"]
    name = f"albsyncx-{uuid.uuid4().hex[:8]}"
    group = f"/aws/vendedlogs/states/{name}"
    st.client("logs").create_log_group(logGroupName=group)
    arn = sfn.create_state_machine(
        name=name, definition=definition, roleArn="arn:aws:iam::123456789012:role/albsync-sfn", type="EXPRESS",
        loggingConfiguration={
            "level": level, "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {
                "logGroupArn": f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"}}],
        })["stateMachineArn"]
    return arn, group


def publish(st, deployment: str, state_machine: str, workflow_type: str, group: str, *bindings) -> None:
    config = {
        "schemaVersion": 1, "deployment": deployment, "stateMachineArn": state_machine,
        "workflowType": workflow_type, "workflowLogGroup": group, "stateBucket": st.net.state_bucket,
        "statePrefix": "albsync/", "metricNamespace": "AlbSync",
        "alarmTopicArn": "arn:aws:sns:us-east-1:123456789012:albsync-alarms", "bindings": list(bindings),
    }
    st.client("ssm").put_parameter(Name=f"/albsync/{deployment}", Value=json.dumps(config), Type="String",
                                   Overwrite=True)


def history_events(st, execution_arn: str) -> list[dict]:
    sfn = st.client("stepfunctions")
    events, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def millis(t) -> int:
    """Ms since the epoch, truncated as the SDK does (float arithmetic can lose a millisecond)."""
    return calendar.timegm(t.utctimetuple()) * 1000 + t.microsecond // 1000


def log_records(events: list[dict], execution_arn: str) -> list[dict]:
    """History events as Step Functions writes them to CloudWatch Logs."""
    out = []
    for e in events:
        details = next((v for k, v in e.items() if k.endswith("EventDetails")), {})
        out.append({
            "id": str(e["id"]),
            "type": e["type"],
            "details": details,
            "previous_event_id": str(e.get("previousEventId", 0)),
            "event_timestamp": str(millis(e["timestamp"])),
            "execution_arn": execution_arn,
            "redrive_count": "0",
        })
    return out


def write_records(st, group: str, state_machine_name: str, records: list[dict]) -> None:
    logs = st.client("logs")
    stream = f"states/{state_machine_name}/{time.strftime('%Y-%m-%d-%H-%M')}/{uuid.uuid4().hex[:8]}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": int(r["event_timestamp"]), "message": json.dumps(r)} for r in records])


def without_offsets(states: list[dict]) -> list[dict]:
    """The states without the times counted from the start; durations to the millisecond below 1 ms are
    dropped too: boto3 reads the wire's epoch seconds into a float datetime, which can lose one millisecond
    against the Rust SDK's reading of the same value, and the records are written from boto3's."""
    return [{**v, "enteredMs": None, "durationMs": v["durationMs"] is not None,
             "attempts": [{**a, "startedMs": None, "durationMs": a["durationMs"] is not None,
                           "waitedMs": a["waitedMs"] is not None} for a in v["attempts"]]} for v in states]


def close(a: list[dict], b: list[dict]) -> None:
    """Every duration of two timelines within 1 ms (see without_offsets)."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for key in ("durationMs",):
            if x[key] is not None:
                assert abs(x[key] - y[key]) <= 1, (x, y)
        for p, q in zip(x["attempts"], y["attempts"]):
            for key in ("durationMs", "waitedMs"):
                if p[key] is not None:
                    assert abs(p[key] - q[key]) <= 1, (p, q)


def rfc3339(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def timeless(text: str) -> str:
    """The text without clock times and durations (which count from the start), and without the column padding
    that follows from their widths (a duration of 9 ms in one and 10 ms in the other widens a column)."""
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "T", text)
    text = re.sub(r"\b\d+(\.\d+)?\s?(ms|s|m)\b", "D", text)
    return re.sub(r" +", " ", text)


def serve(st, binding, ips):
    name = binding["dnsName"] + "."
    st.dns.set(name, a=ips)
    st.dns.set("all." + name, a=ips, max_answers=max(len(ips), 1))


def standard_run(st, binding) -> tuple[str, str]:
    """A real run on the stand-in's Standard state machine: its name and ARN."""
    name = f"std-{uuid.uuid4().hex[:8]}"
    arn = st.standin.start_execution(st.state_machine_arn, binding, name=name)
    st.standin.wait_execution(arn, timeout=120)
    return name, arn


def test_history_and_graph_of_an_express_execution_come_from_its_log_group_and_match_standard(st):
    b = st.new_binding("xhist")
    serve(st, b, addresses("10.0.3", 2))
    name, std_arn = standard_run(st, b)
    std = f"std{uuid.uuid4().hex[:6]}"
    publish(st, std, st.state_machine_arn, "STANDARD", "/unused", b)

    xsm, group = express_state_machine(st)
    xsm_name = xsm.rsplit(":", 1)[1]
    xarn = f"arn:aws:states:us-east-1:123456789012:express:{xsm_name}:{name}:{uuid.uuid4()}"
    records = log_records(history_events(st, std_arn), xarn)
    # Another execution's records in the same group must not leak into this one.
    other = f"arn:aws:states:us-east-1:123456789012:express:{xsm_name}:other-{name}:{uuid.uuid4()}"
    write_records(st, group, xsm_name, log_records(history_events(st, std_arn), other)[:3])
    write_records(st, group, xsm_name, records)
    exp = f"exp{uuid.uuid4().hex[:6]}"
    publish(st, exp, xsm, "EXPRESS", group, b)

    s = json.loads(albsync(st, "--stack", std, "--output", "json", "history", name).stdout)
    r = albsync(st, "--stack", exp, "--output", "json", "history", name)
    assert r.returncode == 0, r.stderr
    x = json.loads(r.stdout)
    assert x["executionArn"] == xarn and x["name"] == name
    assert x["stateMachineArn"] == xsm
    for field in ("status", "path", "retries", "summary", "input", "output"):
        assert x[field] == s[field], field
    assert x["status"] == "SUCCEEDED" and "Register" in x["path"]
    # Offsets count from the start: for Express that is the ExecutionStarted record's time; moto's
    # DescribeExecution startDate is not its ExecutionStarted event's time (hundreds of ms apart), so only what
    # lies between events is compared: every state, its type, status, duration, attempts and their errors.
    assert without_offsets(x["states"]) == without_offsets(s["states"])
    close(x["states"], s["states"])
    assert x["startedAt"] == rfc3339(int(records[0]["event_timestamp"]))
    assert x["durationMs"] == int(records[-1]["event_timestamp"]) - int(records[0]["event_timestamp"])

    # The text is the same timeline but for the ARNs and the times counted from the start.
    std_text = albsync(st, "--stack", std, "history", name).stdout
    r = albsync(st, "--stack", exp, "history", name)
    assert r.returncode == 0, r.stderr
    assert timeless(r.stdout.replace(xarn, std_arn).replace(xsm, st.state_machine_arn)) == timeless(std_text)

    # By full ARN too (no deployment needed: the ARN says Express, the state machine names its log group).
    r = albsync(st, "--stack", exp, "history", xarn)
    assert r.returncode == 0, r.stderr

    std_graph = albsync(st, "--stack", std, "graph", "--execution", name).stdout
    r = albsync(st, "--stack", exp, "graph", "--execution", name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("flowchart TD")
    assert timeless(r.stdout.replace(xarn, std_arn)) == timeless(std_graph)


def test_run_on_express_follows_the_execution_through_its_log_records(st):
    b = st.new_binding("xrun")
    serve(st, b, addresses("10.0.4", 2))
    xsm, group = express_state_machine(st)
    xsm_name = xsm.rsplit(":", 1)[1]
    exp = f"exp{uuid.uuid4().hex[:6]}"
    publish(st, exp, xsm, "EXPRESS", group, b)
    name = f"xrun-{uuid.uuid4().hex[:8]}"
    p = subprocess.Popen([CLI, "--stack", exp, "run", "--binding", "xrun", "--name", name, "--poll-ms", "200"],
                         env=cli_env(st), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 60)
        assert ready, "run printed nothing within 60 s"
        first = p.stdout.readline()
        assert first.startswith("started    "), first
        arn = first.split()[1]
        # moto runs the execution (it does not tell Express from Standard); wait for it to end. Without records
        # in the log group, the CLI cannot know it ended and keeps following.
        st.standin.wait_execution(arn, timeout=120)
        time.sleep(2)
        assert p.poll() is None, (p.returncode, p.stdout.read(), p.stderr.read())
        write_records(st, group, xsm_name, log_records(history_events(st, arn), arn))
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, (out, err)
    assert "registered 2: 10.0.4.10 10.0.4.11" in out, out
    assert "succeeded at" in out, out


def test_express_problems_are_one_line_each(st):
    b = st.new_binding("xerr")
    xsm, group = express_state_machine(st)
    xsm_name = xsm.rsplit(":", 1)[1]
    exp = f"exp{uuid.uuid4().hex[:6]}"
    publish(st, exp, xsm, "EXPRESS", group, b)
    line = one_error_line(albsync(st, "--stack", exp, "history", "never-ran"), 3)
    assert "no such execution" in line and group in line

    # A record that is not a history event names the field.
    bad = {"id": "1", "type": "ExecutionStarted", "details": {}, "previous_event_id": "0",
           "event_timestamp": "soon", "execution_arn": f"arn:aws:states:us-east-1:123456789012:express:{xsm_name}:bad-1:x"}
    write_records(st, group, xsm_name, [{**bad, "event_timestamp": str(int(time.time() * 1000))}])
    logs = st.client("logs")
    stream = f"states/{xsm_name}/broken"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(bad)}])
    line = one_error_line(albsync(st, "--stack", exp, "history", "bad-1"), 3)
    assert "field `event_timestamp` is \"soon\", not an integer" in line, line

    quiet, _ = express_state_machine(st, level="ERROR")
    exq = f"exq{uuid.uuid4().hex[:6]}"
    publish(st, exq, quiet, "EXPRESS", group, b)
    line = one_error_line(albsync(st, "--stack", exq, "history", "any"), 2)
    assert "logging at level ERROR" in line, line

    # The listing reads every start and end record of the group: the broken one is named, not skipped.
    line = one_error_line(albsync(st, "--stack", exp, "executions"), 3)
    assert "field `event_timestamp` is \"soon\", not an integer" in line, line


def test_executions_of_an_express_deployment_are_listed_from_its_log_group_newest_first(st):
    b = st.new_binding("xlist")
    other = st.new_binding("xlisto")
    serve(st, b, addresses("10.0.5", 2))
    serve(st, other, addresses("10.0.6", 1))
    std = f"std{uuid.uuid4().hex[:6]}"
    publish(st, std, st.state_machine_arn, "STANDARD", "/unused", b, other)
    xsm, group = express_state_machine(st)
    xsm_name = xsm.rsplit(":", 1)[1]
    exp = f"exp{uuid.uuid4().hex[:6]}"
    publish(st, exp, xsm, "EXPRESS", group, b, other)
    runs = []
    for binding in (b, b, other):
        name, std_arn = standard_run(st, binding)
        xarn = f"arn:aws:states:us-east-1:123456789012:express:{xsm_name}:{name}:{uuid.uuid4()}"
        records = log_records(history_events(st, std_arn), xarn)
        if binding is other:
            # Logged without execution data: the start record has no input, so its binding is unknown.
            records = [{**r, "details": {k: v for k, v in r["details"].items() if k != "input"}} for r in records]
        write_records(st, group, xsm_name, records)
        runs.append((name, xarn, records))

    r = albsync(st, "--stack", exp, "--output", "json", "executions", "--binding", "xlist")
    assert r.returncode == 0, r.stderr
    x = json.loads(r.stdout)
    assert [e["name"] for e in x["executions"]] == [runs[1][0], runs[0][0]], "newest first, only the binding's"
    s = json.loads(albsync(st, "--stack", std, "--output", "json", "executions", "--binding", "xlist").stdout)
    by_name = {e["name"]: e for e in s["executions"]}
    for e, (name, xarn, records) in zip(x["executions"], [runs[1], runs[0]]):
        assert e["executionArn"] == xarn and e["binding"] == "xlist"
        for field in ("status", "path", "summary"):
            assert e[field] == by_name[name][field], field
        assert e["startedAt"] == rfc3339(int(records[0]["event_timestamp"]))
        assert e["durationMs"] == int(records[-1]["event_timestamp"]) - int(records[0]["event_timestamp"])
    assert r.stderr.splitlines() == [
        "albsync: note: binding: unknown for 1 execution(s): their start records carry no input (the state "
        "machine logs without execution data)"], r.stderr

    r = albsync(st, "--stack", exp, "executions", "--limit", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"1 executions of every binding on {xsm}\n"), r.stdout
    assert runs[2][0] in r.stdout and runs[1][0] not in r.stdout
    # The listed names are accepted by history.
    assert albsync(st, "--stack", exp, "history", runs[0][0]).returncode == 0
