#!/usr/bin/env python3
"""A tiny Lambda function speaking the Lambda Runtime API over urllib (standard library only), for testing the
stand-in without the Rust functions. Run it as a script: `python fake_function.py` with AWS_LAMBDA_RUNTIME_API set.

It echoes its input back unchanged, unless the input (a JSON object) has a `"fake"` directive object:

  {"fake": {"raise": "Custom.Error", "message": "text"}}   fail with that errorType (every time)
  {"fake": {"raise": "X", "failTimes": 2, "key": "k"}}      fail the first 2 invocations seen with key "k"
                                                            (counted in this process), then echo
  {"fake": {"sleep": 1.5}}                                  sleep, then echo (for timeouts)
  {"fake": {"exit": 3}}                                     exit the process with code 3 mid-invocation
  {"fake": {"context": true}}                               return {"input":..., "context": {...}, "env": {...},
                                                            "pid", "clock": {"started", "ended"}, "met"}
                                                            (request id, deadline, ARN, trace id, Lambda env)
  {"fake": {"rendezvous": {"dir": D, "me": "a", "other": "b", "within": 60}, "context": true}}
                                                            create D/a, wait up to 60 s for D/b; "met" says if
                                                            it came (two invocations at once meet, serial don't)

Environment: FAKE_INIT_EXIT=N makes the process exit with code N before asking for work (an init crash);
FAKE_INIT_ERROR=Type posts an init error of that type to /runtime/init/error and exits 1.
"""

import json
import os
import sys
import time
import urllib.request

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = f"http://{API}/2018-06-01/runtime"
ENV_KEYS = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_LAMBDA_RUNTIME_API",
            "AWS_ENDPOINT_URL", "FAKE_MARKER")

_failures: dict[str, int] = {}


def post(path: str, doc: object, headers: dict | None = None) -> None:
    req = urllib.request.Request(f"{BASE}/{path}", data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def fail(req_id: str, error_type: str, message: str) -> None:
    post(f"invocation/{req_id}/error", {"errorType": error_type, "errorMessage": message},
         {"Lambda-Runtime-Function-Error-Type": "Unhandled"})


def rendezvous(dir: str, me: str, other: str, within: float) -> bool:
    """Marks `me` as started in `dir`, then waits up to `within` seconds for `other`: True if it came."""
    open(os.path.join(dir, me), "w").close()
    deadline = time.monotonic() + float(within)
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(dir, other)):
            return True
        time.sleep(0.05)
    return False


def handle(req_id: str, event: object, headers) -> None:
    directive = event.get("fake") if isinstance(event, dict) else None
    if not isinstance(directive, dict):
        post(f"invocation/{req_id}/response", event)
        return
    started = time.time()
    if "sleep" in directive:
        time.sleep(float(directive["sleep"]))
    met = None
    if "rendezvous" in directive:
        met = rendezvous(**directive["rendezvous"])
    if "exit" in directive:
        print(f"fake: exiting with {directive['exit']} as asked", flush=True)
        os._exit(int(directive["exit"]))
    if "raise" in directive:
        fail_times = directive.get("failTimes")
        key = str(directive.get("key", ""))
        seen = _failures.get(key, 0)
        if fail_times is None or seen < int(fail_times):
            _failures[key] = seen + 1
            print(f"fake: raising {directive['raise']} (failure {seen + 1} for key {key!r})", flush=True)
            fail(req_id, str(directive["raise"]), str(directive.get("message", "raised as asked")))
            return
    if directive.get("context"):
        post(f"invocation/{req_id}/response", {
            "input": event,
            "context": {
                "requestId": req_id,
                "deadlineMs": int(headers["Lambda-Runtime-Deadline-Ms"]),
                "invokedFunctionArn": headers["Lambda-Runtime-Invoked-Function-Arn"],
                "traceId": headers["Lambda-Runtime-Trace-Id"],
            },
            "env": {k: os.environ.get(k) for k in ENV_KEYS},
            "pid": os.getpid(),
            "clock": {"started": started, "ended": time.time()},
            "met": met,
        })
        return
    post(f"invocation/{req_id}/response", event)


def main() -> None:
    if os.environ.get("FAKE_INIT_EXIT"):
        print("fake: init crash as asked", flush=True)
        sys.exit(int(os.environ["FAKE_INIT_EXIT"]))
    if os.environ.get("FAKE_INIT_ERROR"):
        post("init/error", {"errorType": os.environ["FAKE_INIT_ERROR"], "errorMessage": "init failed as asked"},
             {"Lambda-Runtime-Function-Error-Type": os.environ["FAKE_INIT_ERROR"]})
        sys.exit(1)
    print(f"fake: pid {os.getpid()} polling {API}", flush=True)
    while True:
        with urllib.request.urlopen(f"{BASE}/invocation/next", timeout=None) as resp:
            req_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            body = resp.read()
            headers = resp.headers
        try:
            event = json.loads(body)
        except ValueError as e:
            fail(req_id, "Fake.InvalidJson", str(e))
            continue
        try:
            handle(req_id, event, headers)
        except Exception as e:  # report like a runtime would
            fail(req_id, type(e).__name__, str(e))


if __name__ == "__main__":
    main()
