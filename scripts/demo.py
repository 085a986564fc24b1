#!/usr/bin/env python3
"""The albsync demo: a scripted story on the local stand-in (moto running the real state machine definition,
the real function binaries behind a Lambda Runtime API, a DNS server on 127.0.0.1).

An internal ALB starts with two nodes, scales out, has a node replaced, suffers a DNS outage and has a node
flap. After each execution the demo prints the path taken through the state machine and what the NLB's
target group holds; it ends with a summary and exits non-zero if the story did not turn out as told.

Run it with scripts/demo.sh (which sets everything up first).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))

from standin.albsync import AlbsyncStack  # noqa: E402
from standin.stack import REPO_ROOT  # noqa: E402

GRACE = 3
BOLD, DIM, GREEN, RED, RESET = ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() \
    else ("", "", "", "", "")


class Story:
    def __init__(self, st: AlbsyncStack):
        self.st = st
        self.binding = st.binding(name="web", graceRuns=GRACE)
        self.alb: list[str] = []
        self.mode = "ok"
        self.rows: list[tuple[str, str, bool, float]] = []
        self.ok = True

    def dns(self, ips: list[str] | None = None, mode: str = "ok") -> None:
        """What the ALB's DNS name answers (with all.<name>, as ELB serves it)."""
        if ips is not None:
            self.alb = ips
        self.mode = mode
        for name in ("alb.test.", "all.alb.test."):
            self.st.dns.set(name, a=self.alb, mode=mode, max_answers=8 if name == "alb.test." else 100)

    def run(self, title: str, expect_end: str, expect_targets: list[str], expect_pending: dict | None = None) -> None:
        t0 = time.monotonic()
        run = self.st.run(self.binding)
        wall = time.monotonic() - t0
        retried = Counter(run.failures())
        path = " -> ".join(run.path)
        targets = self.st.targets(self.binding)
        doc, _ = self.st.state(self.binding)
        pending = (doc or {}).get("pending", {})
        checks = [run.path[-1] == expect_end, targets == sorted(expect_targets, key=_key)]
        if expect_pending is not None:
            checks.append(pending == expect_pending)
        good = all(checks)
        self.ok &= good
        mark = f"{GREEN}as told{RESET}" if good else f"{RED}NOT as told{RESET}"
        print(f"\n{BOLD}{len(self.rows) + 1}. {title}{RESET}  [{mark}]")
        answers = ", ".join(self.alb) if self.mode == "ok" else f"{self.mode.upper()} (no answer)"
        print(f"   DNS answers   : {answers}")
        print(f"   path          : {path}  ({run.status}, {len(run.path)} states, {wall:.2f} s)")
        if retried:
            print(f"   failed tries  : " + ", ".join(f"{k} x{v}" for k, v in retried.items()))
        print(f"   target group  : {', '.join(targets) if targets else '(empty)'}")
        print(f"   pending misses: {pending if pending else '{}'}")
        if not good:
            print(f"   {RED}expected end {expect_end}, targets {expect_targets}, pending {expect_pending}{RESET}")
        self.rows.append((title, run.path[-1], good, wall))
        self.last = run


def _key(ip: str) -> tuple[int, ...]:
    return tuple(int(p) for p in ip.split("."))


def cli(st: AlbsyncStack, *args: str) -> None:
    """Shows an operator CLI command, when the CLI is built (crates/albsync-cli)."""
    binary = os.path.join(REPO_ROOT, "target", "debug", "albsync")
    if not os.access(binary, os.X_OK):
        return
    print(f"\n{DIM}$ {shlex.join(['albsync', *args])}{RESET}")
    subprocess.run([binary, *args], env={**os.environ, **st.env}, check=False)


def main() -> int:
    started = time.monotonic()
    print(f"{BOLD}albsync demo{RESET}: an NLB's IP target group kept equal to an internal ALB's addresses")
    print(f"{DIM}stand-in: moto (AWS APIs + Step Functions interpreter), Lambda Runtime API emulator, "
          f"DNS on 127.0.0.1; graceRuns = {GRACE}{RESET}")
    with AlbsyncStack(fast=False, grace_runs=GRACE) as st:
        s = Story(st)
        a1, a2, a3, a4, a1b = "10.0.1.10", "10.0.2.10", "10.0.1.20", "10.0.2.20", "10.0.1.11"

        s.dns([a1, a2])
        s.run("The ALB starts with two nodes: first run registers both", "Synced", [a1, a2], {})
        s.run("Nothing changed: four states, no write", "NoChange", [a1, a2], {})

        s.dns([a1, a2, a3, a4])
        s.run("Scale out to four nodes: new addresses registered in the same run", "Synced", [a1, a2, a3, a4], {})

        s.dns([a1b, a2, a3, a4])
        s.run("Node 10.0.1.10 replaced by 10.0.1.11: new one in at once, old one counted (1)",
              "Synced", [a1, a1b, a2, a3, a4], {a1: 1})
        s.run("Old node still gone (2)", "Synced", [a1, a1b, a2, a3, a4], {a1: 2})
        s.run(f"Old node gone for {GRACE} runs: deregistered now, not earlier", "Synced", [a1b, a2, a3, a4], {a1: 3})
        s.run("Its counter is forgotten once it has left", "Synced", [a1b, a2, a3, a4], {})

        s.dns(mode="servfail")
        s.run("DNS outage (SERVFAIL): retried with backoff, then the run fails and changes nothing",
              "ResolutionFailed", [a1b, a2, a3, a4], {})
        outage = s.last.arn
        s.dns(mode="ok")

        s.dns([a1b, a2, a3])
        s.run("Node 10.0.2.20 flaps: missing once", "Synced", [a1b, a2, a3, a4], {a4: 1})
        s.dns([a1b, a2, a3, a4])
        s.run("...and back: its counter resets, it was never removed", "Synced", [a1b, a2, a3, a4], {})
        s.run("Quiet again", "NoChange", [a1b, a2, a3, a4], {})

        cli(st, "history", outage)
        cli(st, "status", "--input", json.dumps(s.binding), "--state-bucket", st.net.state_bucket,
            "--dns-server", st.standin.dns_server)

    total = time.monotonic() - started
    print(f"\n{BOLD}Summary{RESET}")
    for i, (title, end, good, wall) in enumerate(s.rows, 1):
        print(f"  {i:2}. {'ok ' if good else 'BAD'} {end:18} {wall:5.2f} s  {title}")
    told = sum(1 for r in s.rows if r[2])
    print(f"\n{told} of {len(s.rows)} executions turned out as told; demo took {total:.0f} s; "
          f"the stand-in is torn down.")
    return 0 if s.ok else 1


if __name__ == "__main__":
    sys.exit(main())
