"""Where the time from process start to ``fit()`` goes: the digits CNN, bare and as a trial.

Each round runs ``examples/digits-cnn`` twice with the warm Keras virtualenv's interpreter and
``-X importtime``: bare (``python train.py``) and as a trial does (``python -m trainchain.agent
train.py`` with the trial's environment, EPOCHS=2: Keras prints no ``Epoch 1/1`` line for a
single epoch); both are killed at ``Epoch 1/``. The split:

- interpreter start: ``python -c pass`` (median of the rounds);
- trainchain's own imports: the ``trainchain.*`` modules' own import time (agent run only);
- TensorFlow + Keras import: ``import keras``'s cumulative import time;
- the rest of the script's imports (scikit-learn, NumPy not already loaded);
- data loading and model building: from the end of the imports to Keras's ``Epoch 1/`` line
  (as ``fit()`` starts), what remains;
- the agent's hooks: CPU time in ``trainchain/agent/*`` functions under cProfile (one extra run).

Run: ``python bench/bench_startup.py [--repeat 3] [--no-write]``.
"""

from __future__ import annotations

import argparse
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load, machine, write_section  # noqa: E402
from first_epoch import keras_env  # noqa: E402

EXAMPLE = ROOT / "examples" / "digits-cnn"
_IMPORT = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtimes(stderr: str) -> dict[str, tuple[float, float, int]]:
    """module -> (own seconds, cumulative seconds, nesting level; 1 = imported at top level)."""
    found: dict[str, tuple[float, float, int]] = {}
    for line in stderr.splitlines():
        match = _IMPORT.match(line)
        if match and match[4] not in found:
            level = (len(match[3]) + 1) // 2
            found[match[4]] = (int(match[1]) / 1e6, int(match[2]) / 1e6, level)
    return found


def trial_environ(root: Path, n: int, params: dict[str, Any]) -> tuple[dict[str, str], Path]:
    from trainchain.runtimes.base import TrialSpec
    from trainchain.runtimes.local import trial_environ as environ_of
    from trainchain.runtimes.staging import agent_dir

    spec = TrialSpec(
        run_id="bench-startup",
        trial=n,
        attempt=1,
        workdir=EXAMPLE,
        entrypoint="train.py",
        params=params,
        output_dir=root / f"o{n}",
        checkpoint_dir=root / f"c{n}",
        events_path=root / f"e{n}" / "events.jsonl",
        log_path=root / f"l{n}.log",
    )
    for directory in (spec.output_dir, spec.checkpoint_dir, spec.events_path.parent):
        directory.mkdir(parents=True, exist_ok=True)
    return environ_of(
        spec, agent_dir(), spec.output_dir, spec.checkpoint_dir, spec.events_path
    ), spec.events_path


def run(cmd: list[str], env: dict[str, str], root: Path) -> tuple[float, str]:
    """(seconds to Keras's first epoch line, the import-time log); killed at that line."""
    errors = root / "stderr.txt"
    with open(errors, "w") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=EXAMPLE, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        first = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Epoch 1/" in line:
                first = time.perf_counter() - started
                break
        proc.kill()
        proc.communicate()
    text = errors.read_text()
    assert first is not None, text[-3000:]
    return first, text


def split(
    imports: dict[str, tuple[float, float, int]], to_fit: float, start: float
) -> dict[str, float]:
    top = {name: cum for name, (_own, cum, level) in imports.items() if level == 1}
    ours_top = sum(cum for name, cum in top.items() if name.split(".")[0] == "trainchain")
    ours = sum(own for name, (own, _cum, _lvl) in imports.items() if name.startswith("trainchain"))
    keras = top.get("keras", 0.0)
    others = sum(top.values()) - keras - ours_top
    return {
        "interpreter start": start,
        "trainchain's own imports": ours,
        "TensorFlow + Keras import": keras,
        "other imports (scikit-learn, NumPy, stdlib; the agent's stdlib ones too)": others
        + ours_top
        - ours,
        "data loading, model building, until fit()": max(0.0, to_fit - start - sum(top.values())),
    }


def agent_hooks_seconds(python: str, env: dict[str, str], root: Path) -> float:
    out = root / "agent.prof"
    subprocess.run(
        [python, "-m", "cProfile", "-o", str(out), "-m", "trainchain.agent", "train.py"],
        cwd=EXAMPLE,
        env=env,
        check=True,
        capture_output=True,
    )
    stats = pstats.Stats(str(out))
    return sum(
        row[2]
        for (path, _line, _name), row in stats.stats.items()  # type: ignore[attr-defined]
        if "/trainchain/agent/" in path
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    env = keras_env()
    rounds: dict[str, list[dict[str, float]]] = {"bare": [], "trainchain": []}
    totals: dict[str, list[float]] = {"bare": [], "trainchain": []}
    loads = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = Path(tmp)
        for n in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([env.python, "-c", "pass"], check=True)
            start = time.perf_counter() - started
            trial_env, events = trial_environ(root, n, {"EPOCHS": 2})
            bare_env = {k: v for k, v in trial_env.items() if not k.startswith("TRAINCHAIN_")}
            bare_env.pop("PYTHONPATH")
            first, stderr = run([env.python, "-X", "importtime", "train.py"], bare_env, root)
            rounds["bare"].append(split(importtimes(stderr), first, start))
            totals["bare"].append(first)
            cmd = [env.python, "-X", "importtime", "-m", "trainchain.agent", "train.py"]
            first, stderr = run(cmd, trial_env, root)
            assert '"type": "fit"' in events.read_text(), "the agent saw no fit() call"
            rounds["trainchain"].append(split(importtimes(stderr), first, start))
            totals["trainchain"].append(first)
            loads.append(load())
        hooks_env, _ = trial_environ(root, 99, {"EPOCHS": 2})
        hooks = agent_hooks_seconds(env.python, hooks_env, root)
    names = list(rounds["bare"][0])
    rows = []
    for name in names:
        b = statistics.median(r[name] for r in rounds["bare"])
        t = statistics.median(r[name] for r in rounds["trainchain"])
        rows.append(f"| {name} | {b:.2f} s | {t:.2f} s | {t - b:+.2f} s |")
    rows.append(f"| the agent's hooks (CPU time under cProfile, one run) | - | {hooks:.2f} s | |")
    b, t = statistics.median(totals["bare"]), statistics.median(totals["trainchain"])
    rows.append(f"| **start to `Epoch 1/`** | **{b:.2f} s** | **{t:.2f} s** | {t / b:.2f}x |")
    text = "\n".join(
        [
            "## Start to `fit()`: where the time goes, digits CNN (`bench/bench_startup.py`)",
            "",
            f"{machine('tensorflow-cpu', 'keras')}; load after each round: {'; '.join(loads)}.",
            "",
            f"Medians of {args.repeat} rounds (bare then trainchain in each), `-X importtime` "
            "on both; what remains after the imports until Keras's `Epoch 1/` line is the "
            "script's data loading and model building (plus the agent's fit hook).",
            "",
            "| part | bare `python train.py` | `python -m trainchain.agent train.py` | "
            "difference |",
            "|---|---|---|---|",
            *rows,
            "",
            "Ours is trainchain's imports and hooks; everything else is the script's and runs "
            "the same bare. The staged agent is compiled at staging (before, with a read-only "
            "mount or `PYTHONDONTWRITEBYTECODE`, its 18 modules were compiled at every start).",
        ]
    )
    print(text)
    if not args.no_write:
        write_section("startup", text)


if __name__ == "__main__":
    main()
