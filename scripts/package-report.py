#!/usr/bin/env python3
"""Zips each Lambda bootstrap as Lambda receives it and reports the sizes; fails when one exceeds the limit.

    python3 scripts/package-report.py [--dir target/lambda] [--limit-mib 5]
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
    args = ap.parse_args()
    over = []
    print(f"{'function':20} {'bootstrap MiB':>14} {'zipped MiB':>11}")
    for name in FUNCTIONS:
        path = os.path.join(args.dir, f"albsync-{name}", "bootstrap")
        if not os.path.exists(path):
            print(f"package-report: {path} is missing (cargo lambda build --release --arm64)", file=sys.stderr)
            return 2
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, "bootstrap")
        zipped = len(buf.getvalue()) / 2**20
        print(f"albsync-{name:12} {os.path.getsize(path) / 2**20:14.2f} {zipped:11.2f}")
        if zipped > args.limit_mib:
            over.append(name)
    if over:
        print(f"package-report: over {args.limit_mib} MiB zipped: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
