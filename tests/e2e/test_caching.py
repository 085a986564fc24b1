"""End-to-end: a binding whose answers come from a real caching resolver (dnsmasq, on loopback), through the
state machine. Behind a cache every query of a TTL window gets the same record set of 8; the 4 other registered
targets are absent from every answer of those runs. albsync must say the answers were cached, count none of
them missing, remove nothing, and carry the evidence across runs counting the cached set once.

How the binding reaches the cache: the stand-in's functions ask one DNS server (ALBSYNC_DNS_SERVER) for every
binding, so this binding uses `lookup.mode: authoritative` and its zone's NS record names a host at 127.0.0.77,
where dnsmasq listens on the stand-in's DNS port (authoritative mode asks a loopback resolver's zone servers
on the same port) and forwards to the test DNS server. The answers the functions get are dnsmasq's cached ones,
exactly as from a caching VPC resolver.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from standin.albsync import addresses

pytestmark = pytest.mark.timeout(120)

CACHE_HOST = "127.0.0.77"


def _answers(host: str, port: int, name: str) -> bool:
    """Whether a DNS server at host:port answers an A query for `name` (any response code)."""
    query = struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".")) + b"\0"
    query += struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(query, (host, port))
        try:
            return s.recv(512)[:2] == b"\x51\x51"
        except socket.timeout:
            return False


@pytest.fixture
def cache(st):
    """dnsmasq on CACHE_HOST:<the stand-in's DNS port>, caching and forwarding to the test DNS server."""
    binary = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else None)
    assert binary, "dnsmasq is not installed (scripts/setup.sh installs Debian's dnsmasq-base)"
    port = st.standin.dns_port
    proc = subprocess.Popen(
        [binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
         "--bind-interfaces", f"--listen-address={CACHE_HOST}", f"--port={port}", "--cache-size=1000",
         "--pid-file=", f"--server=127.0.0.1#{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20  # generous: the machine may be busy
        while not _answers(CACHE_HOST, port, "ready.albsync.invalid"):
            assert proc.poll() is None, f"dnsmasq exited with {proc.returncode}"
            assert time.monotonic() < deadline, "dnsmasq did not answer within 20 s"
        yield CACHE_HOST
    finally:
        proc.kill()  # by its PID: the process this fixture started
        proc.wait()


def test_behind_a_caching_resolver_no_live_target_is_counted_or_removed(st, cache):
    live = addresses("10.0.40", 12)
    b = st.new_binding("cached", graceRuns=2)
    name = b["dnsName"] + "."
    st.dns.remove("all." + name)
    st.dns.set(name, a=live, max_answers=8, mode="ok")
    # The first run asks the test server directly (resolver mode, fresh answers): all 12 are registered.
    first = st.run(b)
    assert first.status == "SUCCEEDED", first.error
    assert st.targets(b) == sorted(live, key=lambda ip: tuple(map(int, ip.split("."))))

    # From now on the answers come from the cache (60 s TTL: every run of this test in one window).
    st.dns.set(name, ns=[f"ns.{b['dnsName']}."])
    st.dns.set(f"ns.{b['dnsName']}.", a=[cache])
    cached = dict(b, lookup={"mode": "authoritative"})
    seen = None
    for i in range(3):
        run = st.run(cached)
        assert run.status == "SUCCEEDED", run.error
        resolution = run.output["resolved"]["resolution"]
        assert resolution["cached"] is True, resolution
        assert resolution["complete"] is False
        answered = run.output["plan"]["active"]
        assert len(answered) == 8, answered
        seen = seen or answered
        assert answered == seen, "one cached record set for the whole window"
        assert run.output["plan"]["missing"] == [], f"run {i}: a live target counted missing"
        assert "Deregister" not in run.path
        assert len(st.targets(b)) == 12, f"run {i}: a live target was removed"
        doc, _ = st.state(b)
        assert doc["pending"] == {}, "nothing counted"
        absent = sorted(set(live) - set(answered))
        evidence = doc["evidence"]["absence"]
        assert sorted(evidence) == sorted(absent), evidence
        assert all(e["answers"] == 1 for e in evidence.values()), f"run {i}: the cached set counted once: {evidence}"
