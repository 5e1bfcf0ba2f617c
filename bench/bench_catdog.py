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


def epoch_events(home: Path) -> list[tuple[str, dict[str, Any]]]:
    """(events file, epoch event) of every trial under ``home``, in time order."""
    out = []
    for path in sorted(home.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == "epoch":
                out.append((str(path.relative_to(home)), event))
    return sorted(out, key=lambda item: item[1]["time"])


def summarize_partial(home: Path) -> str:
    events = epoch_events(home)
    if not events:
        return f"no epoch events under {home}"
    start = min(e["time"] for _, e in events)
    best = max((e["metrics"].get("val_accuracy", 0.0), f, e) for f, e in events)
    files = {f for f, _ in events}
    reached = [e for _, e in events if e["metrics"].get("val_accuracy", 0.0) >= TARGET]
    return (f"interrupted run: {len(events)} epochs over {len(files)} trial attempt(s) in "
            f"{(events[-1][1]['time'] - start) / 60:.1f} min of training; best val_accuracy "
            f"{best[0]:.4f}; target {TARGET} {'reached' if reached else 'not reached'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="baseline answer to the epochs prompt")
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--trial-timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", type=Path, help="TRAINCHAIN_HOME of the run [default: a new temp dir]")
    parser.add_argument("--summarize", type=Path, metavar="HOME", help="only summarise an interrupted run")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.summarize:
        print(summarize_partial(args.summarize))
        return
    data = SHARED_DATA / "catdog"
    if not (data / "training_set").is_dir():
        sys.exit(f"the cat/dog images are missing: {data}; see ../shared/data/README.md")
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-catdog-"))
    print(f"TRAINCHAIN_HOME={home} (load average {load()})", flush=True)
    before = machine("tensorflow-cpu", "keras", "optuna")
    run = trainchain_run(
        [str(ROOT / "examples" / "catdog-cnn"), "--target", str(TARGET), "--metric", "val_accuracy",
         "--max-trials", str(args.max_trials), "--trial-timeout", str(args.trial_timeout),
         "--seed", str(args.seed), "--param", f"no_of_epoch={args.epochs}",
         "--data", f"cnn_dataset={data}"],
        home,
    )
    if run.report is None:
        sys.exit(f"trainchain run gave no report (exit {run.exit_code}):\n{run.stderr}")
    report = run.report
    rows = []
    for trial in run.trials:
        vals = [e["metrics"].get("val_accuracy") for e in trial.get("epochs") or []]
        rows.append(f"| {trial['number']} | {trial['state']} | {len(vals)} | "
                    f"{max((v for v in vals if v is not None), default=float('nan')):.4f} | "
                    f"{json.dumps(trial.get('params') or {}, default=str)} |")
    reached = report["status"] == "succeeded"
    best = run.best
    text = "\n".join([
        "## Headline: the original cat/dog CNN to 0.80 validation accuracy (`bench/bench_catdog.py`)",
        "",
        f"**Ran once** (one seed, {args.seed}); a single run, not a median. "
        f"`trainchain run examples/catdog-cnn --target {TARGET} --metric val_accuracy "
        f"--max-trials {args.max_trials} --trial-timeout {args.trial_timeout:g} --seed {args.seed} "
        f"--param no_of_epoch={args.epochs} --data cnn_dataset=../shared/data/catdog`, on the real "
        "images (8,000 training, 2,000 validation, 64x64), the script unmodified. The prompt "
        f"`Enter no_of_epoch:` is answered with {args.epochs} for the baseline (given, not inferred); "
        "tuning then searches epochs, learning rate, batch size and the architecture knobs. "
        "The Keras environment was warm (provisioning is measured in its own section).",
        "",
        f"| outcome | wall time | trials | epochs trained (all trials) | best val_accuracy |",
        "|---|---|---|---|---|",
        f"| {'target reached' if reached else report['status']} | {run.seconds / 60:.1f} min | "
        f"{len(run.trials)} | {run.epochs} | {best if best is None else f'{best:.4f}'} |",
        "",
        "| trial | state | epochs | best val_accuracy | parameters |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Machine (at start): {before}. Load average at the end: {load()}.",
    ])
    print(text)
    if not args.no_write:
        write_section("catdog", text)


if __name__ == "__main__":
    main()
