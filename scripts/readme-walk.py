#!/usr/bin/env python3
"""The README's "Deploy" walk, as far as it runs without an AWS account: what a new user types after `cdk deploy`,
against the stand-in, and what it prints.

The construct publishes the deployment as the SSM parameter /albsync/<stack> (cdk/lib/config.ts). Here that
parameter is written as the construct writes it, for the stack `web` and the binding `api`; then the README's two
operating commands run with nothing but `--stack web`: no bindings file, no bucket, no state machine ARN.

    cargo build --workspace --all-targets --locked
    .tools/venv/bin/python scripts/readme-walk.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "testing"))

from standin.albsync import AlbsyncStack, addresses  # noqa: E402

CLI = os.path.join(ROOT, "target", "debug", "albsync")


def cli(st: AlbsyncStack, *args: str) -> int:
    """Runs the CLI as a user would after `cdk deploy`: only AWS settings (here the stand-in's) and --stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALBSYNC_"))}
    env.update(st.env)
    env["ALBSYNC_DNS_SERVER"] = st.standin.dns_server
    print(f"$ albsync {' '.join(args)}", flush=True)
    r = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300)
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    print(f"(exit {r.returncode})\n", flush=True)
    return r.returncode


def main() -> int:
    if not os.access(CLI, os.X_OK):
        print(f"{CLI} is missing: cargo build --workspace --all-targets --locked", file=sys.stderr)
        return 2
    with AlbsyncStack() as st:
        api = st.new_binding("api")
        st.dns.set("api.test.", a=addresses("10.0.1", 2))
        st.dns.set("all.api.test.", a=addresses("10.0.1", 2), max_answers=2)
        config = {
            "schemaVersion": 1,
            "deployment": "web",
            "stateMachineArn": st.state_machine_arn,
            "workflowType": "STANDARD",
            "workflowLogGroup": "/aws/vendedlogs/states/web-albsync",
            "stateBucket": st.net.state_bucket,
            "statePrefix": "albsync/",
            "metricNamespace": "AlbSync",
            "bindings": [api],
        }
        st.client("ssm").put_parameter(Name="/albsync/web", Value=json.dumps(config), Type="String")
        cli(st, "--stack", "web", "status", "--binding", "api")  # before the first run: not in sync yet
        failed = 0
        # The schedule's runs: the first registers both addresses, the second finds nothing to do.
        for _ in range(2):
            run = st.run(api)
            if run.status != "SUCCEEDED":
                print(f"run {run.arn} ended {run.status}: {run.failures()}", file=sys.stderr)
                return 1
        failed |= cli(st, "--stack", "web", "status", "--binding", "api")
        failed |= cli(st, "--stack", "web", "executions", "--binding", "api")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
