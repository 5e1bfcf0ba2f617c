"""Issue 15: the seed's own repository, unmodified, to 0.80 with a plain ``trainchain run``.

Two repositories, each run ONCE with ``trainchain run REPO`` and nothing else (no --param, no
--data, default budget and target 0.80):

- ``--repo PATH``: a checkout of New-Byte/mlops_code (the search tool's ``fetch``, then
  ``git --git-dir=... archive HEAD | tar -x -C PATH``; never inside this repository);
- ``--four-traits``: tests/repos/catdog_four_traits/cnn.py with every image of
  ../shared/data/catdog copied into ``cnn_dataset/`` of a repository built in a temp dir.

Writes the wall time, trials and epochs (section ``seed-repo-<name>``). ``--from-run HOME RUN``
writes the figures of a run started by hand (``trainchain run`` under ``TRAINCHAIN_HOME=HOME``),
finished or not. Long: an epoch over the 8,000 training images takes minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED_DATA, load, machine, trainchain_run, write_section  # noqa: E402

TARGET = 0.80
FOUR_TRAITS = ROOT / "tests" / "repos" / "catdog_four_traits" / "cnn.py"


def build_four_traits(root: Path) -> Path:
    data = SHARED_DATA / "catdog"
    if not (data / "training_set").is_dir():
        sys.exit(f"the cat/dog images are missing: {data}")
    root.mkdir(parents=True)
    shutil.copyfile(FOUR_TRAITS, root / "cnn.py")
    shutil.copytree(data, root / "cnn_dataset")
    return root


def report_of(home: Path, run_id: str) -> dict[str, Any]:
    env = dict(os.environ, TRAINCHAIN_HOME=str(home))
    proc = subprocess.run(
        [sys.executable, "-m", "trainchain", "runs", "show", run_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _seconds(report: dict[str, Any]) -> float | None:
    start, end = report.get("started_at"), report.get("ended_at")
    if not start:
        return None
    began = dt.datetime.fromisoformat(start.rstrip("Z"))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ended = dt.datetime.fromisoformat(end.rstrip("Z")) if end else now
    return (ended - began).total_seconds()


def section(name: str, what: str, report: dict[str, Any], seconds: float | None, note: str) -> str:
    trials = report.get("trials") or []
    rows, epochs = [], 0
    for trial in trials:
        vals = [e["metrics"].get("val_accuracy") for e in trial.get("epochs") or []]
        epochs += len(vals)
        peak = max((v for v in vals if v is not None), default=None)
        value = trial.get("value")
        outcomes = ", ".join(a["outcome"] for a in trial.get("attempts") or [])
        adjusted = "; ".join(
            f"{a['argument']} {a['from']}->{a['to']}" for a in trial.get("adjusted") or []
        )
        rows.append(
            f"| {trial['number']} | {trial['state']} | {outcomes} | {len(vals)} | "
            f"{'-' if value is None else f'{value:.4f}'} | "
            f"{'-' if peak is None else f'{peak:.4f}'} | {adjusted or '-'} | "
            f"{json.dumps(trial.get('params') or {}, default=str)} |"
        )
    best = (report.get("best") or {}).get("value")
    warnings = sorted({t["warning"] for t in trials if t.get("warning")})
    wall = "-" if seconds is None else f"{seconds / 60:.1f} min"
    return "\n".join(
        [
            f"## Issue 15: {what} to {TARGET:.2f} val_accuracy, plain `trainchain run` "
            "(`bench/bench_seed_repo.py`)",
            "",
            f"**Ran once**; a single run, not a median. {note}",
            "",
            "| status | wall time | trials | epochs trained (all trials) | best value |",
            "|---|---|---|---|---|",
            f"| {report.get('status')} | {wall} | {len(trials)} | {epochs} | "
            f"{'-' if best is None else f'{best:.4f}'} |",
            "",
            "| trial | state | attempts | epochs | value | peak val_accuracy | adjusted by "
            "the agent | parameters |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            *(f"Warning shown: {w}" for w in warnings),
            "",
            f"Machine: {machine('tensorflow-cpu', 'keras', 'optuna')}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--repo", type=Path, help="a checkout of New-Byte/mlops_code")
    which.add_argument("--four-traits", action="store_true")
    parser.add_argument("--from-run", nargs=2, metavar=("HOME", "RUN_ID"))
    parser.add_argument("--envs", type=Path, help="TRAINCHAIN_ENVS_DIR (a warm environment)")
    parser.add_argument("--note", default="", help="added to the section (load, what stopped)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    name = "seed-repo-mlops-code" if args.repo else "seed-repo-four-traits"
    what = (
        "New-Byte/mlops_code, unmodified,"
        if args.repo
        else "the four-trait repository (tests/repos/catdog_four_traits + all cat/dog images)"
    )
    note = f"`trainchain run REPO` and nothing else. {args.note}".strip()
    if args.from_run:
        home, run_id = Path(args.from_run[0]), args.from_run[1]
        report = report_of(home, run_id)
        text = section(name, what, report, _seconds(report), note)
    else:
        home = Path(tempfile.mkdtemp(prefix="bench-seed-"))
        repo = args.repo or build_four_traits(home / "repo")
        print(f"TRAINCHAIN_HOME={home} (load average {load()})", flush=True)
        run = trainchain_run([str(repo)], home, envs=args.envs)
        if run.report is None:
            sys.exit(f"trainchain run gave no report (exit {run.exit_code}):\n{run.stderr}")
        text = section(name, what, run.report, run.seconds, note)
    print(text)
    if not args.no_write:
        write_section(name, text)


if __name__ == "__main__":
    main()
