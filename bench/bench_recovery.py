"""Recovery from crashes: run the fault-injection suite (tests/faults) in full and write what
it measured to docs/reliability.md (the ``faults`` section) and docs/benchmarks.md
(``bench:recovery``): cases run and survived, epochs redone per crash, time from the kill to
the resumed attempt's first epoch, local and docker.

    python bench/bench_recovery.py            # 20+ kill cases per runtime (tens of minutes)
    python bench/bench_recovery.py --quick    # the default CI subset
    python bench/bench_recovery.py --no-docker

With Docker it also restarts dockerd twice (tests/faults/test_dockerd_restart.py): that stops
every container of the engine, so run it on a machine whose engine is yours.

Every figure comes from the cases' records (tests/faults/record.py); nothing is typed in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, write_section  # noqa: E402

RELIABILITY = ROOT / "docs" / "reliability.md"
START, END = "<!-- faults -->", "<!-- /faults -->"
RESULTS, RESULTS_END = "<!-- faults:results -->", "<!-- /faults:results -->"


def run_suite(quick: bool, docker: bool) -> tuple[list[dict[str, Any]], int, str]:
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as fh:
        report = Path(fh.name)
    env = {**os.environ, "TRAINCHAIN_FAULTS_REPORT": str(report)}
    if not quick:
        env["TRAINCHAIN_FAULTS_FULL"] = "1"
    if docker:  # the benchmark owns the engine: it may restart dockerd
        env["TRAINCHAIN_FAULTS_DOCKERD"] = "1"
    marker = [] if docker else ["-m", "not docker"]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/faults",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rs",
        *marker,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    records = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    report.unlink(missing_ok=True)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    return records, proc.returncode, summary


def code_under_test() -> str:
    """Commit of the checkout and where ``trainchain`` was imported from (patches show)."""
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    origin = subprocess.run(
        [sys.executable, "-c", "import trainchain; print(trainchain.__file__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return f"commit {git.stdout.strip() or '?'}, trainchain from {origin.stdout.strip() or '?'}"


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "n/a"


def kill_table(records: list[dict[str, Any]]) -> tuple[str, dict[str, tuple[str, str, int]]]:
    rows = [
        "| runtime | case (attempt, kill after epoch, delay s) | survived | complete epochs redone "
        "per restart | kill to resumed first epoch (s) |",
        "|---|---|---|---|---|",
    ]
    figures: dict[str, tuple[str, str, int]] = {}
    by_runtime: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["suite"] == "kill_training":
            by_runtime[r["runtime"]].append(r)
    for runtime, cases in sorted(by_runtime.items()):
        for r in cases:
            to_resume = ", ".join("-" if t is None else f"{t:.1f}" for t in r["to_resume"])
            rows.append(
                f"| {runtime} | {r['case']} | {'yes' if r['ok'] else 'NO'} | "
                f"{', '.join(map(str, r['redone'])) or '-'} | {to_resume} |"
            )
        redone = [float(x) for r in cases for x in r["redone"]]
        waits = [float(t) for r in cases for t in r["to_resume"] if t is not None]
        figures[runtime] = (_median(redone), _median(waits), len(redone))
    return "\n".join(rows), figures


def other_table(records: list[dict[str, Any]]) -> str:
    rows = ["| suite | case | runtime | outcome |", "|---|---|---|---|"]
    for r in records:
        if r["suite"] == "kill_training":
            continue
        if r["suite"] == "controller_death":
            outcome = (
                "registry equal to an uninterrupted run's"
                if r["ok"]
                else "registry DIFFERS from an uninterrupted run's"
            )
        elif "outcome" in r:
            outcome = r["outcome"] if r["ok"] else f"FAILED: {r['outcome']}"
        elif r["case"] == "deterministic-crash":
            outcome = f"stopped after {r['attempts']} attempts as a {r['stopped_as']}"
        else:
            outcome = (
                f"completed; restart resumed at epoch {r.get('first_epoch')} "
                f"(killed after epoch {r.get('last_epoch_before')})"
                if r["ok"]
                else "FAILED"
            )
        rows.append(f"| {r['suite']} | {r['case']} | {r['runtime']} | {outcome} |")
    return "\n".join(rows)


def write_reliability(text: str) -> None:
    """Replace the results block inside the ``faults`` section (the prose around it stays)."""
    doc = RELIABILITY.read_text() if RELIABILITY.exists() else "# Reliability\n"
    block = f"{RESULTS}\n{text.rstrip()}\n{RESULTS_END}"
    if RESULTS in doc and RESULTS_END in doc:
        doc = doc[: doc.index(RESULTS)] + block + doc[doc.index(RESULTS_END) + len(RESULTS_END) :]
    elif START in doc and END in doc:
        doc = doc[: doc.index(END)] + block + "\n" + doc[doc.index(END) :]
    else:
        doc = doc.rstrip() + f"\n\n{START}\n{block}\n{END}\n"
    RELIABILITY.write_text(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the default (CI) subset of cases")
    parser.add_argument("--no-docker", dest="docker", action="store_false")
    args = parser.parse_args()
    records, code, summary = run_suite(args.quick, args.docker)
    if not records:
        sys.stderr.write(f"no fault case recorded anything ({summary}); docs left unchanged\n")
        return 1
    kills, figures = kill_table(records)
    run = sum(1 for r in records)
    survived = sum(1 for r in records if r["ok"])
    head = (
        f"Fault-injection suite (`python bench/bench_recovery.py{' --quick' if args.quick else ''}`"
        f", tests/faults): {run} cases recorded, {survived} behaved as required; "
        f"pytest: {summary}.\n"
        f"Machine: {machine()}.\nCode: {code_under_test()}.\n"
    )
    write_reliability(
        "### Measured\n\n" + head + "\n#### kill -9 of the training (Keras CNN, 8 epochs)\n\n"
        "An interrupted epoch is always trained again from its start (a backup is written at "
        "the end "
        "of each epoch); the table counts the *complete* epochs trained twice.\n\n"
        + kills
        + "\n\n#### Checkpoints and controller deaths\n\n"
        + other_table(records)
        + "\n"
    )
    lines = [
        "| runtime | crashes | median complete epochs redone per crash | median kill to resumed "
        "first epoch (s) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {rt} | {n} | {redone} | {wait} |" for rt, (redone, wait, n) in sorted(figures.items())
    ]
    write_section(
        "recovery",
        "## Recovery from kill -9 of a Keras CNN trial (`bench/bench_recovery.py`)\n\n"
        "Per case and per runtime: docs/reliability.md.\n"
        f"Machine: {machine()}.\nCode: {code_under_test()}.\n\n" + "\n".join(lines),
    )
    print(head + "\n".join(lines))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
