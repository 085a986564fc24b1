"""A strict ELB front: an HTTP server on 127.0.0.1 that the functions' AWS_ENDPOINT_URL points at. It answers
the three target calls albsync makes (RegisterTargets, DeregisterTargets, DescribeTargetHealth) itself, as real
ELB does where moto is lenient, and relays every other request (S3, CloudWatch, Step Functions, the other ELB
calls) to moto unchanged.

What it enforces that moto skips (each rule from the ELB API reference or the user guide):

* The zone rule, on Register AND Deregister: for an IP target outside the target group's VPC the
  AvailabilityZone "is required", and `all` is refused for an IP inside the VPC (its zone is detected from the
  subnet) - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetDescription.html.
  A Deregister whose zone does not match the registered one does not find the target and changes nothing (the
  call still succeeds: ELB target calls are idempotent).
* Targets are keyed by address AND port (moto keys by address only).
* A registered target is `initial` (Elb.RegistrationInProgress) for `initial_seconds` before it is `healthy`;
  `set_health()` makes one `unhealthy` (or anything else) on demand.
* A deregistered target stays `draining` (Target.DeregistrationInProgress) for `draining_seconds`, the
  deregistration delay, then disappears.
* RegisterTargets beyond `max_targets` per target group fails with `TooManyTargets`.
* `throttle(n)` makes the next n target calls fail with `Throttling` (HTTP 400), as the ELB API does beyond its
  token bucket.

Use: `StrictElb(moto_endpoint).start()`; `front.endpoint` is the URL for AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import http.server
import ipaddress
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from .lambda_emulator import relay

NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
TARGET_ACTIONS = ("RegisterTargets", "DeregisterTargets", "DescribeTargetHealth")
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


class ElbError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Target:
    ip: str
    port: int
    zone: str | None
    registered_at: float
    draining_since: float | None = None
    forced_state: str | None = None


@dataclass
class Group:
    vpc_cidr: ipaddress.IPv4Network | ipaddress.IPv6Network
    subnets: list[tuple[Any, str]]  # (network, zone)
    default_port: int | None
    targets: dict[tuple[str, int], Target]


class StrictElb:
    def __init__(self, moto_endpoint: str, *, initial_seconds: float = 1.0, draining_seconds: float = 2.0,
                 max_targets: int = 1000, region: str = "us-east-1"):
        self.moto_endpoint = moto_endpoint
        self.initial_seconds = initial_seconds
        self.draining_seconds = draining_seconds
        self.max_targets = max_targets
        self.region = region
        self.groups: dict[str, Group] = {}
        self.calls: list[tuple[str, str]] = []  # (action, outcome) of every target call, for tests
        # (action, outcome, user agent) of every call this front answered itself: moto's request recorder never
        # sees these, so a count of a run's AWS calls adds them (scripts/measure-executions.py).
        self.served: list[tuple[str, str, str]] = []
        self._throttle = 0
        self._lock = threading.RLock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._clients: dict[str, Any] = {}

    # ------------------------------------------------------------------ lifecycle and controls

    def start(self) -> "StrictElb":
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: the tests read `calls`
                pass

            def do_POST(self):
                front._handle(self)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="strict-elb", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def throttle(self, count: int) -> None:
        """The next `count` target calls answer `Throttling`."""
        with self._lock:
            self._throttle = count

    def set_health(self, target_group_arn: str, ip: str, port: int, state: str | None) -> None:
        """Forces a target's state (`unhealthy`, ...); None returns it to the normal life cycle."""
        with self._lock:
            self._group(target_group_arn).targets[(ip, port)].forced_state = state

    def zone_of(self, target_group_arn: str, ip: str, port: int) -> str | None:
        with self._lock:
            t = self._group(target_group_arn).targets.get((ip, port))
            return None if t is None else t.zone

    # ------------------------------------------------------------------ the model

    def _moto(self, service: str):
        if service not in self._clients:
            import boto3
            self._clients[service] = boto3.client(service, endpoint_url=self.moto_endpoint, region_name=self.region,
                                                  aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._clients[service]

    def _group(self, arn: str) -> Group:
        with self._lock:
            if arn in self.groups:
                return self.groups[arn]
        elb, ec2 = self._moto("elbv2"), self._moto("ec2")
        try:
            tg = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        except Exception:
            raise ElbError("TargetGroupNotFound", f"One or more target groups not found: {arn}") from None
        vpc = ec2.describe_vpcs(VpcIds=[tg["VpcId"]])["Vpcs"][0]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [tg["VpcId"]]}])["Subnets"]
        group = Group(vpc_cidr=ipaddress.ip_network(vpc["CidrBlock"]),
                      subnets=[(ipaddress.ip_network(s["CidrBlock"]), s["AvailabilityZone"]) for s in subnets],
                      default_port=tg.get("Port"), targets={})
        with self._lock:
            return self.groups.setdefault(arn, group)

    def _state(self, t: Target, now: float) -> tuple[str, str | None]:
        if t.draining_since is not None:
            return "draining", "Target.DeregistrationInProgress"
        if t.forced_state:
            return t.forced_state, "Target.FailedHealthChecks" if t.forced_state == "unhealthy" else None
        if now - t.registered_at < self.initial_seconds:
            return "initial", "Elb.RegistrationInProgress"
        return "healthy", None

    def _expire(self, g: Group, now: float) -> None:
        for key, t in list(g.targets.items()):
            if t.draining_since is not None and now - t.draining_since >= self.draining_seconds:
                del g.targets[key]

    def _check_zone(self, g: Group, ip: str, zone: str | None, action: str) -> str | None:
        """The zone ELB holds for this target, or an error as ELB words it."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise ElbError("ValidationError", f"{ip} is not a valid IP address") from None
        # IP targets: the VPC's subnets, RFC 1918 and RFC 6598 ranges only, never publicly routable addresses
        # (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-register-targets.html).
        private = any(addr in ipaddress.ip_network(n) for n in PRIVATE_RANGES) if addr.version == 4 else True
        if action == "RegisterTargets" and addr not in g.vpc_cidr and not private:
            raise ElbError("ValidationError", f"{ip} is not a valid target: publicly routable addresses cannot be "
                           "registered")
        if addr in g.vpc_cidr:
            if zone == "all":
                raise ElbError("ValidationError", f"{action}: the Availability Zone 'all' is not valid for {ip}, "
                               "which is inside the target group's VPC")
            detected = next((z for net, z in g.subnets if addr in net), None)
            if zone is not None and zone != detected:
                raise ElbError("ValidationError", f"{action}: {ip} is not in Availability Zone {zone}")
            return detected
        if zone is None:
            raise ElbError("ValidationError", f"{action}: an Availability Zone is required for {ip}, which is "
                           "outside the target group's VPC")
        return zone

    def _targets(self, form: dict[str, str], g: Group) -> list[tuple[str, int, str | None]]:
        out = []
        i = 1
        while f"Targets.member.{i}.Id" in form:
            ip = form[f"Targets.member.{i}.Id"]
            port = int(form.get(f"Targets.member.{i}.Port") or g.default_port or 0)
            out.append((ip, port, form.get(f"Targets.member.{i}.AvailabilityZone")))
            i += 1
        if not out:
            raise ElbError("ValidationError", "Targets is required")
        return out

    def _action(self, action: str, form: dict[str, str]) -> str:
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                raise ElbError("Throttling", "Rate exceeded")
        g = self._group(form.get("TargetGroupArn", ""))
        now = time.monotonic()
        with self._lock:
            self._expire(g, now)
            if action == "DescribeTargetHealth":
                return self._describe(g, now)
            targets = self._targets(form, g)
            # Every target is checked before any is changed: a refused call changes nothing.
            checked = [(ip, port, self._check_zone(g, ip, zone, action), zone) for ip, port, zone in targets]
            if action == "RegisterTargets":
                new = {(ip, port) for ip, port, _, _ in checked if (ip, port) not in g.targets
                       or g.targets[(ip, port)].draining_since is not None}
                live = sum(1 for t in g.targets.values() if t.draining_since is None)
                if live + len(new) > self.max_targets:
                    raise ElbError("TooManyTargets", f"You've reached the limit on the number of targets "
                                   f"registered to a target group ({self.max_targets})")
                for ip, port, held, _ in checked:
                    t = g.targets.get((ip, port))
                    if t is None or t.draining_since is not None:
                        g.targets[(ip, port)] = Target(ip, port, held, now)
                return "<RegisterTargetsResult/>"
            for ip, port, held, given in checked:
                t = g.targets.get((ip, port))
                # The description must match what ELB holds, zone included; otherwise it is "not registered".
                if t is not None and t.draining_since is None and (given is None or given == t.zone):
                    t.draining_since = now
            return "<DeregisterTargetsResult/>"

    def _describe(self, g: Group, now: float) -> str:
        members = []
        for (ip, port), t in sorted(g.targets.items()):
            state, reason = self._state(t, now)
            zone = f"<AvailabilityZone>{escape(t.zone)}</AvailabilityZone>" if t.zone else ""
            why = f"<Reason>{reason}</Reason>" if reason else ""
            members.append(f"<member><Target><Id>{escape(ip)}</Id><Port>{port}</Port>{zone}</Target>"
                           f"<HealthCheckPort>{port}</HealthCheckPort>"
                           f"<TargetHealth><State>{state}</State>{why}</TargetHealth></member>")
        return (f"<DescribeTargetHealthResult><TargetHealthDescriptions>{''.join(members)}"
                f"</TargetHealthDescriptions></DescribeTargetHealthResult>")

    # ------------------------------------------------------------------ HTTP

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        form: dict[str, str] = {}
        if h.command == "POST" and "x-www-form-urlencoded" in (h.headers.get("Content-Type") or ""):
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = form.get("Action", "")
        if action not in TARGET_ACTIONS:
            return self._forward(h, body)
        request_id = str(uuid.uuid4())
        try:
            result = self._action(action, form)
            outcome = "ok"
            status = 200
            xml = (f'<{action}Response xmlns="{NS}">{result}'
                   f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>")
        except ElbError as e:
            outcome, status = e.code, e.status
            xml = (f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{e.code}</Code>'
                   f"<Message>{escape(e.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        with self._lock:
            self.calls.append((action, outcome))
            self.served.append((action, outcome, h.headers.get("User-Agent") or ""))
        data = xml.encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/xml")
        h.send_header("x-amzn-RequestId", request_id)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _forward(self, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        try:
            relay(h, self.moto_endpoint, body)
        except OSError as e:
            data = f"strict ELB front could not reach moto at {self.moto_endpoint}: {e}".encode()
            h.send_response(502)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)


__all__ = ["StrictElb", "ElbError"]
