"""Run the benchmarks: `--quick` (a few minutes) or `--full`. Each writes its docs section."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = [["bench_overhead.py", "--repeat", "5"], ["bench_detect.py"]]
FULL = [["bench_overhead.py", "--repeat", "11"], ["bench_detect.py"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true")
    group.add_argument("--full", action="store_true")
    args = parser.parse_args()
    for script, *rest in FULL if args.full else QUICK:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *rest], check=True)


if __name__ == "__main__":
    main()
