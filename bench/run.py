"""Run the benchmarks: ``--quick`` (under 5 minutes) or ``--full`` (an hour or more).

Each script prints its figures and rewrites its own section of docs/benchmarks.md.
``--quick``: overhead (bare/local/docker), provisioning (local runtime only), push to first
epoch (one push, 50 deliveries), footprint, detection. ``--full``: every script with its full
settings, the long ones (tuning over 10 seeds, the cat/dog headline) last.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = [
    ["bench_overhead.py", "--repeat", "5", "--no-first-epoch"],
    ["bench_provision.py", "--no-docker", "--repeat", "3"],
    ["bench_push.py", "--pushes", "1", "--deliveries", "50"],
    ["bench_footprint.py", "--deliveries", "200"],
    ["bench_detect.py", "--repeat", "3"],
]
FULL = [
    ["bench_overhead.py", "--repeat", "11"],
    ["bench_detect.py"],
    ["bench_provision.py", "--repeat", "5"],
    ["bench_provision.py", "--installers", "keras", "--repeat", "3"],
    ["bench_startup.py", "--repeat", "3"],
    ["bench_push.py", "--pushes", "5", "--deliveries", "100"],
    ["bench_footprint.py", "--deliveries", "200"],
    ["bench_recovery.py"],
    ["bench_tuning.py", "--seeds", "10"],
    ["bench_catdog.py"],
    ["bench_peers.py", "--task", "digits", "--seeds", "10"],
    ["bench_peers.py", "--task", "catdog", "--seeds", "5"],  # hours: 6 strategies x 20 min
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="the default")
    group.add_argument("--full", action="store_true")
    parser.add_argument(
        "--only", nargs="+", metavar="SCRIPT", help="run only these (e.g. bench_push.py)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures only (passed to every script)"
    )
    args = parser.parse_args()
    failed = []
    for script, *rest in FULL if args.full else QUICK:
        if args.only and script not in args.only:
            continue
        if not (HERE / script).exists():  # written by another change; say so, do not fail
            print(f"== {script}: not present, skipped", flush=True)
            continue
        if args.no_write and "--no-write" in (HERE / script).read_text():
            rest = [*rest, "--no-write"]
        print(f"== {script} {' '.join(rest)}", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(HERE / script), *rest]).returncode
        print(
            f"== {script}: {'ok' if code == 0 else f'FAILED (exit {code})'} in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        if code:
            failed.append(script)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
