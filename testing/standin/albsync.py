"""albsync on the stand-in: the four real function binaries behind the Lambda emulator, the real definition
file in moto's interpreter, a VPC/ALB/NLB/target group, the state bucket and a DNS server on 127.0.0.1.

Shared by the end-to-end tests, the CLI tests and the demo:

    with AlbsyncStack() as st:
        st.dns.set("alb.test.", a=["10.0.1.10", "10.0.1.11"])
        run = st.run()                       # one execution with st.binding() as input
        run.path                             # states entered, in order
        st.targets()                         # what the target group holds (not draining)

The functions, the CLI and `st.client()` reach AWS through the strict ELB front (`strict_elb.py`): targets go
through `initial` and `draining`, zones are enforced, throttling and unhealthy targets on demand (`st.elb`).
Bindings use schedule slots of 1 s (`slotSeconds`), and `st.run()` starts each run of a binding in a second of
its own, so that consecutive runs are consecutive looks; `st.start_run()` does not wait (duplicates, overlaps).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .stack import FAKE_CREDENTIALS, REPO_ROOT, Standin, fast_retries
from .strict_elb import StrictElb

FUNCTIONS = ("resolve", "diff", "register", "deregister")
DEFINITION = os.path.join(REPO_ROOT, "statemachine", "albsync.asl.json")
STATE_PREFIX = "albsync/"
METRIC_NAMESPACE = "AlbSync"
DEPLOYMENT = "albsync-standin"
DNS_NAME = "alb.test"


@dataclass
class Run:
    """One finished execution: its description, history and the path it took."""

    arn: str
    status: str
    output: Any
    error: str | None
    history: list[dict[str, Any]] = field(repr=False)

    @property
    def path(self) -> list[str]:
        """Names of the top-level and Map-iteration states entered, in order (as the console graph shows)."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if e["type"].endswith("StateEntered")]

    @property
    def states_entered(self) -> int:
        return len(self.path)

    def failures(self) -> list[str]:
        """Error names of failed Lambda attempts, in order (each retry shows up as one)."""
        return [e["lambdaFunctionFailedEventDetails"].get("error", "") for e in self.history
                if e["type"] == "LambdaFunctionFailed"]


class AlbsyncStack:
    """The whole workflow on the stand-in. `binaries` is the folder of the function binaries
    (default target/debug)."""

    def __init__(self, binaries: str | None = None, fast: bool = True, grace_runs: int = 3,
                 run_dir: str | None = None):
        self.binaries = binaries or os.path.join(REPO_ROOT, "target", "debug")
        self.fast = fast
        self.grace_runs = grace_runs
        self.standin = Standin(run_dir=run_dir)
        self.elb: StrictElb | None = None
        self._clients: dict[str, Any] = {}
        self._last_start: dict[str, int] = {}
        self.net = None
        self.dns = None
        self.state_machine_arn = ""

    def __enter__(self) -> "AlbsyncStack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "AlbsyncStack":
        s = self.standin
        s.start()
        self.elb = StrictElb(s.moto_endpoint, region=s.region).start()
        self.net = s.create_network(port=443)
        self.dns = s.start_dns({})
        common = {"RUST_LOG": os.environ.get("RUST_LOG", "info"), "AWS_LAMBDA_LOG_FORMAT": "JSON",
                  "AWS_ENDPOINT_URL": self.elb.endpoint}
        metrics = {"ALBSYNC_METRIC_NAMESPACE": METRIC_NAMESPACE, "ALBSYNC_DEPLOYMENT": DEPLOYMENT}
        extra = {
            "resolve": {**metrics, "ALBSYNC_DNS_SERVER": s.dns_server},
            "diff": {**metrics, "ALBSYNC_STATE_BUCKET": self.net.state_bucket, "ALBSYNC_STATE_PREFIX": STATE_PREFIX},
            "deregister": {"ALBSYNC_STATE_BUCKET": self.net.state_bucket, "ALBSYNC_STATE_PREFIX": STATE_PREFIX},
        }
        for name in FUNCTIONS:
            binary = os.path.join(self.binaries, f"albsync-{name}")
            if os.path.isdir(binary):  # cargo lambda layout: <dir>/albsync-x/bootstrap
                binary = os.path.join(binary, "bootstrap")
            # Two instances each, so that two overlapping executions really overlap.
            s.register_function(name, binary, env={**common, **extra.get(name, {})}, processes=2)
        self.state_machine_arn = s.create_state_machine(DEFINITION, self.substitutions(),
                                                        transform=fast_retries if self.fast else None)
        return self

    def stop(self) -> None:
        self.standin.stop()
        if self.elb is not None:
            self.elb.stop()

    def substitutions(self) -> dict[str, str]:
        return {f"{n.capitalize()}FunctionArn": self.standin.function_arn(n) for n in FUNCTIONS}

    @property
    def env(self) -> dict[str, str]:
        """Environment for the CLI and SDK clients: the strict front's endpoint, fake credentials, region."""
        return {**self.standin.env, "AWS_ENDPOINT_URL": self.elb.endpoint}

    def client(self, service: str):
        """A boto3 client through the strict front (which relays everything but the target calls to moto)."""
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[service] = boto3.client(
                service, endpoint_url=self.elb.endpoint, region_name=self.standin.region,
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60))
        return self._clients[service]

    def binding(self, **overrides: Any) -> dict[str, Any]:
        b = {
            "name": "web",
            "dnsName": DNS_NAME,
            "port": 443,
            "targetGroupArn": self.net.target_group_arn,
            "graceRuns": self.grace_runs,
            "vpcCidrs": [self.net.vpc_cidr],
            "lookup": {"timeoutMs": 300, "maxQueries": 200, "settleQueries": 10},
        }
        b.update(overrides)
        # Slots of 1 s: runs a second apart are separate looks. graceSeconds: the first miss is graceRuns - 1
        # slots before the graceRuns-th look.
        b.setdefault("slotSeconds", 1)
        b.setdefault("graceSeconds", max(1, (b["graceRuns"] - 1) * b["slotSeconds"]))
        return b

    def new_binding(self, name: str, **overrides: Any) -> dict[str, Any]:
        """A binding of its own: a fresh IP target group and the DNS name `<name>.test`, so that tests can
        share one stack without seeing each other's targets or state."""
        tg = self.client("elbv2").create_target_group(
            Name=f"{name}-{uuid.uuid4().hex[:6]}"[:32], Protocol="TCP", Port=443, VpcId=self.net.vpc_id,
            TargetType="ip")["TargetGroups"][0]
        return self.binding(name=name, dnsName=f"{name}.test", targetGroupArn=tg["TargetGroupArn"], **overrides)

    def start_run(self, binding: dict[str, Any] | None = None, name: str | None = None) -> str:
        b = binding or self.binding()
        self._last_start[self._slot_key(b)] = int(time.time()) // int(b.get("slotSeconds", 60))
        return self.standin.start_execution(self.state_machine_arn, b, name or f"run-{uuid.uuid4().hex[:10]}")

    @staticmethod
    def _slot_key(b: dict[str, Any]) -> str:
        return f"{b['dnsName']} {b['targetGroupArn']} {b['port']}"

    def next_slot(self, binding: dict[str, Any] | None = None) -> None:
        """Waits until the binding's schedule slot is later than that of its last started run."""
        b = binding or self.binding()
        last = self._last_start.get(self._slot_key(b))
        slot = int(b.get("slotSeconds", 60))
        while last is not None and int(time.time()) // slot <= last:
            time.sleep(0.05)

    def wait(self, arn: str, timeout: float = 120.0) -> Run:
        desc = self.standin.wait_execution(arn, timeout=timeout)
        history = self.standin.history(arn)
        output = json.loads(desc["output"]) if desc.get("output") else None
        return Run(arn=arn, status=desc["status"], output=output, error=desc.get("error"), history=history)

    def run(self, binding: dict[str, Any] | None = None, timeout: float = 120.0) -> Run:
        """One execution, in a schedule slot of its own (see `next_slot`). A run counts in the slot it started
        in; the next one waits for the slot after the one this run ended in, which is at least as late."""
        b = binding or self.binding()
        self.next_slot(b)
        run = self.wait(self.start_run(b), timeout)
        self._last_start[self._slot_key(b)] = int(time.time()) // int(b.get("slotSeconds", 60))
        return run

    def target_states(self, binding: dict[str, Any] | None = None) -> dict[str, str]:
        """Every target of the binding's target group with its state (initial, healthy, draining, ...)."""
        arn = (binding or {}).get("targetGroupArn", self.net.target_group_arn)
        out = self.client("elbv2").describe_target_health(TargetGroupArn=arn)
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in out["TargetHealthDescriptions"]}

    def targets(self, binding: dict[str, Any] | None = None) -> list[str]:
        """Addresses registered in the binding's target group and not leaving (draining ones are on their way
        out after a deregistration)."""
        states = self.target_states(binding)
        return sorted((ip for ip, st in states.items() if st not in ("draining", "unhealthy.draining")), key=_ip_key)

    def state_key(self, binding: dict[str, Any] | None = None) -> str:
        b = binding or self.binding()
        _, name, tg_id = b["targetGroupArn"].rsplit(":", 1)[1].split("/")
        return f"{STATE_PREFIX}{b['dnsName']}/{name}-{tg_id}/{b['port']}.json"

    def state(self, binding: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, str | None]:
        """The state document and its ETag, or (None, None)."""
        s3 = self.client("s3")
        try:
            obj = s3.get_object(Bucket=self.net.state_bucket, Key=self.state_key(binding))
        except s3.exceptions.NoSuchKey:
            return None, None
        return json.loads(obj["Body"].read()), obj["ETag"]

    def invocations(self, name: str) -> list[Any]:
        return self.standin.emulator.invocations(name)


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(p) for p in ip.split(".")) if "." in ip else (0,)


def addresses(prefix: str, count: int, start: int = 10) -> list[str]:
    """`count` addresses `prefix.start`, `prefix.start+1`, ... spilling into the next /24 after .250."""
    a, b, c = (int(x) for x in prefix.split("."))
    out = []
    for i in range(start, start + count):
        out.append(f"{a}.{b}.{c + i // 250}.{i % 250 + 1}" if i >= 250 else f"{a}.{b}.{c}.{i}")
    return out
