"""Child-process plumbing shared by the stand-in: spawning with a kill-on-parent-death backstop, killing whole
process groups, free ports, log tails, and a process-wide cleanup registry (atexit, SIGINT, SIGTERM).

Every child is started in its own session (= its own process group), so killing the group also kills anything
the child started. On Linux each child also gets PR_SET_PDEATHSIG=SIGKILL: if this Python process dies without
running its cleanup (kill -9, crash), the kernel kills the children. Because the kernel ties that signal to the
*thread* that forked, all children are forked by one long-lived spawner thread (see `spawn`), never by short-lived
request threads.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import weakref
from typing import Callable

# ----------------------------------------------------------------------------------------- spawning

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    _prctl = _libc.prctl if _libc is not None else None
except (OSError, AttributeError):  # pragma: no cover
    _prctl = None


def _child_setup() -> None:  # runs in the child between fork and exec: keep it minimal
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _Spawner:
    """One daemon thread that performs every fork, so PDEATHSIG fires only when the whole process goes."""

    def __init__(self) -> None:
        self._q: "queue.Queue[tuple[Callable[[], subprocess.Popen], queue.Queue]]" = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, make: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="standin-spawner", daemon=True)
                self._thread.start()
        reply: queue.Queue = queue.Queue(maxsize=1)
        self._q.put((make, reply))
        ok, value = reply.get()
        if ok:
            return value
        raise value

    def _loop(self) -> None:
        while True:
            make, reply = self._q.get()
            try:
                reply.put((True, make()))
            except BaseException as e:  # hand the exception to the caller
                reply.put((False, e))


_spawner = _Spawner()
_children: "weakref.WeakSet[subprocess.Popen]" = weakref.WeakSet()
_children_lock = threading.RLock()  # re-entrant: signal handlers run on the main thread


def spawn(argv: list[str], *, env: dict[str, str], log_path: str | None = None, log_fd: int | None = None,
          cwd: str | None = None) -> subprocess.Popen:
    """Starts argv in a new session with stdout+stderr appended to log_path (or log_fd). Tracked for cleanup."""
    own_fd = None
    if log_fd is None:
        if log_path is None:
            raise ValueError("log_path or log_fd is required")
        own_fd = log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        proc = _spawner.run(lambda: subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
            start_new_session=True, preexec_fn=_child_setup, close_fds=True,
        ))
    finally:
        if own_fd is not None:
            os.close(own_fd)
    with _children_lock:
        _children.add(proc)
    return proc


def kill_group(proc: subprocess.Popen, grace: float = 0.0) -> None:
    """Kills the process group led by proc (SIGTERM first when grace > 0, then SIGKILL) and reaps proc."""
    if proc.poll() is not None:
        _kill_stragglers(proc.pid)
        return
    try:
        if grace > 0:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


def _kill_stragglers(pgid: int) -> None:
    """The leader has exited but members of its group may live on (e.g. a shell wrapper's children)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all_children() -> None:
    """Kills every process started through `spawn` that is still running. Safe in atexit/signal handlers."""
    with _children_lock:
        procs = list(_children)
    for p in procs:
        try:
            kill_group(p)
        except Exception:
            pass


# ----------------------------------------------------------------------------------------- cleanup hooks

_cleanups: list[Callable[[], None]] = []
_cleanups_lock = threading.RLock()
_previous_handlers: dict[int, object] = {}
_handlers_installed = False


def register_cleanup(fn: Callable[[], None]) -> None:
    with _cleanups_lock:
        _cleanups.append(fn)
    _install_handlers()


def unregister_cleanup(fn: Callable[[], None]) -> None:
    with _cleanups_lock:
        try:
            _cleanups.remove(fn)
        except ValueError:
            pass


def run_cleanups() -> None:
    with _cleanups_lock:
        fns = list(reversed(_cleanups))
        _cleanups.clear()
    for fn in fns:
        try:
            fn()
        except Exception as e:  # pragma: no cover - best effort
            print(f"standin: cleanup failed: {e!r}", file=sys.stderr)
    kill_all_children()


def _on_signal(signum, frame):
    run_cleanups()
    prev = _previous_handlers.get(signum)
    if callable(prev):
        prev(signum, frame)  # e.g. Python's default SIGINT handler raises KeyboardInterrupt
    elif prev == signal.SIG_IGN:
        return
    else:
        raise SystemExit(128 + signum)


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(run_cleanups)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still applies
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            _previous_handlers[sig] = signal.getsignal(sig)
            signal.signal(sig, _on_signal)
        except (ValueError, OSError):  # pragma: no cover
            pass


# ----------------------------------------------------------------------------------------- misc


def free_port(host: str = "127.0.0.1", udp_too: bool = False) -> int:
    """A port that is free on host now (TCP, and UDP when asked). Another process may still take it before use."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if not udp_too:
            return port
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found")


def tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(data.splitlines()[-lines:])
