"""Per-trial overhead of the local runtime against the bare script, and CLI start-up time.

The same small script (pure Python, prints a metric) runs bare with the environment's
interpreter and through ``LocalRuntime`` + the agent, alternately, so both see the same
machine load; medians and their ratio are written to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, medians, write_section  # noqa: E402

SCRIPT = "EPOCHS = 3\ntotal = sum(i * i for i in range(200_000))\nprint(f'accuracy: {0.5 + EPOCHS / 100:.2f}')\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    from trainchain.runtimes.base import EnvSpec, TrialSpec
    from trainchain.runtimes.local import LocalRuntime

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "proj").mkdir()
        (root / "proj" / "train.py").write_text(SCRIPT)
        runtime = LocalRuntime(root / "envs")
        env = runtime.provision(EnvSpec("generic", ()), lambda _l: None)
        counter = iter(range(10_000))

        def bare() -> None:
            subprocess.run([env.python, "train.py"], cwd=root / "proj", check=True, capture_output=True)

        def through_runtime() -> None:
            n = next(counter)
            spec = TrialSpec(run_id="bench", trial=n, attempt=1, workdir=root / "proj", entrypoint="train.py",
                             params={"EPOCHS": 3}, output_dir=root / f"o{n}", checkpoint_dir=root / f"c{n}",
                             events_path=root / f"e{n}.jsonl", log_path=root / f"l{n}.log")
            outcome = runtime.start(env, spec).wait()
            assert outcome is not None and outcome.kind.value == "succeeded"

        bare_times, local_times = [], []
        for _ in range(repeat):  # interleaved: both sides see the same load
            bare_times.append(medians(bare, 1)[0])
            local_times.append(medians(through_runtime, 1)[0])
        cli, _ = medians(lambda: subprocess.run([sys.executable, "-m", "trainchain", "--help"],
                                                check=True, capture_output=True), repeat)
    import statistics

    b, local = statistics.median(bare_times), statistics.median(local_times)
    text = (
        "## Per-trial overhead (local runtime) and CLI start-up\n\n"
        f"{machine()}. Median of {repeat} interleaved runs of the same pure-Python script.\n\n"
        "| what | median |\n|---|---|\n"
        f"| bare `python train.py` | {b * 1000:.0f} ms |\n"
        f"| through `LocalRuntime` + agent (params applied, events written) | {local * 1000:.0f} ms |\n"
        f"| overhead | {(local - b) * 1000:.0f} ms ({local / b:.2f}x) |\n"
        f"| `trainchain --help` (CLI start-up) | {cli * 1000:.0f} ms |\n"
    )
    print(text)
    write_section("overhead", text)


if __name__ == "__main__":
    main()
