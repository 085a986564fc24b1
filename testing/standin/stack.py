"""The local AWS stand-in as one object: moto server + our Lambda emulator + (optionally) the test DNS server.

    from standin import Standin
    with Standin() as s:                       # everything on free ports of 127.0.0.1
        net = s.create_network()               # VPC, 2 subnets, internal ALB, NLB, IP target group, bucket
        s.register_function("resolve", "target/debug/albsync-resolve", env={...})
        sm = s.create_state_machine("statemachine/albsync.asl.json",
                                    {"ResolveFunctionArn": s.function_arn("resolve"), ...})
        ex = s.start_execution(sm, {...})
        done = s.wait_execution(ex)            # DescribeExecution result once no longer RUNNING
        events = s.history(ex)

How moto's Step Functions reach our Lambda (checked in moto 5.2.5, the exact pin of tests/requirements.txt):

* `moto/stepfunctions/responses.py::get_backend` picks `stepfunctions_parser_backends` (the ASL interpreter,
  `moto/stepfunctions/parser/`) only while the user config `{"stepfunctions": {"execute_state_machine": true}}`
  is set (`POST /moto-api/config`); otherwise executions are fake and never run a state. The backends are
  separate dicts: state machines created BEFORE the switch live in the other backend, so `start()` switches it
  on first, before anything is created.
* Lambda Task states (`Resource: arn:aws:lambda:...:function:NAME`, `state_task_lambda.py`, and the
  `arn:aws:states:::lambda:invoke` integration, `state_task_service_lambda.py`) both end in
  `moto/stepfunctions/parser/asl/component/state/exec/state_task/lambda_eval_utils.py`, which calls
  `boto_client_for(region=..., service="lambda")` from `moto/stepfunctions/parser/asl/utils/boto_client.py`:
      boto3.client(service_name="lambda", region_name=<region of the ARN>, aws_access_key_id="ak",
                   aws_secret_access_key="sk", endpoint_url=f"http://localhost:{moto_server_port()}",
                   config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1},
                                 connect_timeout=99999999, read_timeout=99999999))
  (`endpoint_url` is only set when moto's in-process botocore stubber is off, which is the case in server mode.)
  `moto_server_port()` (`moto/settings.py`) is `os.environ.get("MOTO_PORT") or "5000"`, read at each call.
  So the moto server process gets `MOTO_PORT=<Invoke port of our emulator>`; the interpreter then calls
  `lambda.invoke(FunctionName=<the Resource ARN>, Payload=...)` on our emulator. No retries by botocore, and
  no client-side timeout: a Lambda that hangs is ended by the emulator's function timeout.
* `moto/server.py` also takes its default `-p` from MOTO_PORT, so the port is always passed explicitly.
* Every other service integration of the interpreter (`arn:aws:states:::aws-sdk:...`, `...:::sns:publish`,
  S3 ItemReader, ...) uses the same `localhost:$MOTO_PORT` endpoint: the emulator forwards every request that is
  not a Lambda Invoke to moto (`forward_to`), so those keep working.
* `localhost`: the interpreter's client connects to `localhost`, not 127.0.0.1. urllib3 tries every address
  getaddrinfo returns, in order. On this machine `/etc/hosts` maps localhost to 127.0.0.1 only (checked with
  `getent ahosts localhost`). On a machine where ::1 comes first, the emulator also listens on [::1] with the
  same port when it can (`also_ipv6_loopback`), and urllib3 falls back to 127.0.0.1 when ::1 refuses.
  `Standin.start()` records what localhost resolves to in `self.localhost_addresses` and fails if it resolves
  to no loopback address at all.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable, Mapping, Sequence

from . import procs
from .lambda_emulator import LambdaEmulator, LambdaFunction

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/albsync-state-machine"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class StandinError(RuntimeError):
    """Something of the stand-in could not start or did not behave; the message carries the log tail."""


def function_arn(name: str, region: str = REGION, account_id: str = ACCOUNT_ID) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


# ------------------------------------------------------------------------------------------------ substitution


def substitute(text: str, substitutions: Mapping[str, str], source: str = "definition") -> str:
    """Replaces every `${Name}`; fails listing placeholders left without a value and values left unused."""
    found = set(PLACEHOLDER.findall(text))
    missing = sorted(found - set(substitutions))
    unused = sorted(set(substitutions) - found)
    problems = []
    if missing:
        problems.append(f"placeholders without a substitution: {', '.join('${' + m + '}' for m in missing)}")
    if unused:
        problems.append(f"substitutions not used by any placeholder: {', '.join(unused)}")
    if problems:
        raise StandinError(f"{source}: " + "; ".join(problems))
    return PLACEHOLDER.sub(lambda m: str(substitutions[m.group(1)]), text)


def fast_retries(definition: dict[str, Any]) -> dict[str, Any]:
    """TEST-ONLY transform for `create_state_machine(..., transform=fast_retries)`: moto's interpreter sleeps
    Retry intervals (and Wait states) in real time, so every Retry gets IntervalSeconds 1 and BackoffRate 1.0,
    without MaxDelaySeconds/JitterStrategy. ErrorEquals and MaxAttempts (what tests assert on) are kept.
    Walks nested states (Map ItemProcessor/Iterator, Parallel Branches). Returns a modified copy."""
    doc = json.loads(json.dumps(definition))

    def walk(machine: dict[str, Any]) -> None:
        for state in machine.get("States", {}).values():
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = 1
                retrier["BackoffRate"] = 1.0
                retrier.pop("MaxDelaySeconds", None)
                retrier.pop("JitterStrategy", None)
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    walk(state[key])
            for branch in state.get("Branches", []):
                walk(branch)

    walk(doc)
    return doc


# ------------------------------------------------------------------------------------------------ DNS zone


class Zone:
    """The JSON zone file read by `albsync-testdns --zone-file`, rewritten atomically (tmp + rename) on change.

        zone.set("alb.test.", a=["10.0.1.1", "10.0.2.1"])
        zone.set("alb.test.", mode="servfail")        # ok | servfail | nxdomain | refused | drop
        zone.remove("alb.test.")
    """

    MODES = ("ok", "servfail", "nxdomain", "refused", "drop")

    def __init__(self, path: str, names: Mapping[str, Mapping[str, Any]] | None = None):
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        self.names: dict[str, dict[str, Any]] = {}
        for name, rec in (names or {}).items():
            self.names[self._fqdn(name)] = self._record(**rec)
        self.write()

    @staticmethod
    def _fqdn(name: str) -> str:
        name = name.strip().lower()
        return name if name.endswith(".") else name + "."

    def _record(self, a: Sequence[str] = (), aaaa: Sequence[str] = (), mode: str = "ok",
                maxAnswers: int = 8, max_answers: int | None = None, ns: Sequence[str] = ()) -> dict[str, Any]:
        if mode not in self.MODES:
            raise ValueError(f"mode {mode!r} is not one of {self.MODES}")
        record = {"a": list(a), "aaaa": list(aaaa), "mode": mode,
                  "maxAnswers": int(max_answers if max_answers is not None else maxAnswers)}
        if ns:
            record["ns"] = list(ns)  # name server host names (lookup.mode authoritative)
        return record

    def set(self, name: str, a: Sequence[str] | None = None, aaaa: Sequence[str] | None = None,
            mode: str | None = None, max_answers: int | None = None, ns: Sequence[str] | None = None) -> None:
        """Creates or updates a name; arguments left None keep their current value (or the default)."""
        fq = self._fqdn(name)
        with self._lock:
            cur = self.names.get(fq, self._record())
            self.names[fq] = self._record(
                a=cur["a"] if a is None else a, aaaa=cur["aaaa"] if aaaa is None else aaaa,
                mode=cur["mode"] if mode is None else mode,
                max_answers=cur["maxAnswers"] if max_answers is None else max_answers,
                ns=cur.get("ns", ()) if ns is None else ns)
            self._write_locked()

    def set_mode(self, name: str, mode: str) -> None:
        self.set(name, mode=mode)

    def remove(self, name: str) -> None:
        with self._lock:
            self.names.pop(self._fqdn(name), None)
            self._write_locked()

    def document(self) -> dict[str, Any]:
        with self._lock:
            return {"names": json.loads(json.dumps(self.names))}

    def write(self) -> None:
        with self._lock:
            self._write_locked()

    def _write_locked(self) -> None:
        tmp = f"{self.path}.tmp-{os.getpid()}-{threading.get_ident()}"
        with open(tmp, "w") as f:
            json.dump({"names": self.names}, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


# ------------------------------------------------------------------------------------------------ network


@dataclasses.dataclass
class Network:
    vpc_id: str
    vpc_cidr: str
    subnet_ids: list[str]
    availability_zones: list[str]
    alb_arn: str
    alb_dns_name: str
    nlb_arn: str
    nlb_dns_name: str
    target_group_arn: str
    target_group_port: int
    listener_arn: str
    state_bucket: str


# ------------------------------------------------------------------------------------------------ the stack


class Standin:
    """Starts moto, the Lambda emulator and (on `start_dns`) the test DNS server; stops them all on exit.
    `startup_timeout` is how long a process may take to start answering: generous, because moto's imports
    take seconds of CPU and a busy machine must make the start slower, not fail it."""

    def __init__(self, run_dir: str | None = None, *, region: str = REGION, account_id: str = ACCOUNT_ID,
                 python: str | None = None, startup_timeout: float = 120.0):
        self.region = region
        self.account_id = account_id
        self.run_dir = os.path.abspath(run_dir or os.path.join(REPO_ROOT, ".run"))
        self.log_dir = os.path.join(self.run_dir, "logs")
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.emulator: LambdaEmulator | None = None
        self.moto_proc = None
        self.moto_port = 0
        self.dns_proc = None
        self.dns_port = 0
        self.zone: Zone | None = None
        self.localhost_addresses: list[str] = []
        self._clients: dict[str, Any] = {}
        self._stopped = False
        self._started = False

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> "Standin":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "Standin":
        if self._started:
            return self
        self._started = True
        os.makedirs(self.log_dir, exist_ok=True)
        procs.register_cleanup(self.stop)
        self.localhost_addresses = self._check_localhost()

        self.emulator = LambdaEmulator(self.run_dir, region=self.region, account_id=self.account_id,
                                       also_ipv6_loopback="::1" in self.localhost_addresses).start()
        self._start_moto()
        self.emulator.forward_to = self.moto_endpoint
        self._enable_execution()
        return self

    def stop(self) -> None:
        """Stops everything this stack started; idempotent, safe from atexit and signal handlers."""
        if self._stopped:
            return
        self._stopped = True
        procs.unregister_cleanup(self.stop)
        if self.emulator is not None:
            try:
                self.emulator.stop()
            except Exception as e:  # pragma: no cover
                print(f"standin: stopping the Lambda emulator failed: {e!r}", file=sys.stderr)
        for p in (self.dns_proc, self.moto_proc):
            if p is not None:
                procs.kill_group(p, grace=1.0)

    # ---------------------------------------------------------------- environment

    @property
    def moto_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def env(self) -> dict[str, str]:
        """What Rust binaries, the AWS CLI or boto3 need to talk to moto (no Lambda variables)."""
        return {
            "AWS_ENDPOINT_URL": self.moto_endpoint,
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",  # no IMDS probing by the SDKs
        }

    def client(self, service: str):
        """A boto3 client on moto (cached per service)."""
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[service] = boto3.client(
                service, endpoint_url=self.moto_endpoint, region_name=self.region,
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60))
        return self._clients[service]

    # ---------------------------------------------------------------- moto

    def _check_localhost(self) -> list[str]:
        try:
            infos = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise StandinError(f"'localhost' does not resolve ({e}); moto's Step Functions call "
                               "http://localhost:$MOTO_PORT for Lambda, so it must") from None
        addrs = [i[4][0] for i in infos]
        if not any(a == "::1" or a.startswith("127.") for a in addrs):
            raise StandinError(f"'localhost' resolves to {addrs}, no loopback address: moto's Step Functions "
                               "could not reach the Lambda emulator")
        return addrs

    def _start_moto(self) -> None:
        log_path = os.path.join(self.log_dir, "moto.log")
        last_error = ""
        for attempt in range(3):  # the free port may be taken between probing and moto binding it
            self.moto_port = procs.free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update({
                # moto's ASL interpreter sends Lambda Invoke (and every other service integration) to
                # http://localhost:$MOTO_PORT: that is our emulator, which forwards non-Lambda calls back to moto.
                "MOTO_PORT": str(self.emulator.invoke_port),
                **FAKE_CREDENTIALS,
                "AWS_DEFAULT_REGION": self.region,
                "PYTHONUNBUFFERED": "1",
            })
            with open(log_path, "a") as f:
                f.write(f"--- standin: starting moto on 127.0.0.1:{self.moto_port} "
                        f"(MOTO_PORT={self.emulator.invoke_port}) ---\n")
            argv = [self.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)]
            self.moto_proc = procs.spawn(argv, env=env, log_path=log_path, cwd=self.run_dir)
            try:
                self._wait_http(f"{self.moto_endpoint}/moto-api/config", self.moto_proc, "moto server", log_path)
                return
            except StandinError as e:
                last_error = str(e)
                procs.kill_group(self.moto_proc)
                if "Address already in use" not in procs.tail(log_path, 20):
                    break
        raise StandinError(last_error)

    def _wait_http(self, url: str, proc, what: str, log_path: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if proc.poll() is not None:
                raise StandinError(f"{what} exited with code {proc.returncode} while starting; "
                                   f"last lines of {log_path}:\n{procs.tail(log_path)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    resp.read()
                    return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            if time.monotonic() > deadline:
                raise StandinError(f"{what} not ready at {url} after {self.startup_timeout:.0f} s; "
                                   f"last lines of {log_path}:\n{procs.tail(log_path)}")
            time.sleep(0.1)

    def moto_api(self, path: str, doc: object | None = None) -> Any:
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(f"{self.moto_endpoint}/moto-api/{path}", data=data,
                                     method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        try:
            return json.loads(body)
        except ValueError:
            return body

    def _enable_execution(self) -> None:
        """Switches moto's ASL interpreter on and proves it with a one-state Pass machine (GET /moto-api/config
        does not echo the stepfunctions setting back, so the switch is checked by its effect)."""
        self.moto_api("config", {"stepfunctions": {"execute_state_machine": True}})
        sfn = self.client("stepfunctions")
        probe = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"probe": "ok"}, "End": True}}}
        arn = sfn.create_state_machine(name=f"standin-probe-{uuid.uuid4().hex[:8]}", definition=json.dumps(probe),
                                       roleArn=DEFAULT_ROLE_ARN)["stateMachineArn"]
        try:
            desc = self.wait_execution(self.start_execution(arn, {}), timeout=10)
            if desc["status"] != "SUCCEEDED" or json.loads(desc.get("output") or "null") != {"probe": "ok"}:
                raise StandinError(f"moto did not execute the probe state machine (is the stepfunctions "
                                   f"execute_state_machine switch gone?): {desc}")
        finally:
            sfn.delete_state_machine(stateMachineArn=arn)

    def reset(self) -> None:
        """Empties every moto backend (keeps the execution switch on). Registered functions stay."""
        self.moto_api("reset", {})
        self._enable_execution()

    # ---------------------------------------------------------------- Lambda

    def function_arn(self, name: str) -> str:
        return function_arn(name, self.region, self.account_id)

    def register_function(self, name: str, command: Sequence[str] | str, env: Mapping[str, str] | None = None,
                          **kwargs) -> str:
        """Registers a function process in the emulator with `self.env` (moto endpoint, fake credentials) plus
        `env`. kwargs: timeout, init_timeout, processes, memory_size, cwd, prestart. Returns its ARN."""
        if isinstance(command, str) and not os.path.isabs(command):
            candidate = os.path.join(REPO_ROOT, command)
            if os.path.exists(candidate):
                command = candidate
        self.emulator.register(name, command, {**self.env, **(env or {})}, **kwargs)
        return self.function_arn(name)

    def function(self, name: str) -> LambdaFunction:
        return self.emulator.functions[name]

    def function_log(self, name: str) -> str:
        return os.path.join(self.log_dir, f"{name}.log")

    # ---------------------------------------------------------------- DNS

    def start_dns(self, names: Mapping[str, Mapping[str, Any]] | None = None,
                  binary: str = os.path.join(REPO_ROOT, "target", "debug", "albsync-testdns")) -> Zone:
        """Starts `albsync-testdns --listen 127.0.0.1:PORT --zone-file <run_dir>/zone.json`; returns the Zone.
        `self.dns_server` is then `127.0.0.1:PORT` (the value for ALBSYNC_DNS_SERVER)."""
        if self.dns_proc is not None:
            raise StandinError("the DNS server is already running")
        if not os.access(binary, os.X_OK):
            raise StandinError(f"{binary} is missing: build it first (cargo build --workspace --all-targets --locked)")
        self.zone = Zone(os.path.join(self.run_dir, "zone.json"), names)
        log_path = os.path.join(self.log_dir, "testdns.log")
        last_error = ""
        for attempt in range(3):
            self.dns_port = procs.free_port(udp_too=True)
            marker = f"listening on 127.0.0.1:{self.dns_port}"
            start_offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
            env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "RUST_LOG", "RUST_BACKTRACE") if k in os.environ}
            argv = [binary, "--listen", f"127.0.0.1:{self.dns_port}", "--zone-file", self.zone.path]
            self.dns_proc = procs.spawn(argv, env=env, log_path=log_path, cwd=self.run_dir)
            deadline = time.monotonic() + self.startup_timeout
            while True:
                with open(log_path, "rb") as f:
                    f.seek(start_offset)
                    if marker.encode() in f.read():
                        return self.zone
                if self.dns_proc.poll() is not None:
                    last_error = (f"albsync-testdns exited with code {self.dns_proc.returncode} while starting; "
                                  f"last lines of {log_path}:\n{procs.tail(log_path)}")
                    break
                if time.monotonic() > deadline:
                    procs.kill_group(self.dns_proc)
                    raise StandinError(f"albsync-testdns did not print '{marker}' within {self.startup_timeout:.0f}"
                                       f" s; last lines of {log_path}:\n{procs.tail(log_path)}")
                time.sleep(0.05)
            self.dns_proc = None
            if "in use" not in last_error.lower():
                break
        raise StandinError(last_error)

    @property
    def dns_server(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    # ---------------------------------------------------------------- AWS resources

    def create_network(self, name: str = "web", vpc_cidr: str = "10.0.0.0/16", port: int = 80,
                       state_bucket: str = "albsync-state") -> Network:
        """A VPC with two subnets in two AZs, an internal ALB, an internal NLB, an IP target group (TCP `port`)
        forwarded by an NLB listener on `port`, and the S3 state bucket."""
        ec2 = self.client("ec2")
        elb = self.client("elbv2")
        vpc_id = ec2.create_vpc(CidrBlock=vpc_cidr)["Vpc"]["VpcId"]
        azs = [f"{self.region}a", f"{self.region}b"]
        base = vpc_cidr.split("/")[0].split(".")
        subnet_ids = []
        for i, az in enumerate(azs):
            cidr = f"{base[0]}.{base[1]}.{i + 1}.0/24"
            subnet_ids.append(ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"])
        sg_id = ec2.create_security_group(GroupName=f"{name}-alb", Description="albsync test ALB",
                                          VpcId=vpc_id)["GroupId"]
        alb = elb.create_load_balancer(Name=f"{name}-alb", Subnets=subnet_ids, SecurityGroups=[sg_id],
                                       Scheme="internal", Type="application", IpAddressType="ipv4")["LoadBalancers"][0]
        nlb = elb.create_load_balancer(Name=f"{name}-nlb", Subnets=subnet_ids, Scheme="internal",
                                       Type="network", IpAddressType="ipv4")["LoadBalancers"][0]
        tg = elb.create_target_group(Name=f"{name}-ips", Protocol="TCP", Port=port, VpcId=vpc_id,
                                     TargetType="ip", HealthCheckProtocol="TCP")["TargetGroups"][0]
        listener = elb.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=port,
                                       DefaultActions=[{"Type": "forward",
                                                        "TargetGroupArn": tg["TargetGroupArn"]}])["Listeners"][0]
        s3 = self.client("s3")
        try:
            s3.create_bucket(Bucket=state_bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        return Network(vpc_id=vpc_id, vpc_cidr=vpc_cidr, subnet_ids=subnet_ids, availability_zones=azs,
                       alb_arn=alb["LoadBalancerArn"], alb_dns_name=alb["DNSName"],
                       nlb_arn=nlb["LoadBalancerArn"], nlb_dns_name=nlb["DNSName"],
                       target_group_arn=tg["TargetGroupArn"], target_group_port=port,
                       listener_arn=listener["ListenerArn"], state_bucket=state_bucket)

    # ---------------------------------------------------------------- Step Functions

    def create_state_machine(self, definition_path: str, substitutions: Mapping[str, str] | None = None, *,
                             name: str | None = None, role_arn: str = DEFAULT_ROLE_ARN,
                             transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> str:
        """Reads the ASL file, replaces `${Name}` placeholders (all must be used, none left), optionally applies
        `transform` to the parsed definition (e.g. `fast_retries`), creates the state machine (name: the file's
        stem + a random suffix, unless given) and returns its ARN."""
        path = definition_path if os.path.isabs(definition_path) else os.path.join(REPO_ROOT, definition_path)
        with open(path) as f:
            text = f.read()
        base = os.path.basename(path).split(".")[0]
        return self.create_state_machine_from_text(text, substitutions, name=name or base, role_arn=role_arn,
                                                   source=path, transform=transform)

    def create_state_machine_from_text(self, definition: str | Mapping[str, Any],
                                       substitutions: Mapping[str, str] | None = None, *, name: str = "sm",
                                       role_arn: str = DEFAULT_ROLE_ARN, source: str = "definition",
                                       transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition, indent=2)
        text = substitute(text, substitutions or {}, source)
        try:
            parsed = json.loads(text)
        except ValueError as e:
            raise StandinError(f"{source}: not JSON after substitution: {e}") from None
        if transform is not None:
            text = json.dumps(transform(parsed), indent=2)
        sfn = self.client("stepfunctions")
        unique = f"{name}-{uuid.uuid4().hex[:8]}"
        return sfn.create_state_machine(name=unique, definition=text, roleArn=role_arn)["stateMachineArn"]

    def start_execution(self, state_machine_arn: str, execution_input: Any = None, name: str | None = None) -> str:
        """Always with a name (moto names unnamed executions 'None', and the second one collides)."""
        payload = execution_input if isinstance(execution_input, str) else json.dumps(
            {} if execution_input is None else execution_input)
        return self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name or f"run-{uuid.uuid4().hex[:12]}",
            input=payload)["executionArn"]

    def wait_execution(self, execution_arn: str, timeout: float = 60.0, poll: float = 0.1) -> dict[str, Any]:
        """Polls DescribeExecution until the execution is no longer RUNNING; fails with its history if too slow."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            try:
                desc = sfn.describe_execution(executionArn=execution_arn)
            except Exception as e:  # botocore ClientError; e.g. moto 500s when the output holds a datetime
                raise StandinError(f"DescribeExecution of {execution_arn} failed: {e}; last lines of moto.log:\n"
                                   f"{procs.tail(os.path.join(self.log_dir, 'moto.log'), 25)}") from e
            if desc["status"] in TERMINAL:
                return desc
            if time.monotonic() > deadline:
                events = [e["type"] for e in self.history(execution_arn)]
                raise StandinError(f"execution {execution_arn} still {desc['status']} after {timeout} s; "
                                   f"events so far: {events}")
            time.sleep(poll)

    def run_execution(self, state_machine_arn: str, execution_input: Any = None, name: str | None = None,
                      timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_execution(self.start_execution(state_machine_arn, execution_input, name), timeout)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


__all__ = ["Standin", "StandinError", "Zone", "Network", "substitute", "fast_retries", "function_arn", "REPO_ROOT"]
