#!/usr/bin/env python3
"""Wall time, state transitions and AWS calls of albsync executions on the local stand-in.

    .tools/venv/bin/python scripts/measure-executions.py [--runs 9] [--json]

Kinds measured (each `--runs` times, median reported):
  steady       nothing changed: Resolve, Diff, Decide, NoChange
  steady-eni   the same with the ENI source (binding field `eni`): one DescribeNetworkInterfaces more
  registering  a first run on a fresh target group: three addresses registered
  counting     one address missing (within its grace): the count is saved, nothing removed

Wall time is ExecutionStarted to the end event in the execution history (moto's clock). Transitions are
the states entered. AWS calls are the requests the function binaries made (user agent aws-sdk-rust for the
SDK clients, albsync/ for the signed EC2 request): those
the strict ELB front answers itself (RegisterTargets, DeregisterTargets, DescribeTargetHealth; from the
front's own log, since they never reach moto) plus those it relays to moto (from moto's request recorder).
The harness's own calls (Step Functions polling, its boto3 clients) are not counted.
Retry intervals are the definition's own (no test speed-up).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import urllib.parse
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))

from standin.albsync import AlbsyncStack, addresses  # noqa: E402


def moto(st: AlbsyncStack, path: str, data: bytes | None = None) -> bytes:
    req = urllib.request.Request(st.standin.moto_endpoint + path, data=data, method="POST" if data is not None
                                 else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def _ours(user_agent: str) -> bool:
    """A request of a function binary: an SDK client's, or albsync's own signed request (EC2)."""
    return "aws-sdk-rust" in user_agent or user_agent.startswith("albsync/")


def operation(entry: dict) -> str:
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    url = urllib.parse.urlparse(entry["url"])
    if "x-amz-target" in headers:
        return headers["x-amz-target"].split(".")[-1]
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    if "Action=" in body:
        return urllib.parse.parse_qs(body).get("Action", ["?"])[0]
    query = urllib.parse.parse_qs(url.query)
    if "x-id" in query:
        return query["x-id"][0]
    return {"GET": "GetObject", "PUT": "PutObject"}.get(entry["method"], entry["method"])


def measured(st: AlbsyncStack, binding: dict) -> dict:
    moto(st, "/moto-api/recorder/reset-recording", b"")
    moto(st, "/moto-api/recorder/start-recording", b"")
    served_before = len(st.elb.served)
    run = st.run(binding)
    moto(st, "/moto-api/recorder/stop-recording", b"")
    calls = Counter(action for action, _, ua in st.elb.served[served_before:] if _ours(ua))
    for line in moto(st, "/moto-api/recorder/download-recording").decode().splitlines():
        entry = json.loads(line)
        ua = {k.lower(): v for k, v in entry["headers"].items()}.get("user-agent", "")
        if _ours(ua):
            calls[operation(entry)] += 1
    start = run.history[0]["timestamp"]
    end = run.history[-1]["timestamp"]
    return {"end": run.path[-1], "wall_ms": (end - start).total_seconds() * 1000, "transitions": len(run.path),
            "aws_calls": sum(calls.values()), "calls": dict(sorted(calls.items())), "path": run.path}


def summary(kind: str, rows: list[dict]) -> dict:
    walls = sorted(r["wall_ms"] for r in rows)
    return {"kind": kind, "runs": len(rows), "wall_ms_median": round(statistics.median(walls), 1),
            "wall_ms_min": round(walls[0], 1), "wall_ms_max": round(walls[-1], 1),
            "transitions": sorted({r["transitions"] for r in rows}), "aws_calls": sorted({r["aws_calls"] for r in rows}),
            "calls": rows[-1]["calls"], "path": rows[-1]["path"], "ends": sorted({r["end"] for r in rows})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    with AlbsyncStack(fast=False) as st:
        steady = st.new_binding("steady")
        ips = addresses("10.0.1", 3)
        for name in ("steady.test.", "all.steady.test."):
            st.dns.set(name, a=ips)
        st.run(steady)
        results.append(summary("steady", [measured(st, steady) for _ in range(args.runs)]))

        # The stand-in ALB's nodes: interfaces described `ELB app/<name>/<id>`, attached (in use) as a node's are.
        _, lb_name, lb_id = st.net.alb_arn.rsplit(":", 1)[1].split("/", 1)[1].split("/")
        ec2 = st.client("ec2")
        instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                     SubnetId=st.net.subnet_ids[0])["Instances"][0]["InstanceId"]
        eni_ips = addresses("10.0.1", 3, start=60)
        for device, ip in enumerate(eni_ips, start=1):
            ni = ec2.create_network_interface(SubnetId=st.net.subnet_ids[0], PrivateIpAddress=ip,
                                              Description=f"ELB app/{lb_name}/{lb_id}")["NetworkInterface"]
            ec2.attach_network_interface(NetworkInterfaceId=ni["NetworkInterfaceId"], InstanceId=instance,
                                         DeviceIndex=device)
        steady_eni = st.new_binding("steadyeni", eni={"loadBalancerName": lb_name, "loadBalancerId": lb_id})
        for name in ("steadyeni.test.", "all.steadyeni.test."):
            st.dns.set(name, a=eni_ips)
        st.run(steady_eni)
        results.append(summary("steady-eni", [measured(st, steady_eni) for _ in range(args.runs)]))

        rows = []
        for i in range(args.runs):
            b = st.new_binding(f"reg{i}")
            for name in (f"reg{i}.test.", f"all.reg{i}.test."):
                st.dns.set(name, a=ips)
            rows.append(measured(st, b))
        results.append(summary("registering", rows))

        counting = st.new_binding("counting", graceRuns=1000)
        for name in ("counting.test.", "all.counting.test."):
            st.dns.set(name, a=ips)
        st.run(counting)
        for name in ("counting.test.", "all.counting.test."):
            st.dns.set(name, a=ips[:2])
        results.append(summary("counting", [measured(st, counting) for _ in range(args.runs)]))

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'kind':12} {'runs':>4} {'median ms':>10} {'min-max ms':>14} {'transitions':>12} {'AWS calls':>10}  calls")
        for r in results:
            print(f"{r['kind']:12} {r['runs']:4} {r['wall_ms_median']:10.1f} "
                  f"{r['wall_ms_min']:6.0f}-{r['wall_ms_max']:<7.0f} {','.join(map(str, r['transitions'])):>12} "
                  f"{','.join(map(str, r['aws_calls'])):>10}  {r['calls']}")
    expected_ends = {"steady": ["NoChange"], "steady-eni": ["NoChange"], "registering": ["Synced"], "counting": ["Synced"]}
    bad = [r for r in results if r["ends"] != expected_ends[r["kind"]]]
    if bad:
        print(f"measure-executions: unexpected outcomes: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
