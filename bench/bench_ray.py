"""The ray runtime on a real multi-node cluster on this machine (head + one-CPU worker nodes):
per-trial overhead against the local runtime (same script, interleaved), throughput of two
one-CPU nodes against one, and node-loss recovery (SIGKILL of the raylet running a Keras trial).

Run: ``python bench/bench_ray.py [--repeat 7] [--trials 8] [--losses 2] [--no-write]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from bench_overhead import TrialRunner  # noqa: E402
from common import load, machine, ratio, write_section  # noqa: E402

# The throughput trial: mostly waiting (2 s), a little CPU. The machine's two cores are shared
# with other work, so a CPU-bound trial would measure the host's contention, not the scheduling.
WAIT_SCRIPT = "import time\ntime.sleep(2.0)\nprint('accuracy: 0.5')\n"


class OneSnapshot:
    """Attempts of one run are fresh copies of one snapshot (same files, same times), so the
    ray runtime ships it to a node once; ``TrialRunner`` writes the script anew per attempt,
    so its times are set back to one value first (on both sides)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def start(self, env: Any, spec: Any) -> Any:
        for path in spec.workdir.rglob("*"):
            os.utime(path, (1_700_000_000, 1_700_000_000))
        return self.runtime.start(env, spec)


def overhead(cluster: Any, root: Path, repeat: int) -> dict[str, list[float]]:
    from trainchain.runtimes.base import EnvSpec
    from trainchain.runtimes.local import LocalRuntime
    from trainchain.runtimes.ray import RayRuntime

    spec = EnvSpec("generic", ())
    local = LocalRuntime(root / "envs")
    ray_runtime = RayRuntime(cluster.address)
    sides: dict[str, Callable[[], None]] = {
        "local": TrialRunner(
            OneSnapshot(local), local.provision(spec, lambda _l: None), root, "local"
        ),
        "ray": TrialRunner(
            OneSnapshot(ray_runtime), ray_runtime.provision(spec, print), root, "ray"
        ),
    }
    for fn in sides.values():
        fn()  # warm: the nodes' venvs, snapshots and worker pools are not what is timed
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):  # interleaved: both sides see the same load
        for name, fn in sides.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def batch(runtime: Any, env: Any, root: Path, label: str, trials: int) -> float:
    """Start ``trials`` attempts at once (Ray queues them by CPU); seconds until all ended."""
    from trainchain.runtimes.base import TrialSpec

    start = time.perf_counter()
    processes = []
    for n in range(trials):
        work = root / f"{label}-{n}"
        work.mkdir()
        (work / "train.py").write_text(WAIT_SCRIPT)
        spec = TrialSpec(
            run_id=f"bench-{label}",
            trial=n,
            attempt=1,
            workdir=work,
            entrypoint="train.py",
            output_dir=root / label / f"o{n}",
            checkpoint_dir=root / label / f"c{n}",
            events_path=root / label / f"e{n}.jsonl",
            log_path=root / label / f"l{n}.log",
        )
        processes.append(runtime.start(env, spec))
    for process in processes:
        outcome = process.wait()
        assert outcome is not None and outcome.kind.value == "succeeded", outcome
    return time.perf_counter() - start


def node_loss(cluster: Any, root: Path, cases: int) -> list[dict[str, Any]]:
    from tests.faults.helpers import Kill, run_kill_case
    from tests.integration.test_ray_cluster import _node_of_log

    from trainchain.agent.events import read_events
    from trainchain.profiles import env_packages
    from trainchain.runtimes.base import EnvSpec
    from trainchain.runtimes.ray import RayRuntime
    from trainchain.trials.workspace import trial_dirs

    os.environ["TRAINCHAIN_ENVS_DIR"] = os.environ.get("TRAINCHAIN_ENVS_DIR") or str(
        Path.home() / ".cache" / "trainchain-test-envs"
    )
    runtime = RayRuntime(cluster.address)
    env = runtime.provision(EnvSpec("keras", env_packages("keras", ("sklearn",))), print)
    results = []
    for i in range(cases):
        tmp = root / f"loss-{i}"
        tmp.mkdir()
        killed: dict[str, Any] = {}

        def kill(
            _run: str,
            _start: dict[str, Any],
            attempt: int,
            tmp: Path = tmp,
            killed: dict[str, Any] = killed,
        ) -> str:
            node = cluster.node_of(_node_of_log(trial_dirs(tmp / "run", 0).log(attempt)))
            os.kill(node.raylet_pid(), signal.SIGKILL)
            killed["node"] = node
            return node.name

        _, case = run_kill_case(tmp, runtime, env, f"bench-loss-{i}", [Kill(1, 2, 0.15)], kill)
        events, _ = read_events(str(trial_dirs(tmp / "run", 0).events(2)))
        begun = next((float(e["time"]) for e in events if e.get("type") == "start"), None)
        killed_at = case.kills[0].killed_at
        results.append(
            {
                "ok": case.failure is None,
                "to_start": None if begun is None or killed_at is None else begun - killed_at,
                "failure": case.failure,
                "redone": case.redone,
                "to_resume": case.to_resume[0],
                "wall": case.wall,
            }
        )
        dead = killed.get("node")
        if dead is not None:  # replace the lost node for the next case
            dead.stop()
            cluster.workers.remove(dead)
            cluster.start_worker(f"{dead.name}r{i}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--losses", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--overhead-only", action="store_true", help="no throughput, no loss")
    args = parser.parse_args()
    from tests.ray_cluster import local_cluster

    from trainchain.runtimes.base import EnvSpec
    from trainchain.runtimes.ray import RayRuntime

    at_start = machine("ray")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["TRAINCHAIN_HOME"] = str(root / "controller")
        with local_cluster(root / "cluster", workers=2) as cluster:
            times = overhead(cluster, root, args.repeat)
            if args.overhead_only:
                med = {name: statistics.median(values) for name, values in times.items()}
                print({n: [round(t, 3) for t in v] for n, v in times.items()}, med, load())
                return
            runtime = RayRuntime(cluster.address)
            env = runtime.provision(EnvSpec("generic", ()), lambda _l: None)
            batch(runtime, env, root, "warm", 2)
            two = batch(runtime, env, root, "two", args.trials)
            spare = cluster.workers.pop()
            spare.stop()  # one worker node left
            time.sleep(8)  # the GCS drops the stopped node
            one = batch(runtime, env, root, "one", args.trials)
            cluster.start_worker("worker2b")
            losses = node_loss(cluster, root, args.losses)
            import ray

            ray.shutdown()
    med = {name: statistics.median(values) for name, values in times.items()}
    spread = {n: f"{min(v) * 1000:.0f}-{max(v) * 1000:.0f} ms" for n, v in times.items()}
    extra = med["ray"] - med["local"]
    ok = [r for r in losses if r["ok"]]
    redone = [max(r["redone"] or [0]) for r in ok]
    resume = [r["to_resume"] for r in ok if r["to_resume"] is not None]
    begin = [r["to_start"] for r in ok if r["to_start"] is not None]
    rows = []
    for i, r in enumerate(losses):
        whole = "yes" if r["ok"] else "NO: " + str(r["failure"])[:120]
        back = "-" if r["to_resume"] is None else f"{r['to_resume']:.1f} s"
        begun = "-" if r["to_start"] is None else f"{r['to_start']:.1f} s"
        rows.append(f"| {i + 1} | {whole} | {r['redone']} | {begun} | {back} | {r['wall']:.1f} s |")
    loss_rows = "\n".join(rows)
    text = (
        "## Ray runtime: overhead, two nodes vs one, node loss (`bench/bench_ray.py`)\n\n"
        f"Machine: {at_start}. Load average at the end: {load()}.\n\n"
        "A real cluster on this machine: `ray start --head --num-cpus 0` plus one-CPU worker "
        "nodes (`ray start --address ... --num-cpus 1`), each its own raylet "
        "(tests/ray_cluster.py).\n\n"
        f"**Per-trial overhead** (the pure-Python script of `bench_overhead.py`, {args.repeat} "
        "rounds, ray and local interleaved, after one warm-up each; every attempt a fresh copy "
        "of one snapshot, as in a run; the ray attempt includes taking an idle host actor, the "
        "node-local working copy, the supervisor, pulling events and log, and ending the "
        "attempt on its host):\n\n"
        "| runtime | median | min-max |\n|---|---|---|\n"
        f"| local | {med['local'] * 1000:.0f} ms | {spread['local']} |\n"
        f"| ray | {med['ray'] * 1000:.0f} ms | {spread['ray']} |\n\n"
        f"Ray over local: **{extra * 1000:+.0f} ms per trial** (goal <= 300 ms; Ray Tune publishes "
        "~0.14 s per trial: 10,000 one-second trials on 16 CPUs in 715 s vs 625 s ideal).\n\n"
        f"**Throughput**: {args.trials} trials of a 2-s wait, all started at once (Ray queues "
        "them by CPU), two one-CPU worker nodes then one (the second node stopped; sequential, "
        f"not interleaved): {two:.1f} s vs {one:.1f} s, ratio **{ratio(one, two)}** (goal >= "
        "1.8x; the ideal is 2x). The trial waits rather than computes because the machine's two "
        "cores are shared: a CPU-bound trial would measure the host's contention.\n\n"
        "How: an attempt runs in a long-lived host actor holding its resources, reused by the "
        "next attempt of the same resources (Ray Tune's `reuse_actors`), so no Ray worker "
        "process starts per attempt (the previous design, a new detached actor per attempt, "
        "measured +2.8 s and 0.95x at load 15-30). What is left over local: two Ray calls to "
        "start and end the attempt, the node-local working copy, the supervisor process "
        "(`python -S`) between the host and the training, and the long poll of events.\n\n"
        "**Node loss**: the fault suite's Keras CNN (8 epochs, 0.3 s pause per epoch) as trial 0; "
        "the raylet of the node running it is SIGKILLed 0.15 s into epoch 3. Recovery = from the "
        "kill to the next attempt on the other node (Ray's health check here: "
        "1 s x 5, the test cluster's setting; the default is 3 s x 5).\n\n"
        "| case | whole curve | epochs redone | kill to next attempt's start | kill to resumed "
        "epoch | trial wall time |\n|---|---|---|---|---|---|\n"
        f"{loss_rows}\n\n"
        + (
            f"Median from the kill to the next attempt's start on the other node "
            f"**{statistics.median(begin):.1f} s** (Ray noticing the death, a new actor); to "
            f"its first resumed epoch **{statistics.median(resume):.1f} s** (plus the script's "
            f"own start: Python, TensorFlow, restoring the checkpoint); at most "
            f"**{max(redone)} epoch(s)** redone (goal <= 1).\n"
            if resume and redone and begin
            else "No case recovered: see the table.\n"
        )
    )
    print(text)
    if not args.no_write:
        write_section("ray", text)


if __name__ == "__main__":
    main()
