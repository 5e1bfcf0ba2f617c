"""Per-trial overhead: the same small script bare, through the local runtime and through the
docker runtime (warm image), interleaved so all three see the same machine load; plus the
CLI start-up time (``trainchain --help``).

Also, unless ``--no-first-epoch``: start-to-first-epoch of the digits and cat/dog Keras scripts,
bare against trainchain's local runtime (``first_epoch.py``; median of ``--epoch-repeat``,
interleaved), and where a docker trial's time goes (create, start, run, remove; the SDK calls
the runtime makes, timed one by one).

Run: ``python bench/bench_overhead.py [--repeat 7] [--epoch-repeat 5] [--no-first-epoch]
[--no-docker] [--no-write]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import docker_runtime, load, machine, medians, ratio, write_section  # noqa: E402

SCRIPT = (
    "EPOCHS = 3\n"
    "total = sum(i * i for i in range(200_000))\n"
    "print(f'accuracy: {0.5 + EPOCHS / 100:.2f}')\n"
)


class TrialRunner:
    """Attempts of the script through ``runtime``, each asserted to succeed with its metric;
    ``start()`` and ``wait()`` timed apart. ``ahead``: the attempt was prepared before its
    round, untimed (the trial runner prepares the next trial while one trains; this script
    trains 0.1 s, shorter than a container start, so the overlap is not timed here)."""

    def __init__(self, runtime: Any, env: Any, root: Path, label: str, ahead: bool = False):
        self.runtime, self.env, self.root, self.label, self.ahead = runtime, env, root, label, ahead
        self.n = 0
        self.split: dict[str, list[float]] = {"start()": [], "wait()": []}

    def spec(self, n: int) -> Any:
        from trainchain.runtimes.base import TrialSpec

        root, label = self.root, self.label
        work = root / f"{label}-{n}"
        work.mkdir(exist_ok=True)
        (work / "train.py").write_text(SCRIPT)  # a fresh copy per attempt, as the pipeline does
        return TrialSpec(
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

    def ready(self) -> None:
        """Untimed: prepare the next attempt and wait until its spare runs."""
        if not self.ahead:
            return
        self.runtime.prepare(self.env, self.spec(self.n))
        for spare in self.runtime._spares:
            spare.wait_ready(120)

    def __call__(self) -> None:
        n, self.n = self.n, self.n + 1
        spec = self.spec(n)
        start = time.perf_counter()
        process = self.runtime.start(self.env, spec)
        started = time.perf_counter()
        outcome = process.wait()
        self.split["start()"].append(started - start)
        self.split["wait()"].append(time.perf_counter() - started)
        assert outcome is not None and outcome.kind.value == "succeeded", (
            self.label,
            outcome,
            spec.log_path.read_text(),
        )
        assert '"accuracy"' in spec.events_path.read_text(), f"{self.label}: no metric event"


def first_epoch_table(repeat: int) -> str:
    """Bare vs trainchain (cold, and warm: started ahead) start-to-first-epoch, digits and
    cat/dog, interleaved rounds."""
    import first_epoch

    env = first_epoch.keras_env()
    sides = ("bare", "trainchain", "warm")
    times: dict[tuple[str, str], list[float]] = {}
    loads = []
    with tempfile.TemporaryDirectory(prefix="bench-first-epoch-") as tmp:
        root = Path(tmp)
        for n in range(repeat):
            for name in first_epoch.SCRIPTS:
                for side in sides:
                    fn = getattr(first_epoch, side)
                    times.setdefault((name, side), []).append(fn(env, name, root, n))
            loads.append(load())
    rows = []
    for name in first_epoch.SCRIPTS:
        b, t, w = (statistics.median(times[(name, side)]) for side in sides)
        spread = {
            side: f"{min(times[(name, side)]):.1f}-{max(times[(name, side)]):.1f} s"
            for side in sides
        }
        rows.append(
            f"| {name} | {b:.2f} s ({spread['bare']}) | {t:.2f} s ({spread['trainchain']}) | "
            f"{ratio(t, b)} | {w:.2f} s ({spread['warm']}) | {ratio(w, b)} |"
        )
    return (
        "### Start to first epoch: bare script vs trainchain (local runtime), cold and warm\n\n"
        f"Median of {repeat} rounds, each running digits and cat/dog bare, then through "
        "trainchain cold, then warm; the same warm Keras virtualenv; clock from process start "
        "(trainchain: from `LocalRuntime.start`) to Keras's `Epoch 1/` line, then the process is "
        "killed. Warm: the attempt was prepared ahead (`LocalRuntime.prepare`, NumPy and Keras "
        "imported by its interpreter, as the trial runner has it done while the previous trial "
        "trains) and the bench waited, untimed, until it was idle. Load after each round: "
        f"{'; '.join(loads)}.\n\n"
        "| script | bare (min-max) | trainchain cold (min-max) | ratio | trainchain warm "
        "(min-max) | ratio |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows)
    )


def earlier_first_epoch() -> str:
    """The start-to-first-epoch table of the section as written, kept when it is not re-run."""
    from common import DOC

    doc = DOC.read_text() if DOC.exists() else ""
    start, end = "<!-- bench:overhead -->", "<!-- /bench:overhead -->"
    if start not in doc or end not in doc:
        return ""
    section = doc[doc.index(start) : doc.index(end)]
    head = "### Start to first epoch"
    if head not in section:
        return ""
    table = section[section.index(head) :].rstrip()
    note = "(not re-run with the figures above: kept from the bench's previous full run)"
    if note in table:
        return table
    first, rest = table.split("\n", 1)
    return f"{first} {note}\n{rest}"


def split_table(sides: dict[str, Any]) -> str:
    """Median time in ``start()`` and in ``wait()`` of each runtime attempt."""
    rows = [
        f"| {name} | {statistics.median(fn.split['start()']) * 1000:.0f} ms | "
        f"{statistics.median(fn.split['wait()']) * 1000:.0f} ms |"
        for name, fn in sides.items()
        if isinstance(fn, TrialRunner)
    ]
    return (
        "### `start()` and `wait()` of the attempts above (medians)\n\n"
        "`start()`: the runtime's work until the attempt runs (docker: create + start, or the "
        "release of a spare); `wait()`: the script's run, then the runtime's end (docker: the "
        "engine's wait, the ended state, the log stream's end, the removal).\n\n"
        "| runtime | start() | wait() |\n|---|---|---|\n" + "\n".join(rows)
    )


def docker_phases(docker: Any, env: Any, root: Path, repeat: int) -> str:
    """The docker runtime's calls for one attempt, timed one by one (same arguments)."""
    import os

    from trainchain.runtimes import docker_container as made
    from trainchain.runtimes.docker_process import probe

    phases: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = fn()
        phases.setdefault(name, []).append(time.perf_counter() - start)
        return value

    for n in range(repeat):
        work = root / f"phase-{n}"
        work.mkdir()
        (work / "train.py").write_text(SCRIPT)
        from trainchain.runtimes.base import TrialSpec

        trial = TrialSpec(
            run_id="bench-phases",
            trial=n,
            attempt=1,
            workdir=work,
            entrypoint="train.py",
            params={"EPOCHS": 3},
            output_dir=root / f"phase-o{n}",
            checkpoint_dir=root / f"phase-c{n}",
            events_path=root / f"phase-e{n}" / "e.jsonl",
            log_path=root / f"phase-l{n}.log",
        )
        for directory in (trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        total = time.perf_counter()
        timed("probe the engine socket", lambda: probe(10))
        container = timed(
            "create (POST create + GET inspect)",
            lambda t=trial: docker.client.containers.create(
                env.image,
                command=[t.entrypoint],
                init=True,
                name=made.container_name(t),
                labels={made.LABEL_RUN: t.run_id},
                environment=made.container_environ(t),
                mounts=made.trial_mounts(t),
                working_dir=made.CODE,
                user=f"{os.getuid()}:{os.getgid()}",
                network_mode="none",
            ),
        )
        timed("start (runc: namespaces, mounts, init)", container.start)
        timed("run: interpreter + agent + script, until exit", container.wait)
        timed("logs + inspect the ended state", lambda c=container: (c.logs(), c.reload()))
        timed("remove (with its anonymous volumes)", lambda c=container: c.remove(v=True))
        phases.setdefault("total", []).append(time.perf_counter() - total)
    rows = [
        f"| {name} | {statistics.median(values) * 1000:.0f} ms |" for name, values in phases.items()
    ]
    return (
        f"### Where a docker attempt's time goes (median of {repeat}, load {load()})\n\n"
        "| step | median |\n|---|---|\n" + "\n".join(rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-docker", action="store_true", help="bare and local runtime only")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--no-first-epoch", action="store_true", help="skip the Keras scripts")
    parser.add_argument("--epoch-repeat", type=int, default=5)
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
            "local": TrialRunner(local, local_env, root, "local"),
        }
        built = ""
        if docker is not None:
            docker_env = docker.provision(spec, lambda _l: None)  # warm: a build here is not timed
            built = " (the image was built before timing)" if docker_env.created else ""
            sides["docker"] = TrialRunner(docker, docker_env, root, "docker")
            sides["docker"]()  # first container start warms the engine's caches; not counted
            sides["docker-ahead"] = TrialRunner(docker, docker_env, root, "ahead", ahead=True)
        times: dict[str, list[float]] = {name: [] for name in sides}
        loads = []
        for _ in range(args.repeat):  # interleaved: every side sees the same load
            for name, fn in sides.items():
                if isinstance(fn, TrialRunner):
                    fn.ready()
                times[name].append(medians(fn, 1)[0])
            loads.append(load())
        cli, _ = medians(
            lambda: subprocess.run(
                [sys.executable, "-m", "trainchain", "--help"], check=True, capture_output=True
            ),
            args.repeat,
        )
        phases = docker_phases(docker, docker_env, root, args.repeat) if docker else ""
        if docker is not None:
            phases = split_table(sides) + "\n\n" + phases
            docker.close()
    epochs = earlier_first_epoch() if args.no_first_epoch else first_epoch_table(args.epoch_repeat)
    med = {name: statistics.median(values) for name, values in times.items()}
    spread = {name: f"{min(v) * 1000:.0f}-{max(v) * 1000:.0f} ms" for name, v in times.items()}
    b = med["bare"]
    rows = [
        f"| bare `python train.py` (venv interpreter) | {b * 1000:.0f} ms | {spread['bare']} | "
        "1.00x | - |",
        f"| `LocalRuntime` + agent (params applied, events written) | {med['local'] * 1000:.0f} ms "
        "| "
        f"{spread['local']} | {ratio(med['local'], b)} | {(med['local'] - b) * 1000:+.0f} ms |",
    ]
    labels = {
        "docker": f"`DockerRuntime` + agent, warm image{built}, container made at `start()`",
        "docker-ahead": "`DockerRuntime` + agent, container started ahead (a spare, as the "
        "trial runner prepares the next trial)",
    }
    for name, label in labels.items():
        if name not in med:
            continue
        d = med[name]
        rows.append(
            f"| {label} | {d * 1000:.0f} ms | {spread[name]} | {ratio(d, b)} | "
            f"{(d - b) * 1000:+.0f} ms ({(d - med['local']) * 1000:+.0f} ms, "
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
        "copy of the code, its own output, checkpoint and events paths, as in a real run. "
        "The spare row: before its round the attempt is prepared and the bench waits (untimed) "
        "until its spare runs; in a run the trial runner prepares the next trial while one "
        "trains, so this happens during any trial longer than a container start (it costs that "
        f"trial the CPU of one container start). Load after each round: {'; '.join(loads)}.\n\n"
        "| what | median | min-max | ratio | overhead |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\n`trainchain --help` (CLI start-up, median of {args.repeat}): "
        f"**{cli * 1000:.0f} ms** "
        "(target: well under a second; heavy libraries are imported lazily)."
        + docker_note
        + (f"\n\n{phases}" if phases else "")
        + (f"\n\n{epochs}" if epochs else "")
    )
    print(text)
    if not args.no_write:
        write_section("overhead", text)


if __name__ == "__main__":
    main()
