"""Time to target, trainchain against its peers, side by side: digits CNN to 0.98, cat/dog to 0.80.

Per seed, one strategy after another (interleaved, so they share the machine's load):

- ``trainchain``: ``trainchain run examples/<task> --target T --metric val_accuracy --seed S
  --max-trials N --timeout B`` with its defaults (sampler, pruner, knobs), the script
  unmodified, its own TRAINCHAIN_HOME, the warm Keras environment;
- ``optuna-random``, ``optuna-tpe``: an Optuna study written against a hypermodel of the same
  network with the same knobs and ranges (``peer_search.py``): ``RandomSampler(seed=S+500)``,
  ``TPESampler(seed=S)`` at Optuna's defaults (10 random start-up trials), no pruner;
- ``kt-hyperband``, ``kt-random``: KerasTuner ``Hyperband(max_epochs=<epochs' top>,
  factor=3)`` and ``RandomSearch(max_trials=N)`` on that hypermodel (``peer_search.py``);
- ``naive``: the original rule, +2 epochs and retrain: ``trainchain run --no-tune`` with the
  epochs parameter 3, 5, 7, ... (digits) or 5, 7, 9, ... (cat/dog) until the target, the
  budget or ``--naive-cap`` epochs.

Every strategy aims at ``val_accuracy`` on the example's own validation split (any epoch) and
stops at the target or at B seconds (trainchain: B is its tuning budget, after the baseline).
Wall time runs from the command's start (interpreter and Keras start-up included) to the end
of the epoch that reached the target (peers) or the end of the run (trainchain stops there).

Run: ``python bench/bench_peers.py --task digits [--seeds 10] [--strategies ...]
[--results rows.jsonl]``; rows in ``--results`` are reused (a run in parts), each keeps the
load average it was measured at. The section is rewritten after every row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    SHARED_DATA,
    load,
    machine,
    ratio,
    trainchain_run,
    write_section,
)

STRATEGIES = (
    "trainchain",
    "trainchain-parallel2",
    "optuna-random",
    "optuna-tpe",
    "kt-hyperband",
    "kt-random",
    "naive",
)
LABELS = {
    "trainchain": "trainchain defaults (unmodified script)",
    "trainchain-parallel2": "trainchain defaults and `--parallel 2` (two trials at once)",
    "optuna-random": "Optuna RandomSampler, no pruner (hypermodel)",
    "optuna-tpe": "Optuna TPESampler defaults, no pruner (hypermodel)",
    "kt-hyperband": "KerasTuner Hyperband, factor 3 (hypermodel)",
    "kt-random": "KerasTuner RandomSearch (hypermodel)",
    "naive": "original rule: +2 epochs and retrain",
}
TASKS: dict[str, dict[str, Any]] = {
    "digits": {
        "example": "digits-cnn",
        "target": 0.98,
        "epochs_param": "EPOCHS",
        "naive_first": 3,
        "args": [],
    },
    "catdog": {
        "example": "catdog-cnn",
        "target": 0.80,
        "epochs_param": "no_of_epoch",
        "naive_first": 5,
        "args": ["--data", f"cnn_dataset={SHARED_DATA / 'catdog'}"],
        "baseline": ["--param", "no_of_epoch=5"],  # the prompt's answer for the baseline
    },
}
RANDOM_SEED_OFFSET = 500  # TPE's start-up trials are RandomSampler(seed=S): keep random apart


def run_trainchain(
    task: str, seed: int, args: argparse.Namespace, tmp: Path, parallel: int = 1
) -> dict[str, Any]:
    spec = TASKS[task]
    run = trainchain_run(
        [
            *(("--parallel", str(parallel)) if parallel > 1 else ()),
            str(ROOT / "examples" / spec["example"]),
            *("--target", str(spec["target"]), "--metric", "val_accuracy"),
            *("--seed", str(seed), "--max-trials", str(args.max_trials)),
            *("--timeout", f"{args.budget:g}"),
            *spec["args"],
            *spec.get("baseline", []),
        ],
        Path(tempfile.mkdtemp(dir=tmp)),
    )
    report = run.report or {}
    if run.exit_code not in (0, 3):
        return {"error": f"exit {run.exit_code}: {report.get('error')} {run.stderr[-500:]}"}
    return {
        "reached": run.exit_code == 0,
        "seconds": run.seconds,
        "trials": len(run.trials),
        "epochs": run.epochs,
        "best": run.best,
        "pruned": [t.get("state") for t in run.trials].count("pruned"),
    }


def run_naive(task: str, seed: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    spec = TASKS[task]
    trials = epochs = 0
    seconds, best = 0.0, 0.0
    reached = False
    k = spec["naive_first"]
    while seconds < args.budget and k <= args.naive_cap:
        run = trainchain_run(
            [
                str(ROOT / "examples" / spec["example"]),
                *("--target", str(spec["target"]), "--metric", "val_accuracy"),
                *("--seed", str(seed), "--no-tune"),
                *spec["args"],
                *("--param", f"{spec['epochs_param']}={k}"),
            ],
            Path(tempfile.mkdtemp(dir=tmp)),
        )
        trials, epochs, seconds = trials + 1, epochs + run.epochs, seconds + run.seconds
        best = max(best, run.best or 0.0)
        if run.exit_code != 3:  # 0: reached; anything else: failed
            reached = run.exit_code == 0
            break
        k += 2
    return {
        "reached": reached,
        "seconds": seconds,
        "trials": trials,
        "epochs": epochs,
        "best": best,
    }


def run_peer(
    task: str, strategy: str, seed: int, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    tuner = {"kt-hyperband": "hyperband", "kt-random": "random"}.get(strategy, strategy)
    peer_seed = seed + RANDOM_SEED_OFFSET if strategy == "optuna-random" else seed
    command = [
        sys.executable,
        str(Path(__file__).resolve().parent / "peer_search.py"),
        *("--task", task, "--tuner", tuner, "--seed", str(peer_seed)),
        *("--target", str(TASKS[task]["target"]), "--max-trials", str(args.max_trials)),
        *("--timeout", f"{args.budget:g}"),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_HOME=str(tmp / "keras-home"))
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr[-800:]}"}
    row: dict[str, Any] = json.loads(lines[-1])
    return row


def med(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


def render(task: str, rows: list[dict[str, Any]], args: argparse.Namespace, conditions: str) -> str:
    spec = TASKS[task]
    seeds = sorted({r["seed"] for r in rows})
    by = {s: [r for r in rows if r["strategy"] == s and "error" not in r] for s in STRATEGIES}
    ones = sorted(float(r["load"].split("/")[0]) for r in rows)
    title = args.title or "Time to target vs peers"
    lines = [
        f"## {title}: `examples/{spec['example']}` to val_accuracy "
        f"{spec['target']} (`bench/bench_peers.py --task {task}`)",
        "",
        f"{conditions}. Each row started at a 1-min load average between {ones[0]:.1f} and "
        f"{ones[-1]:.1f} (median {statistics.median(ones):.1f}; per row in `--results`): the "
        "machine is shared by other sessions, so wall times carry that noise; strategies run "
        "interleaved seed by seed (or at the same time, when run in parts: see below) so they "
        "share it.",
        "",
        f"Seeds {', '.join(map(str, seeds))} ({len(seeds)} seed(s)). Budget per search: "
        f"{args.max_trials} trials and {args.budget:g} s. Wall time = command start to the end "
        "of the epoch that reached the target (peers) or of the run (trainchain); a search "
        "that missed counts its whole time. Peers are in-process searches over a hypermodel of "
        "the same network, same knobs and ranges (`bench/peer_search.py`); trainchain runs the "
        "unmodified script, one process per trial (each pays the TensorFlow import).",
        "",
        *([args.note, ""] if args.note else []),
        "| strategy | reached | median wall time | median trials | median epochs | "
        "ratio of median wall time to trainchain | per seed: wall s (trials/epochs) |",
        "|---|---|---|---|---|---|---|",
    ]
    base = by["trainchain"]
    for s in STRATEGIES:  # every seed a strategy ran
        got = by[s]
        if not got:
            continue
        per_seed = ", ".join(
            f"{r['seed']}: {r['seconds']:.0f}{'' if r['reached'] else '*'} "
            f"({r['trials']}/{r['epochs']})"
            for r in sorted(got, key=lambda r: r["seed"])
        )
        lines.append(
            f"| {LABELS[s]} | {sum(r['reached'] for r in got)}/{len(got)} | "
            f"{med(got, 'seconds'):.0f} s | {med(got, 'trials'):g} | {med(got, 'epochs'):g} | "
            f"{ratio(med(got, 'seconds'), med(base, 'seconds')) if base else 'n/a'} | "
            f"{per_seed} |"
        )
    ran = [s for s in STRATEGIES if by[s] and s != "naive"]  # the rule is a reference only
    common = sorted(set.intersection(*({r["seed"] for r in by[s]} for s in ran))) if ran else []
    if common and any(len(by[s]) > len(common) for s in ran):
        paired = {s: [r for r in by[s] if r["seed"] in common] for s in ran}
        lines += [
            "",
            f"Paired on the seeds every search ran ({', '.join(map(str, common))}), median "
            "wall time (ratio to trainchain): "
            + "; ".join(
                f"{LABELS[s]} {med(paired[s], 'seconds'):.0f} s"
                + (
                    f" ({ratio(med(paired[s], 'seconds'), med(paired['trainchain'], 'seconds'))})"
                    if paired.get("trainchain")
                    else ""
                )
                for s in ran
            )
            + ".",
        ]
        by = {s: paired.get(s, []) for s in STRATEGIES}  # the goals: paired seeds only
    rand, hyper = by["optuna-random"], by["kt-hyperband"]
    for name in ("trainchain", "trainchain-parallel2"):
        base = by[name]
        if not (base and rand and hyper):
            continue
        t = med(base, "seconds")
        r, h = t / med(rand, "seconds"), t / med(hyper, "seconds")
        lines += [
            "",
            f"Goals (#17), on the seeds every search ran: {LABELS[name]}: median wall time "
            f"{r:.2f}x Optuna random's (goal "
            f"<= 0.5: {'met' if r <= 0.5 else 'missed'}) and {h:.2f}x KerasTuner Hyperband's "
            f"(goal < 1: {'met' if h < 1 else 'missed'}); it reached the target on "
            f"{sum(x['reached'] for x in base)}/{len(base)} seeds.",
        ]
    errors = [r for r in rows if "error" in r]
    lines += [
        "",
        "`*` = stopped below the target (budget spent); its wall time is the time spent.",
    ]
    if errors:
        lines += ["", "Failed runs (not in the medians):"]
        lines += [f"- seed {r['seed']} {r['strategy']}: {r['error'][:300]}" for r in errors]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--max-trials", type=int, default=20)
    parser.add_argument("--budget", type=float, help="seconds per search [digits 900, catdog 1200]")
    parser.add_argument(
        "--naive-cap", type=int, default=25, help="largest epochs the +2 rule tries [25]"
    )
    parser.add_argument("--results", type=Path, help="JSON lines: appended to, and reused")
    parser.add_argument("--deadline-minutes", type=float, help="start no new row after this")
    parser.add_argument("--section", help="docs/benchmarks.md section [peers-TASK]")
    parser.add_argument("--note", default="", help="a paragraph for the section (how it ran)")
    parser.add_argument("--title", help="the section's heading [Time to target vs peers]")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.budget = args.budget or (900.0 if args.task == "digits" else 1200.0)
    if args.task == "catdog" and not (SHARED_DATA / "catdog" / "training_set").is_dir():
        sys.exit(f"the cat/dog images are missing: {SHARED_DATA / 'catdog'}")
    conditions = machine("keras", "tensorflow-cpu", "optuna", "keras-tuner")
    rows: list[dict[str, Any]] = []
    if args.results and args.results.exists():
        rows = [json.loads(x) for x in args.results.read_text().splitlines() if x.strip()]
        rows = [r for r in rows if r.get("task") == args.task]
    done = {(r["seed"], r["strategy"]) for r in rows}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp_name:
        tmp = Path(tmp_name)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for strategy in args.strategies:
                if (seed, strategy) in done:
                    continue
                if args.deadline_minutes and time.monotonic() - began > args.deadline_minutes * 60:
                    print("deadline reached", flush=True)
                    break
                before = load()
                if strategy.startswith("trainchain"):
                    parallel = 2 if strategy == "trainchain-parallel2" else 1
                    row = run_trainchain(args.task, seed, args, tmp, parallel)
                elif strategy == "naive":
                    row = run_naive(args.task, seed, args, tmp)
                else:
                    row = run_peer(args.task, strategy, seed, args, tmp)
                row.update(task=args.task, seed=seed, strategy=strategy, load=before)
                print(json.dumps(row), flush=True)
                rows.append(row)
                if args.results:
                    with open(args.results, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
                text = render(args.task, rows, args, conditions)
                if not args.no_write:
                    write_section(args.section or f"peers-{args.task}", text)
    if not rows:
        sys.exit("no row ran")
    text = render(args.task, rows, args, conditions)
    if not args.no_write:  # also when every row came from --results (parallel parts merged)
        write_section(args.section or f"peers-{args.task}", text)
    print(text)


if __name__ == "__main__":
    main()
