"""A small local AWS Lambda: the Invoke API in front, the Lambda Runtime API behind, real processes.

Why our own: moto's Lambda needs Docker to run code, and `cargo lambda watch` differs from real Lambda where it
matters to Step Functions (a function error comes back as HTTP 500 instead of 200 + `X-Amz-Function-Error`, and
an ARN as FunctionName is a 404). This emulator behaves like real Lambda on those points.

Pieces (all threads of one Python process, all sockets on 127.0.0.1 only):

* Invoke API, one port for all functions:
  `POST /2015-03-31/functions/{FunctionName}/invocations`, FunctionName being `name`, `name:qualifier`,
  `arn:aws:lambda:REGION:ACCOUNT:function:name[:qualifier]` or `ACCOUNT:function:name` (URL-encoded or not).
  - function result: HTTP 200, body = the bytes the function posted, `X-Amz-Executed-Version: $LATEST`;
  - function error: HTTP 200 as well, plus `X-Amz-Function-Error: Unhandled`, body = the error document exactly
    as the function posted it (`{"errorType": ..., "errorMessage": ...}`);
  - emulator-made errors, also HTTP 200 + `X-Amz-Function-Error: Unhandled`, as Lambda words them:
    `Runtime.ExitError` (the process exited or crashed, before or during the invocation; the process is started
    again on the next invocation), `Sandbox.Timedout` (the invocation ran past the function's timeout, or the
    process did not ask for work within the init timeout; the process group is killed and restarted next time);
  - unknown function: HTTP 404, `x-amzn-ErrorType: ResourceNotFoundException`, Lambda's JSON body;
  - `X-Amz-Invocation-Type: Event` (202, runs in the background) and `DryRun` (204) are accepted.
  Any other request on the Invoke port is forwarded unchanged to `forward_to` (the moto server) when that is
  set: so an ASL `arn:aws:states:::aws-sdk:...` task, which moto's interpreter also sends to $MOTO_PORT, still
  reaches moto. Without `forward_to` such requests get 404.

* Runtime API, one port per function instance (process), `AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`:
  `GET /2018-06-01/runtime/invocation/next` (long poll), `POST /2018-06-01/runtime/invocation/{id}/response`,
  `POST /2018-06-01/runtime/invocation/{id}/error`, `POST /2018-06-01/runtime/init/error`.
  The next-invocation response carries `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
  `Lambda-Runtime-Invoked-Function-Arn`, `Lambda-Runtime-Trace-Id` (and `Lambda-Runtime-Client-Context` when
  the caller sent one).

* Each function has `processes` instances (default 1). One instance runs one invocation at a time, like a Lambda
  execution environment; more concurrent invocations than instances wait for a free instance (up to the function
  timeout, then 429 TooManyRequestsException). A process is started on its first invocation (or at `register`
  with `prestart=True`), with a minimal environment (PATH, HOME, LANG) + the Lambda variables + the function's
  `env`. Its stdout and stderr go to `<run_dir>/logs/<function>.log`, where the emulator also writes Lambda's
  `START`/`END`/`REPORT` lines and lines starting with `[emulator]` about process starts, exits and kills.

Use from Python:

    with LambdaEmulator(run_dir=".run") as emu:
        emu.register("echo", [sys.executable, "-m", "tests.standin.fake_function"], env={...})
        emu.endpoint_url   # http://127.0.0.1:PORT, give it to boto3 or to moto as MOTO_PORT
        emu.invoke("echo", b'{"a": 1}')   # -> InvokeResult, without HTTP

`emu.records` lists every finished invocation (function, request id, outcome, error type, duration) for tests.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import http.client
import http.server
import json
import logging
import os
import queue
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from typing import Mapping, Sequence

from . import procs

LOG = logging.getLogger("standin.lambda")

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
INVOKE_PREFIX = "/2015-03-31/functions/"
RUNTIME_PREFIX = "/2018-06-01/runtime/"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response limit
MAX_REQUEST_BYTES = 6 * 1024 * 1024


# --------------------------------------------------------------------------------------------- helpers


def parse_function_name(raw: str) -> tuple[str, str | None]:
    """Returns (name, qualifier) for any FunctionName form the Invoke API accepts."""
    value = urllib.parse.unquote(raw)
    parts = value.split(":")
    if value.startswith("arn:"):
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        if len(parts) in (7, 8) and parts[2] == "lambda" and parts[5] == "function":
            return parts[6], (parts[7] if len(parts) == 8 else None)
        raise ValueError(f"not a Lambda function ARN: {value}")
    if len(parts) in (3, 4) and parts[1] == "function":
        # ACCOUNT:function:NAME[:QUALIFIER]
        return parts[2], (parts[3] if len(parts) == 4 else None)
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 1:
        return parts[0], None
    raise ValueError(f"not a function name: {value}")


def _read_body(handler: http.server.BaseHTTPRequestHandler, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """Reads a request body sent with Content-Length or chunked transfer encoding (hyper may use either)."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        total = 0
        while True:
            line = handler.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # trailers until the empty line
                while handler.rfile.readline(65537).strip():
                    pass
                break
            chunk = handler.rfile.read(size)
            handler.rfile.readline(3)  # CRLF after the chunk
            total += size
            if total <= limit:
                chunks.append(chunk)
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _peer_closed(sock: socket.socket) -> bool:
    """True when the client has closed its side (EOF readable) while we hold its long-poll request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):  # noqa: D401 - quieter than the default traceback dump
        LOG.debug("connection error from %s", client_address, exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the Rust runtime client reuses its connection
    server_version = "albsync-standin-lambda"
    sys_version = ""

    def log_message(self, fmt, *args):  # route to logging instead of stderr
        LOG.debug("%s %s", self.address_string(), fmt % args)

    def _send(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if not headers or "Content-Type" not in headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status: int, doc: object, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc).encode(), headers)


# --------------------------------------------------------------------------------------------- results


@dataclasses.dataclass
class InvokeResult:
    """What one invocation returned, as the Invoke API reports it."""

    function: str
    request_id: str
    payload: bytes
    function_error: str | None  # "Unhandled" when the function (or the sandbox) failed, else None
    duration_ms: float
    cold_start: bool

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def error_type(self) -> str | None:
        if self.function_error is None:
            return None
        try:
            return json.loads(self.payload).get("errorType")
        except Exception:
            return None

    def json(self) -> object:
        return json.loads(self.payload)


@dataclasses.dataclass
class InvocationRecord:
    function: str
    request_id: str
    started_at: float
    duration_ms: float
    outcome: str  # "ok" | "error" | "exit" | "timeout"
    error_type: str | None
    cold_start: bool
    instance: int


class _Invocation:
    def __init__(self, payload: bytes, client_context: str | None):
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.client_context = client_context
        self.trace_id = _trace_id()
        self.delivered = False
        self.deadline = 0.0  # epoch seconds, set when delivered
        self.done = threading.Event()
        self.result: bytes = b""
        self.error = False


# --------------------------------------------------------------------------------------------- instances


class _Instance:
    """One execution environment: a Runtime API server (own port) and at most one process."""

    def __init__(self, fn: "LambdaFunction", index: int):
        self.fn = fn
        self.index = index
        self.cond = threading.Condition()
        self.current: _Invocation | None = None
        self.proc: subprocess.Popen | None = None
        self.init_error: bytes | None = None
        self.stopping = False
        self.server = _HTTPServer((fn.emulator.host, 0), self._make_handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"lambda-runtime-{fn.name}-{index}", daemon=True,
        )
        self.thread.start()

    # ---- process management

    @property
    def runtime_api(self) -> str:
        return f"{self.fn.emulator.host}:{self.port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_process(self) -> bool:
        """Starts the process if it is not running. Returns True when it was (re)started (a cold start)."""
        if self.alive():
            return False
        if self.proc is not None:
            self.fn.log_line(f"[emulator] instance {self.index}: previous process {self.proc.pid} "
                             f"had exited with {self._exit_text(self.proc.returncode)}; starting a new one")
        self.init_error = None
        env = self.fn.process_env(self)
        # own process group (a kill takes the whole tree), killed by the kernel if the emulator's process dies
        self.proc = procs.spawn(list(self.fn.command), env=env, log_fd=self.fn.log_fd, cwd=self.fn.cwd)
        self.fn.emulator._track(self.proc)
        self.fn.log_line(f"[emulator] instance {self.index}: started pid {self.proc.pid} "
                         f"(AWS_LAMBDA_RUNTIME_API={self.runtime_api}): {' '.join(self.fn.command)}")
        return True

    def kill(self, reason: str) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self.fn.log_line(f"[emulator] instance {self.index}: killing pid {proc.pid}: {reason}")
        procs.kill_group(proc)

    @staticmethod
    def _exit_text(code: int | None) -> str:
        if code is None:
            return "no exit status"
        if code < 0:
            try:
                return f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"

    def shutdown(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.kill("emulator stopping")
        self.server.shutdown()
        self.server.server_close()

    # ---- running one invocation (called by the invoker thread that holds this instance)

    def run(self, inv: _Invocation) -> tuple[bytes, bool, str]:
        """Returns (payload, is_error, outcome) with outcome in ok|error|exit|timeout."""
        fn = self.fn
        with self.cond:
            self.current = inv
            self.cond.notify_all()
        init_deadline = time.monotonic() + fn.init_timeout
        try:
            while True:
                if inv.done.wait(0.02):
                    return inv.result, inv.error, ("error" if inv.error else "ok")
                proc = self.proc
                if proc is not None and proc.poll() is not None:
                    if inv.done.is_set():
                        continue
                    msg = f"RequestId: {inv.id} Error: Runtime exited with error: {self._exit_text(proc.returncode)}"
                    if self.init_error is not None:
                        msg += f" (init error: {self.init_error.decode(errors='replace')})"
                    fn.log_line(f"[emulator] instance {self.index}: process {proc.pid} exited "
                                f"({self._exit_text(proc.returncode)}) during invocation {inv.id}")
                    return _error_doc("Runtime.ExitError", msg), True, "exit"
                with self.cond:
                    delivered = inv.delivered
                    deadline = inv.deadline
                if not delivered and time.monotonic() > init_deadline:
                    self.kill(f"no /next within the init timeout of {fn.init_timeout:.2f} s")
                    msg = (f"RequestId: {inv.id} Error: Task timed out after {fn.init_timeout:.2f} seconds "
                           "(the runtime did not ask for the invocation: INIT timeout)")
                    return _error_doc("Sandbox.Timedout", msg), True, "timeout"
                if delivered and time.time() > deadline:
                    if inv.done.is_set():
                        continue
                    self.kill(f"invocation {inv.id} timed out after {fn.timeout:.2f} s")
                    msg = f"RequestId: {inv.id} Error: Task timed out after {fn.timeout:.2f} seconds"
                    return _error_doc("Sandbox.Timedout", msg), True, "timeout"
        finally:
            with self.cond:
                self.current = None
                self.cond.notify_all()

    # ---- Runtime API

    def _make_handler(self):
        inst = self

        class RuntimeHandler(_Handler):
            def do_GET(self):
                if self.path.split("?")[0] == RUNTIME_PREFIX + "invocation/next":
                    inst._next(self)
                else:
                    self._send_json(404, {"errorType": "NotFound", "errorMessage": f"unknown path {self.path}"})

            def do_POST(self):
                path = self.path.split("?")[0]
                body = _read_body(self)
                if path == RUNTIME_PREFIX + "init/error":
                    inst.init_error = body or self.headers.get("Lambda-Runtime-Function-Error-Type", "").encode()
                    inst.fn.log_line(f"[emulator] instance {inst.index}: init error posted: "
                                     f"{body.decode(errors='replace')[:2000]}")
                    self._send_json(202, {"status": "OK"})
                    return
                rest = path[len(RUNTIME_PREFIX + "invocation/"):] if path.startswith(
                    RUNTIME_PREFIX + "invocation/") else ""
                req_id, _, kind = rest.partition("/")
                if kind not in ("response", "error"):
                    self._send_json(404, {"errorType": "NotFound", "errorMessage": f"unknown path {self.path}"})
                    return
                inst._complete(self, req_id, kind, body)

        return RuntimeHandler

    def _next(self, h: _Handler) -> None:
        with self.cond:
            while True:
                if self.stopping:
                    h.close_connection = True
                    h._send_json(503, {"errorType": "ServiceUnavailable", "errorMessage": "emulator stopping"})
                    return
                inv = self.current
                if inv is not None and not inv.delivered and not inv.done.is_set():
                    if _peer_closed(h.connection):
                        h.close_connection = True
                        return
                    inv.delivered = True
                    inv.deadline = time.time() + self.fn.timeout
                    break
                self.cond.wait(0.2)
                if _peer_closed(h.connection):
                    # the process that asked has gone (killed or crashed): drop its stale long poll
                    h.close_connection = True
                    return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.id,
            "Lambda-Runtime-Deadline-Ms": str(int(inv.deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": self.fn.arn,
            "Lambda-Runtime-Trace-Id": inv.trace_id,
            "Content-Type": "application/json",
        }
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        try:
            h._send(200, inv.payload, headers)
        except OSError:
            # could not hand it over: make it available again for the next poll
            with self.cond:
                inv.delivered = False
                self.cond.notify_all()
            h.close_connection = True

    def _complete(self, h: _Handler, req_id: str, kind: str, body: bytes) -> None:
        with self.cond:
            inv = self.current
            if inv is None or inv.id != req_id or not inv.delivered or inv.done.is_set():
                h._send_json(400, {"errorType": "InvalidRequestID",
                                   "errorMessage": f"no invocation {req_id} is waiting for a result"})
                return
            if kind == "response":
                if len(body) > MAX_RESPONSE_BYTES:
                    inv.result = _error_doc(
                        "Function.ResponseSizeTooLarge",
                        f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size "
                        f"({MAX_RESPONSE_BYTES} bytes).")
                    inv.error = True
                else:
                    inv.result = body
            else:
                inv.result = _normalize_error_body(body, h.headers.get("Lambda-Runtime-Function-Error-Type"))
                inv.error = True
            inv.done.set()
        h._send_json(202, {"status": "OK"})


def _error_doc(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _normalize_error_body(body: bytes, header_type: str | None) -> bytes:
    """Passes the function's error document through unchanged when it is a JSON object with errorType."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and "errorType" in doc:
            return body
    except Exception:
        pass
    return _error_doc(header_type or "Runtime.Unknown", body.decode(errors="replace"))


# --------------------------------------------------------------------------------------------- functions


class LambdaFunction:
    def __init__(self, emulator: "LambdaEmulator", name: str, command: Sequence[str], env: Mapping[str, str],
                 timeout: float, init_timeout: float, processes: int, memory_size: int, cwd: str | None):
        self.emulator = emulator
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.timeout = float(timeout)
        self.init_timeout = float(init_timeout)
        self.memory_size = memory_size
        self.cwd = cwd
        self.arn = f"arn:aws:lambda:{emulator.region}:{emulator.account_id}:function:{name}"
        self.log_path = os.path.join(emulator.log_dir, f"{name}.log")
        self.log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._log_lock = threading.Lock()
        self.instances = [_Instance(self, i) for i in range(max(1, processes))]
        self.idle: "queue.Queue[_Instance]" = queue.Queue()
        for inst in self.instances:
            self.idle.put(inst)

    @property
    def runtime_api(self) -> str:
        """The Runtime API address of instance 0 (the only one with the default processes=1)."""
        return self.instances[0].runtime_api

    def log_line(self, text: str) -> None:
        with self._log_lock:
            os.write(self.log_fd, f"{_now_iso()} {text}\n".encode())

    def process_env(self, inst: _Instance) -> dict[str, str]:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        region = self.emulator.region
        env.update({
            "AWS_LAMBDA_RUNTIME_API": inst.runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "LAMBDA_TASK_ROOT": self.cwd or os.getcwd(),
            "_HANDLER": "bootstrap",
            "TZ": ":UTC",
        })
        env.update(self.env)
        return env

    def acquire(self, timeout: float) -> _Instance | None:
        try:
            return self.idle.get(timeout=timeout)
        except queue.Empty:
            return None

    def release(self, inst: _Instance) -> None:
        self.idle.put(inst)

    def close(self) -> None:
        for inst in self.instances:
            inst.shutdown()
        try:
            os.close(self.log_fd)
        except OSError:
            pass


# --------------------------------------------------------------------------------------------- emulator


class LambdaEmulator:
    def __init__(self, run_dir: str, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT,
                 host: str = "127.0.0.1", invoke_port: int = 0, forward_to: str | None = None,
                 also_ipv6_loopback: bool = False):
        """`forward_to`: `http://127.0.0.1:PORT` of the moto server for every non-Invoke request.
        `also_ipv6_loopback`: also listen on [::1] with the same Invoke port (best effort), for machines where
        `localhost` resolves to ::1 first."""
        self.region = region
        self.account_id = account_id
        self.host = host
        self.run_dir = os.path.abspath(run_dir)
        self.log_dir = os.path.join(self.run_dir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.forward_to = forward_to
        self.functions: dict[str, LambdaFunction] = {}
        self.records: list[InvocationRecord] = []
        self._records_lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._procs_lock = threading.RLock()
        self._started = False
        self._closed = False
        self._invoke_port_wanted = invoke_port
        self._also_ipv6 = also_ipv6_loopback
        self._servers: list[_HTTPServer] = []
        self.invoke_port = 0
        self.ipv6_listening = False

    # ---- lifecycle

    def start(self) -> "LambdaEmulator":
        if self._started:
            return self
        server = _HTTPServer((self.host, self._invoke_port_wanted), self._make_invoke_handler())
        self.invoke_port = server.server_address[1]
        self._servers.append(server)
        if self._also_ipv6:
            try:
                class _V6(_HTTPServer):
                    address_family = socket.AF_INET6
                v6 = _V6(("::1", self.invoke_port), self._make_invoke_handler())
                self._servers.append(v6)
                self.ipv6_listening = True
            except OSError as e:
                LOG.info("not listening on [::1]:%s too: %s", self.invoke_port, e)
        for s in self._servers:
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"lambda-invoke-{s.server_address[1]}", daemon=True).start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        closers = [threading.Thread(target=fn.close, daemon=True) for fn in self.functions.values()]
        for t in closers:
            t.start()
        for t in closers:
            t.join(10)
        for s in self._servers:
            s.shutdown()
            s.server_close()
        self.kill_all()

    def kill_all(self) -> None:
        """Kills every process the emulator ever started (safe to call from signal handlers and atexit)."""
        with self._procs_lock:
            live = list(self._procs)
        for p in live:
            procs.kill_group(p)

    def _track(self, proc: subprocess.Popen) -> None:
        with self._procs_lock:
            self._procs = [p for p in self._procs if p.poll() is None]
            self._procs.append(proc)

    def __enter__(self) -> "LambdaEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.invoke_port}"

    # ---- functions

    def register(self, name: str, command: Sequence[str] | str, env: Mapping[str, str] | None = None, *,
                 timeout: float = 30.0, init_timeout: float = 10.0, processes: int = 1, memory_size: int = 128,
                 cwd: str | None = None, prestart: bool = False) -> LambdaFunction:
        """Registers a function run as `command` (an executable path or an argv list)."""
        if name in self.functions:
            raise ValueError(f"function {name} is already registered")
        argv = [command] if isinstance(command, str) else list(command)
        if not os.path.isabs(argv[0]) and os.sep in argv[0]:
            argv[0] = os.path.abspath(argv[0])
        if os.sep in argv[0] and not os.access(argv[0], os.X_OK):
            raise FileNotFoundError(f"function {name}: {argv[0]} is not an executable file")
        fn = LambdaFunction(self, name, argv, env or {}, timeout, init_timeout, processes, memory_size, cwd)
        self.functions[name] = fn
        if prestart:
            for inst in fn.instances:
                inst.ensure_process()
        return fn

    def function(self, name_or_arn: str) -> LambdaFunction | None:
        try:
            name, _ = parse_function_name(name_or_arn)
        except ValueError:
            return None
        return self.functions.get(name)

    def invocations(self, function: str | None = None) -> list[InvocationRecord]:
        with self._records_lock:
            return [r for r in self.records if function is None or r.function == function]

    def restart(self, name: str) -> None:
        """Kills the function's processes; the next invocation starts them again (a cold start)."""
        for inst in self.functions[name].instances:
            inst.kill("restart requested")

    def invoke(self, name_or_arn: str, payload: bytes | str | object = b"{}",
               client_context: str | None = None) -> InvokeResult:
        """Invokes synchronously, as the Invoke API would (without HTTP). Raises KeyError for unknown functions."""
        fn = self.function(name_or_arn)
        if fn is None:
            raise KeyError(f"Function not found: {name_or_arn}")
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, (bytes, bytearray)):
            payload = json.dumps(payload).encode()
        return self._invoke(fn, bytes(payload), client_context)

    def _invoke(self, fn: LambdaFunction, payload: bytes, client_context: str | None) -> InvokeResult:
        inst = fn.acquire(timeout=fn.timeout + fn.init_timeout)
        if inst is None:
            raise TooManyRequests(fn.name)
        started = time.time()
        t0 = time.monotonic()
        inv = _Invocation(payload, client_context)
        try:
            cold = inst.ensure_process()
            fn.log_line(f"START RequestId: {inv.id} Version: $LATEST")
            result, is_error, outcome = inst.run(inv)
            duration = (time.monotonic() - t0) * 1000
            fn.log_line(f"END RequestId: {inv.id}")
            fn.log_line(f"REPORT RequestId: {inv.id}\tDuration: {duration:.2f} ms\t"
                        f"Memory Size: {fn.memory_size} MB\t{'Cold start' if cold else 'Warm'}\tOutcome: {outcome}")
        finally:
            fn.release(inst)
        res = InvokeResult(fn.name, inv.id, result, "Unhandled" if is_error else None, duration, cold)
        with self._records_lock:
            self.records.append(InvocationRecord(fn.name, inv.id, started, duration, outcome, res.error_type,
                                                 cold, inst.index))
        return res

    # ---- Invoke API

    def _make_invoke_handler(self):
        emu = self

        class InvokeHandler(_Handler):
            def _route(self):
                path = self.path.split("?")[0]
                if self.command == "POST" and path.startswith(INVOKE_PREFIX) and path.endswith("/invocations"):
                    raw = path[len(INVOKE_PREFIX):-len("/invocations")]
                    emu._serve_invoke(self, raw)
                elif emu.forward_to:
                    emu._forward(self)
                else:
                    _read_body(self)
                    self._send_json(404, {"Type": "User", "message": f"unknown path {self.path}"},
                                    {"x-amzn-ErrorType": "UnknownOperationException"})

            do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = _route

        return InvokeHandler

    def _serve_invoke(self, h: _Handler, raw_name: str) -> None:
        body = _read_body(h)
        req_headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        fn = self.function(raw_name)
        if fn is None:
            name = urllib.parse.unquote(raw_name)
            arn = name if name.startswith("arn:") else \
                f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
            h._send_json(404, {"Type": "User", "message": f"Function not found: {arn}"},
                         {**req_headers, "x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        if len(body) > MAX_REQUEST_BYTES:
            h._send_json(413, {"Type": "User", "message": "Request must be smaller than 6291456 bytes"},
                         {**req_headers, "x-amzn-ErrorType": "RequestTooLargeException"})
            return
        if body:
            try:
                json.loads(body)
            except ValueError:
                h._send_json(400, {"Type": "User", "message": "Could not parse request body into json"},
                             {**req_headers, "x-amzn-ErrorType": "InvalidRequestContentException"})
                return
        payload = body or b"{}"
        client_context = None
        cc = h.headers.get("X-Amz-Client-Context")
        if cc:
            try:
                client_context = base64.b64decode(cc).decode()
            except Exception:
                client_context = None
        invocation_type = h.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            h._send(204, b"", req_headers)
            return
        if invocation_type == "Event":
            threading.Thread(target=self._invoke_quietly, args=(fn, payload, client_context), daemon=True).start()
            h._send(202, b"", req_headers)
            return
        try:
            res = self._invoke(fn, payload, client_context)
        except TooManyRequests:
            h._send_json(429, {"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
                         {**req_headers, "x-amzn-ErrorType": "TooManyRequestsException"})
            return
        headers = {"x-amzn-RequestId": res.request_id, "X-Amz-Executed-Version": "$LATEST",
                   "Content-Type": "application/json"}
        if res.function_error:
            headers["X-Amz-Function-Error"] = res.function_error
        h._send(200, res.payload, headers)

    def _invoke_quietly(self, fn, payload, client_context):
        try:
            self._invoke(fn, payload, client_context)
        except Exception:  # pragma: no cover - background event invocations only log
            LOG.exception("event invocation of %s failed", fn.name)

    def _forward(self, h: _Handler) -> None:
        """Relays a non-Lambda request to moto unchanged (aws-sdk / service integrations of the interpreter)."""
        body = _read_body(h, limit=1 << 62)
        try:
            relay(h, self.forward_to, body)
        except OSError as e:
            h._send_json(502, {"message": f"stand-in could not reach moto at {self.forward_to}: {e}"})


def relay(h: http.server.BaseHTTPRequestHandler, base_url: str, body: bytes) -> None:
    """Sends the request `h` is serving, with `body`, to `base_url` and writes the answer back unchanged (hop
    headers aside). Raises OSError when `base_url` cannot be reached; the caller answers that in its own words.
    One relay for the Lambda emulator and the strict ELB front, both of which sit in front of moto."""
    target = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
    try:
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() not in ("transfer-encoding", "connection", "content-length")}
        conn.request(h.command, h.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        h.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
    finally:
        conn.close()


class TooManyRequests(Exception):
    pass


__all__ = ["LambdaEmulator", "LambdaFunction", "InvokeResult", "InvocationRecord", "parse_function_name"]
