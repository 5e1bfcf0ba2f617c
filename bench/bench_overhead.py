"""Per-trial overhead: the same small script bare, through the local runtime and through the
docker runtime (warm image), interleaved so all three see the same machine load; plus the
CLI start-up time (``trainchain --help``).

Run: ``python bench/bench_overhead.py [--repeat 7] [--no-docker] [--no-write]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import docker_runtime, machine, medians, ratio, write_section  # noqa: E402

SCRIPT = (
    "EPOCHS = 3\n"
    "total = sum(i * i for i in range(200_000))\n"
    "print(f'accuracy: {0.5 + EPOCHS / 100:.2f}')\n"
)


def trial_runner(runtime: Any, env: Any, root: Path, label: str) -> Callable[[], None]:
    """One attempt of the script through ``runtime``; asserts it succeeded with its metric."""
    from trainchain.runtimes.base import TrialSpec

    counter = iter(range(100_000))

    def run() -> None:
        n = next(counter)
        work = root / f"{label}-{n}"
        work.mkdir()
        (work / "train.py").write_text(SCRIPT)  # a fresh copy per attempt, as the pipeline does
        spec = TrialSpec(
            run_id="bench",
            trial=n,
            attempt=1,
            workdir=work,
            entrypoint="train.py",
            params={"EPOCHS": 3},
            output_dir=root / f"{label}-o{n}",
            checkpoint_dir=root / f"{label}-c{n}",
            events_path=root / f"{label}-ev{n}" / "e.jsonl",
            log_path=root / f"{label}-l{n}.log",
        )
        outcome = runtime.start(env, spec).wait()
        assert outcome is not None and outcome.kind.value == "succeeded", (
            label,
            outcome,
            spec.log_path.read_text(),
        )
        assert '"accuracy"' in spec.events_path.read_text(), f"{label}: no metric event"

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-docker", action="store_true", help="bare and local runtime only")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from trainchain.runtimes.base import EnvSpec
    from trainchain.runtimes.local import LocalRuntime

    docker, why = (None, "--no-docker given") if args.no_docker else docker_runtime()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "proj").mkdir()
        (root / "proj" / "train.py").write_text(SCRIPT)
        spec = EnvSpec("generic", ())
        local = LocalRuntime(root / "envs")
        local_env = local.provision(spec, lambda _l: None)

        def bare() -> None:
            subprocess.run(
                [local_env.python, "train.py"], cwd=root / "proj", check=True, capture_output=True
            )

        sides: dict[str, Callable[[], None]] = {
            "bare": bare,
            "local": trial_runner(local, local_env, root, "local"),
        }
        built = ""
        if docker is not None:
            docker_env = docker.provision(spec, lambda _l: None)  # warm: a build here is not timed
            built = " (the image was built before timing)" if docker_env.created else ""
            sides["docker"] = trial_runner(docker, docker_env, root, "docker")
            sides["docker"]()  # first container start warms the engine's caches; not counted
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.repeat):  # interleaved: every side sees the same load
            for name, fn in sides.items():
                times[name].append(medians(fn, 1)[0])
        cli, _ = medians(
            lambda: subprocess.run(
                [sys.executable, "-m", "trainchain", "--help"], check=True, capture_output=True
            ),
            args.repeat,
        )
        if docker is not None:
            docker.close()
    med = {name: statistics.median(values) for name, values in times.items()}
    spread = {name: f"{min(v) * 1000:.0f}-{max(v) * 1000:.0f} ms" for name, v in times.items()}
    b = med["bare"]
    rows = [
        f"| bare `python train.py` (venv interpreter) | {b * 1000:.0f} ms | {spread['bare']} | "
        "1.00x | - |",
        f"| `LocalRuntime` + agent (params applied, events written) | {med['local'] * 1000:.0f} ms "
        "| "
        f"{spread['local']} | {ratio(med['local'], b)} | +{(med['local'] - b) * 1000:.0f} ms |",
    ]
    if "docker" in med:
        d = med["docker"]
        rows.append(
            f"| `DockerRuntime` + agent, warm image{built} | {d * 1000:.0f} ms | "
            f"{spread['docker']} | "
            f"{ratio(d, b)} | +{(d - b) * 1000:.0f} ms (+{(d - med['local']) * 1000:.0f} ms, "
            f"{ratio(d, med['local'])} vs local) |"
        )
    docker_note = "" if docker is not None else f"\n\nDocker runtime not measured: {why}.\n"
    text = (
        "## Per-trial overhead (bare, local runtime, docker runtime) and CLI start-up "
        "(`bench/bench_overhead.py`)\n\n"
        f"{machine('docker')}.\n\n"
        f"The same pure-Python script (~0.1 s of work, prints `accuracy: 0.53`), {args.repeat} "
        "rounds, "
        "each round running every variant once in turn (interleaved, so they share the load); "
        "medians, min-max, ratio to bare and absolute difference. Each runtime attempt gets a "
        "fresh "
        "copy of the code, its own output, checkpoint and events paths, as in a real run.\n\n"
        "| what | median | min-max | ratio | overhead |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\n`trainchain --help` (CLI start-up, median of {args.repeat}): "
        f"**{cli * 1000:.0f} ms** "
        "(target: well under a second; heavy libraries are imported lazily)." + docker_note
    )
    print(text)
    if not args.no_write:
        write_section("overhead", text)


if __name__ == "__main__":
    main()
