#!/usr/bin/env python3
"""Zips each Lambda bootstrap as Lambda receives it and reports the sizes; fails when one exceeds its limit.

    python3 scripts/package-report.py [--dir target/lambda] [--limit-mib 5] [--resolve-limit-mib 1.5]

The resolve function has a limit of its own (issue 12: at most 1.5 MiB zipped): it runs on every execution,
needs no AWS SDK, and its cold start should stay the cheapest.
"""

import argparse
import io
import os
import sys
import zipfile

FUNCTIONS = ("resolve", "diff", "register", "deregister", "trigger")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/lambda")
    ap.add_argument("--limit-mib", type=float, default=5.0)
    ap.add_argument("--resolve-limit-mib", type=float, default=1.5)
    args = ap.parse_args()
    over = []
    print(f"{'function':20} {'bootstrap MiB':>14} {'zipped MiB':>11} {'limit MiB':>10}")
    for name in FUNCTIONS:
        path = os.path.join(args.dir, f"albsync-{name}", "bootstrap")
        if not os.path.exists(path):
            print(f"package-report: {path} is missing (cargo lambda build --release --arm64)", file=sys.stderr)
            return 2
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, "bootstrap")
        zipped = len(buf.getvalue()) / 2**20
        limit = args.resolve_limit_mib if name == "resolve" else args.limit_mib
        print(f"albsync-{name:12} {os.path.getsize(path) / 2**20:14.2f} {zipped:11.2f} {limit:10.2f}")
        if zipped > limit:
            over.append(f"{name} ({zipped:.2f} > {limit} MiB)")
    if over:
        print(f"package-report: over the limit zipped: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
