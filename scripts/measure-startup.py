#!/usr/bin/env python3
"""Measures each function binary's start-up time (process spawn to its first Runtime API request) and its
peak memory (VmHWM after serving one invocation), against a minimal Runtime API on 127.0.0.1.

    .tools/venv/bin/python scripts/measure-startup.py [--bin-dir target/release] [--runs 20] [--json]

The binary gets the configuration it needs at init; the AWS endpoint points at a closed local port, so
nothing leaves the machine (no function calls AWS during init). The one invocation is a malformed event,
answered with Albsync.InvalidInput: it exercises the runtime's request and error paths, not AWS.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

FUNCTIONS = ("resolve", "diff", "register", "deregister")
METRICS = {"ALBSYNC_METRIC_NAMESPACE": "AlbSync", "ALBSYNC_DEPLOYMENT": "albsync-measure"}
CONFIG = {
    "resolve": {**METRICS, "ALBSYNC_DNS_SERVER": "127.0.0.1:9"},
    "diff": {**METRICS, "ALBSYNC_STATE_BUCKET": "albsync-state", "ALBSYNC_STATE_PREFIX": "albsync/"},
}


class RuntimeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.first_next = None
        self.error_type = None
        self.served = threading.Event()
        self.answered = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv: RuntimeApi = self.server
        if srv.first_next is None:
            srv.first_next = time.monotonic()
        if srv.served.is_set():
            # Second long poll: the function is idle and warm; park it until the measurement ends.
            srv.answered.wait(30)
            time.sleep(5)
            return
        srv.served.set()
        body = b'{"not": "an event"}'
        self.send_response(200)
        for k, v in {
            "Lambda-Runtime-Aws-Request-Id": "req-1",
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
        }.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        srv: RuntimeApi = self.server
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        if self.path.endswith("/error"):
            try:
                srv.error_type = json.loads(payload).get("errorType")
            except ValueError:
                srv.error_type = "unparseable"
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        srv.answered.set()


def vm_hwm_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def measure(binary: str, name: str) -> tuple[float, int, str | None]:
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": f"albsync-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_LOG_LEVEL": "error",
        **CONFIG.get(name, {}),
    }
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not api.answered.wait(20):
            raise RuntimeError(f"{binary} did not answer its invocation")
        time.sleep(0.05)  # let it return to its next long poll
        hwm = vm_hwm_kb(proc.pid)
        return (api.first_next - start) * 1000.0, hwm, api.error_type
    finally:
        proc.kill()
        proc.wait()
        api.shutdown()
        api.server_close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default="target/release")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for name in FUNCTIONS:
        binary = os.path.join(args.bin_dir, f"albsync-{name}")
        if os.path.isdir(binary):
            binary = os.path.join(binary, "bootstrap")
        if not os.access(binary, os.X_OK):
            print(f"measure-startup: {binary} is missing; build it first", file=sys.stderr)
            return 2
        starts, hwms, errors = [], [], set()
        for _ in range(args.runs):
            ms, hwm, err = measure(binary, name)
            starts.append(ms)
            hwms.append(hwm)
            errors.add(err)
        starts.sort()
        rows.append({
            "function": f"albsync-{name}",
            "startup_ms_median": round(statistics.median(starts), 2),
            "startup_ms_p95": round(starts[max(0, int(len(starts) * 0.95) - 1)], 2),
            "peak_rss_mib_max": round(max(hwms) / 1024, 1),
            "bytes": os.path.getsize(binary),
            "invocation_error": sorted(e for e in errors if e),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'function':20} {'start median ms':>16} {'p95 ms':>8} {'peak RSS MiB':>13} {'binary MiB':>11}")
        for r in rows:
            print(f"{r['function']:20} {r['startup_ms_median']:16.2f} {r['startup_ms_p95']:8.2f} "
                  f"{r['peak_rss_mib_max']:13.1f} {r['bytes'] / 2**20:11.1f}")
    bad = [r for r in rows if r["invocation_error"] != ["Albsync.InvalidInput"]]
    if bad:
        print(f"measure-startup: unexpected invocation results: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
