"""Warm start across pushes: two consecutive commits of `examples/digits-cnn` to val_accuracy 0.98.

Per seed S, in a git repository holding a copy of the example (branch ``main``):

- ``cold``: commit 1, ``trainchain run REPO --target 0.98 --metric val_accuracy --seed S
  --max-trials N --timeout B`` in a fresh TRAINCHAIN_HOME (no earlier model);
- ``warm``: commit 2 on the same branch, a code-only change (a comment line in ``train.py``),
  the same command in the same TRAINCHAIN_HOME: the tune stage enqueues the best parameters of
  the earlier run's registered model first (warm start).

Counted per run: trials (the baseline included, which every run trains first), tuning trials,
epochs and wall time from the command's start to the end of the run (which stops at the
trial that reached the target). Goal (#17): the warm run reaches the target in <= 0.5x the
trials of the cold one.

Run: ``python bench/bench_warm_start.py [--seeds 3] [--results rows.jsonl]``; rows in
``--results`` are reused (a run in parts). The section ``warm-start`` is rewritten after every
seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load, machine, ratio, trainchain_run, write_section  # noqa: E402

EXAMPLE = ROOT / "examples" / "digits-cnn"
TARGET = 0.98
CHANGE = "# a code-only change: this comment (the second commit)\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    )


def make_repo(root: Path) -> Path:
    repo = root / "digits-cnn"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "--quiet", "--initial-branch", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", "the model")
    return repo


def second_commit(repo: Path) -> None:
    script = repo / "train.py"
    script.write_text(CHANGE + script.read_text())
    _git(repo, "commit", "--quiet", "-am", "a comment")


def measure(repo: Path, home: Path, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    before = load()
    run = trainchain_run(
        [
            str(repo),
            *("--target", str(TARGET), "--metric", "val_accuracy"),
            *("--seed", str(seed), "--max-trials", str(args.max_trials)),
            *("--timeout", f"{args.budget:g}"),
        ],
        home,
    )
    report = run.report or {}
    if run.exit_code not in (0, 3):
        return {"error": f"exit {run.exit_code}: {report.get('error')} {run.stderr[-500:]}"}
    tuned = [t for t in run.trials if t.get("number")]
    return {
        "reached": run.exit_code == 0,
        "seconds": run.seconds,
        "trials": len(run.trials),
        "tuning_trials": len(tuned),
        "epochs": run.epochs,
        "best": run.best,
        "first_params": tuned[0]["params"] if tuned else None,
        "first_value": tuned[0].get("value") if tuned else None,
        "load": before,
    }


def render(rows: list[dict[str, Any]], args: argparse.Namespace, conditions: str) -> str:
    ok = [r for r in rows if "error" not in r["cold"] and "error" not in r["warm"]]
    loads = sorted(float(r[k]["load"].split("/")[0]) for r in ok for k in ("cold", "warm"))
    lines = [
        "## Warm start across two commits: `examples/digits-cnn` to val_accuracy 0.98 "
        "(`bench/bench_warm_start.py`)",
        "",
        f"{conditions}.",
        "",
        "Per seed: `cold` = the first commit in a fresh TRAINCHAIN_HOME; `warm` = a second "
        "commit on the same branch (a comment added to `train.py`), same home, so the tune "
        "stage enqueues the first run's best parameters first. Same command for both: "
        f"`trainchain run REPO --target {TARGET} --metric val_accuracy --seed S --max-trials "
        f"{args.max_trials} --timeout {args.budget:g}`. Trials include the baseline (every run "
        "trains it first); wall time is the whole command. Runs one after another"
        + (
            f", each starting at a 1-min load between {loads[0]:.1f} and {loads[-1]:.1f}."
            if loads
            else "."
        ),
        "",
        *([args.note, ""] if args.note else []),
        "| seed | cold: reached, trials (tuning), epochs, wall s | warm: reached, trials "
        "(tuning), epochs, wall s | warm's first tuning trial | warm/cold trials |",
        "|---|---|---|---|---|",
    ]

    def cell(r: dict[str, Any]) -> str:
        return (
            f"{'yes' if r['reached'] else 'no'}, {r['trials']} ({r['tuning_trials']}), "
            f"{r['epochs']}, {r['seconds']:.0f}"
        )

    for r in sorted(ok, key=lambda r: r["seed"]):
        first = r["warm"]["first_value"]
        lines.append(
            f"| {r['seed']} | {cell(r['cold'])} | {cell(r['warm'])} | "
            f"{'n/a' if first is None else f'{first:.4f}'} | "
            f"{ratio(r['warm']['trials'], r['cold']['trials'])} |"
        )
    if ok:

        def med(kind: str, key: str) -> float:
            return float(statistics.median(r[kind][key] for r in ok))

        trials = med("warm", "trials") / med("cold", "trials")
        per_seed = [r["warm"]["trials"] / r["cold"]["trials"] for r in ok]
        tuning = med("warm", "tuning_trials") / max(med("cold", "tuning_trials"), 1e-9)
        lines += [
            "",
            f"Medians over {len(ok)} seed(s): cold {med('cold', 'trials'):g} trials "
            f"({med('cold', 'tuning_trials'):g} tuning), {med('cold', 'seconds'):.0f} s, reached "
            f"{sum(r['cold']['reached'] for r in ok)}/{len(ok)}; warm "
            f"{med('warm', 'trials'):g} trials ({med('warm', 'tuning_trials'):g} tuning), "
            f"{med('warm', 'seconds'):.0f} s, reached {sum(r['warm']['reached'] for r in ok)}/"
            f"{len(ok)}. Warm/cold: trials {trials:.2f}x, tuning trials {tuning:.2f}x, wall "
            f"time {ratio(med('warm', 'seconds'), med('cold', 'seconds'))}.",
            "",
            f"Goal (#17): the second commit reaches the target in <= 0.5x the trials of a cold "
            f"start: {'met' if trials <= 0.5 else 'missed'} on the medians ({trials:.2f}x, "
            f"baseline counted; {tuning:.2f}x on tuning trials). Seed by seed the ratio is <= 0.5 "
            f"on {sum(x <= 0.5 for x in per_seed)}/{len(per_seed)} seeds (median of the "
            f"per-seed ratios {statistics.median(per_seed):.2f}x): a run needs 2 trials at "
            "least (the baseline, then the enqueued best), so a cold run that reached the "
            "target with its first tuning trial leaves nothing to gain.",
        ]
    errors = [
        (r["seed"], k, r[k]["error"]) for r in rows for k in ("cold", "warm") if "error" in r[k]
    ]
    if errors:
        lines += ["", "Failed runs (not in the medians):"]
        lines += [f"- seed {s} {k}: {e[:300]}" for s, k, e in errors]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-trials", type=int, default=20)
    parser.add_argument("--budget", type=float, default=900.0, help="seconds per run [900]")
    parser.add_argument("--results", type=Path, help="JSON lines: appended to, and reused")
    parser.add_argument("--deadline-minutes", type=float, help="start no new seed after this")
    parser.add_argument("--note", default="", help="a paragraph for the section (how it ran)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    conditions = machine("keras", "tensorflow-cpu", "optuna")
    rows: list[dict[str, Any]] = []
    if args.results and args.results.exists():
        rows = [json.loads(x) for x in args.results.read_text().splitlines() if x.strip()]
    done = {r["seed"] for r in rows}
    began = time.monotonic()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if seed in done:
            continue
        if args.deadline_minutes and time.monotonic() - began > args.deadline_minutes * 60:
            print("deadline reached", flush=True)
            break
        with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp_name:
            tmp = Path(tmp_name)
            repo, home = make_repo(tmp), tmp / "home"
            cold = measure(repo, home, seed, args)
            second_commit(repo)
            warm = measure(repo, home, seed, args)
        row = {"seed": seed, "cold": cold, "warm": warm}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if args.results:
            with open(args.results, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        if not args.no_write:
            write_section("warm-start", render(rows, args, conditions))
    text = render(rows, args, conditions)
    if rows and not args.no_write:
        write_section("warm-start", text)
    print(text)


if __name__ == "__main__":
    main()
