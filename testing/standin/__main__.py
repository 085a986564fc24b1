"""Runs the stand-in in the foreground until SIGINT/SIGTERM (for manual poking, the demo and the teardown test).

    .tools/venv/bin/python -m standin [--run-dir DIR] [--network] [--function NAME=EXECUTABLE ...]
                                     [--fake NAME ...] [--invoke NAME ...] [--dns]
    (run from tests/, or with PYTHONPATH=tests)

Prints one JSON line when ready: endpoints, the environment for clients, function ARNs, the network created and the
pids of every process it started (`pids`), then waits. Ctrl-C or SIGTERM stops everything.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading

from .stack import Standin

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_function.py")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m standin", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", default=None, help="logs and state (default: <repo>/.run)")
    ap.add_argument("--network", action="store_true", help="create the VPC, ALB, NLB, target group, bucket")
    ap.add_argument("--function", action="append", default=[], metavar="NAME=EXECUTABLE")
    ap.add_argument("--fake", action="append", default=[], metavar="NAME", help="register the Python fake function")
    ap.add_argument("--invoke", action="append", default=[], metavar="NAME", help="invoke once with {} when ready")
    ap.add_argument("--dns", action="store_true", help="start target/debug/albsync-testdns")
    args = ap.parse_args(argv)

    stop = threading.Event()
    with Standin(args.run_dir) as s:
        for spec in args.function:
            name, _, exe = spec.partition("=")
            s.register_function(name, exe)
        for name in args.fake:
            s.register_function(name, [sys.executable, FAKE])
        for name in args.invoke:
            s.emulator.invoke(name, {})
        network = s.create_network() if args.network else None
        if args.dns:
            s.start_dns()
        pids = [p.pid for p in (s.moto_proc, s.dns_proc) if p is not None]
        for fn in s.emulator.functions.values():
            pids += [i.proc.pid for i in fn.instances if i.proc is not None and i.proc.poll() is None]
        print(json.dumps({
            "ready": True,
            "pid": os.getpid(),
            "motoEndpoint": s.moto_endpoint,
            "lambdaEndpoint": s.emulator.endpoint_url,
            "dnsServer": s.dns_server if s.dns_proc else None,
            "env": s.env,
            "functions": {n: s.function_arn(n) for n in s.emulator.functions},
            "network": dataclasses.asdict(network) if network else None,
            "pids": pids,
            "logs": s.log_dir,
        }), flush=True)
        # SIGINT/SIGTERM run the stand-in's cleanup (procs._on_signal) and then end this wait with an exception.
        signal.signal(signal.SIGHUP, lambda *_: stop.set())
        while not stop.wait(1):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
