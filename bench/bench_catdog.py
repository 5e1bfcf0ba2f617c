"""The headline: the original cat/dog CNN, from its original defaults, to 0.80 validation accuracy.

Runs ``trainchain run examples/catdog-cnn`` ONCE on the real images (``../shared/data/catdog``,
4,000 + 4,000 training and 1,000 + 1,000 validation images) with a warm Keras environment, and
writes the wall time, trials and epochs it took. The script asks ``Enter no_of_epoch:``; the
baseline answers it with ``--epochs`` (default 5), passed as ``--param no_of_epoch=N``.

Run: ``python bench/bench_catdog.py [--epochs 5] [--max-trials 8] [--trial-timeout 900]``.
Long (about 20 s per epoch on 2 busy cores). If interrupted, ``--summarize HOME`` writes what
the run reached from its events files.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED_DATA, load, machine, trainchain_run, write_section  # noqa: E402

TARGET = 0.80


def trial_events(home: Path) -> dict[str, list[dict[str, Any]]]:
    """Events of every trial attempt under ``home`` (``trials/NNN/events-A.jsonl``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(home.rglob("trials/*/events-*.jsonl")):
        events = []
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a torn last line
        out[f"{path.parent.name}/{path.stem}"] = events
    return out


def summarize_partial(home: Path, stopped: str) -> str:
    """The section for a run that did not finish, from its events files alone."""
    trials = trial_events(home)
    epochs = [e for events in trials.values() for e in events if e.get("type") == "epoch"]
    if not epochs:
        return f"no epoch events under {home}"
    start = min(e["time"] for events in trials.values() for e in events)
    end = max(e["time"] for events in trials.values() for e in events)
    best = max(e["metrics"].get("val_accuracy", 0.0) for e in epochs)
    rows = []
    for name, events in trials.items():
        vals = [e["metrics"].get("val_accuracy", 0.0) for e in events if e.get("type") == "epoch"]
        params = {e["name"]: e["value"] for e in events if e.get("type") == "param"}
        done = any(e.get("type") == "end" for e in events)
        rows.append(
            f"| {name} | {'ended' if done else 'unfinished'} | {len(vals)} | "
            f"{max(vals, default=float('nan')):.4f} | {json.dumps(params, default=str)} |"
        )
    return "\n".join(
        [
            "## Headline: the original cat/dog CNN to 0.80 validation accuracy "
            "(`bench/bench_catdog.py`)",
            "",
            f"**Ran once, and did not finish: {stopped}.** Figures from the run's events files "
            f"(`--summarize`). Same command as the full benchmark (`python bench/bench_catdog.py`: "
            f"target {TARGET}, `--max-trials 8 --trial-timeout 900 --seed 0 "
            "--param no_of_epoch=5`, real images from ../shared/data/catdog, warm Keras env).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| wall time covered (first to last event) | {(end - start) / 60:.1f} min |",
            f"| trial attempts started | {len(trials)} |",
            f"| epochs trained (all trials) | {len(epochs)} |",
            f"| best val_accuracy of any epoch | {best:.4f} |",
            f"| target {TARGET} | {'reached' if best >= TARGET else 'not reached'} |",
            "",
            "| trial/attempt | state | epochs | best val_accuracy | parameters applied |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Machine at the time of the summary: {machine('tensorflow-cpu', 'keras', 'optuna')}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=int, default=5, help="baseline answer to the epochs prompt"
    )
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--trial-timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--home", type=Path, help="TRAINCHAIN_HOME of the run [default: a new temp dir]"
    )
    parser.add_argument(
        "--summarize", type=Path, metavar="HOME", help="only summarise an interrupted run"
    )
    parser.add_argument(
        "--stopped", default="stopped before the end of its budget", help="why (with --summarize)"
    )
    parser.add_argument(
        "--section", default="catdog", help="docs/benchmarks.md section to write (another budget)"
    )
    parser.add_argument("--timeout", type=float, help="wall-time budget of tuning, seconds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.summarize:
        text = summarize_partial(args.summarize, args.stopped)
        print(text)
        if not args.no_write and text.startswith("##"):
            write_section(args.section, text)
        return
    data = SHARED_DATA / "catdog"
    if not (data / "training_set").is_dir():
        sys.exit(f"the cat/dog images are missing: {data}; see ../shared/data/README.md")
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-catdog-"))
    print(f"TRAINCHAIN_HOME={home} (load average {load()})", flush=True)
    before = machine("tensorflow-cpu", "keras", "optuna")
    command = [
        *("--target", str(TARGET), "--metric", "val_accuracy"),
        *("--max-trials", str(args.max_trials), "--trial-timeout", f"{args.trial_timeout:g}"),
        *("--seed", str(args.seed), "--param", f"no_of_epoch={args.epochs}"),
        *(("--timeout", f"{args.timeout:g}") if args.timeout else ()),
    ]
    run = trainchain_run(
        [str(ROOT / "examples" / "catdog-cnn"), *command, "--data", f"cnn_dataset={data}"], home
    )
    if run.report is None:
        sys.exit(f"trainchain run gave no report (exit {run.exit_code}):\n{run.stderr}")
    report = run.report
    rows = []
    for trial in run.trials:
        vals = [e["metrics"].get("val_accuracy") for e in trial.get("epochs") or []]
        peak = max((v for v in vals if v is not None), default=float("nan"))
        value = trial.get("value")
        rows.append(
            f"| {trial['number']} | {trial['state']} | {len(vals)} | "
            f"{'-' if value is None else f'{value:.4f}'} | {peak:.4f} | "
            f"{json.dumps(trial.get('params') or {}, default=str)} |"
        )
    reached = report["status"] == "succeeded"
    best = run.best
    text = "\n".join(
        [
            "## Headline: the original cat/dog CNN to 0.80 validation accuracy, "
            f"seed {args.seed}, budget {args.max_trials} trials (`bench/bench_catdog.py`)",
            "",
            f"**Ran once** (one seed, {args.seed}); a single run, not a median. "
            f"`trainchain run examples/catdog-cnn {' '.join(command)} "
            "--data cnn_dataset=../shared/data/catdog`, on the real images (8,000 training, "
            "2,000 validation, 64x64), the script unmodified. The prompt `Enter no_of_epoch:` is "
            f"answered with {args.epochs} for the baseline (given, not inferred); tuning then "
            "searches epochs, learning rate, batch size and the architecture knobs. "
            "The Keras environment was warm (provisioning is measured in its own section).",
            "",
            "| outcome | wall time | trials | epochs trained (all trials) | best trial's value |",
            "|---|---|---|---|---|",
            f"| {'target reached' if reached else report['status']} | {run.seconds / 60:.1f} min | "
            f"{len(run.trials)} | {run.epochs} | {best if best is None else f'{best:.4f}'} |",
            "",
            "| trial | state | epochs | value (last epoch) | peak val_accuracy (any epoch) | "
            "parameters |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Machine (at start): {before}. Load average at the end: {load()}.",
        ]
    )
    print(text)
    if not args.no_write:
        write_section(args.section, text)


if __name__ == "__main__":
    main()
