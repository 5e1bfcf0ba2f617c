"""Push to first epoch, and webhook answer latency, on a real uvicorn server.

1. A local git repository holding a copy of ``examples/digits-cnn`` is registered as a project;
   for each of ``--pushes`` commits (code-only changes), a signed GitHub ``push`` delivery is
   POSTed to ``/hooks/github`` and the script polls the database until the first epoch of
   trial 0 of that run is stored. The Keras environment is warm (reused venv), so the figure
   is webhook -> queue -> fetch -> detect -> reuse env -> start -> first epoch.
2. ``--deliveries`` signed push deliveries, one at a time, to a server whose worker is off
   (runs stay queued): the answer latency a Git host sees (median, p99).

Run: ``python bench/bench_push.py [--pushes 3] [--deliveries 100] [--no-write]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, WARM_ENVS, machine, percentile, write_section  # noqa: E402

SECRET = "bench-push-secret"
EXAMPLE = ROOT / "examples" / "digits-cnn"
FIRST_EPOCH_TIMEOUT = 600.0


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@localhost",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@localhost",
    )
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def make_repo(repo: Path) -> None:
    shutil.copytree(EXAMPLE, repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "digits")


def commit_change(repo: Path, n: int) -> str:
    """A code-only change (a comment), so the environment stays warm."""
    with open(repo / "train.py", "a") as fh:
        fh.write(f"# push {n}\n")
    git(repo, "commit", "--quiet", "-am", f"push {n}")
    return git(repo, "rev-parse", "HEAD")


def payload(repo: Path, sha: str) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "after": sha,
        "deleted": False,
        "repository": {"clone_url": str(repo), "html_url": str(repo), "name": "digits"},
    }


def first_epoch(store: Any, run_id: str) -> Any:
    from sqlalchemy import select

    from trainchain.store import Run
    from trainchain.store.models import EpochMetric, Trial

    with store.session() as s:
        epoch = s.scalars(
            select(EpochMetric.at)
            .join(Trial, Trial.id == EpochMetric.trial_id)
            .where(Trial.run_id == run_id, Trial.number == 0)
            .limit(1)
        ).first()
        run = s.get(Run, run_id)
        return epoch, run.status, run.error


def wait_run_end(store: Any, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, status, _ = first_epoch(store, run_id)
        if status not in ("queued", "running"):
            return str(status)
        time.sleep(0.5)
    return "still running"


def phases(run_id: str, posted: float, stored: float) -> dict[str, float]:
    """Where the time went, from trial 0's events file (agent timestamps, same clock)."""
    import json

    from trainchain import paths

    events = [
        json.loads(line)
        for line in (paths.runs_dir() / run_id / "trials" / "000" / "events-1.jsonl")
        .read_text()
        .splitlines()
    ]
    first: dict[str, float] = {}
    for event in events:
        first.setdefault(event["type"], event["time"])
    return {
        "POST -> agent started (queue, fetch, detect, reuse env, spawn)": first["start"] - posted,
        "agent started -> fit() called (imports, data, model)": first["fit"] - first["start"],
        "fit() -> first epoch ended": first["epoch"] - first["fit"],
        "epoch event -> stored in the database (seen by the poll)": stored - first["epoch"],
    }


def push_to_first_epoch(root: Path, pushes: int) -> list[tuple[float, float, dict[str, float]]]:
    """(answer seconds, push-to-first-epoch seconds, phases) per push."""
    import httpx

    from trainchain.server.app import create_app
    from trainchain.server.testing import github_delivery, live_server
    from trainchain.store import Project, Store

    repo = root / "repo"
    make_repo(repo)
    store = Store(f"sqlite:///{root / 'push.db'}")
    with store.session() as s:  # tune off: the figure ends at the baseline's first epoch
        s.add(
            Project(
                name="digits",
                url=str(repo),
                branch="main",
                secret_env="BENCH_PUSH_SECRET",
                options={"tune": False},
            )
        )
    results = []
    with live_server(create_app(store)) as base, httpx.Client(base_url=base, timeout=60) as http:
        http.get("/healthz")  # connection and first-request costs are not the figure
        for n in range(pushes):
            sha = commit_change(repo, n)
            body, headers = github_delivery(payload(repo, sha), SECRET)
            start, posted = time.perf_counter(), time.time()
            answer = http.post("/hooks/github", content=body, headers=headers)
            answered = time.perf_counter() - start
            assert answer.status_code == 202 and answer.json()["status"] == "queued", answer.text
            run_id = answer.json()["run_id"]
            while True:
                at, status, error = first_epoch(store, run_id)
                if at is not None:
                    break
                if status not in ("queued", "running"):
                    raise SystemExit(f"run {run_id} ended {status} before its first epoch: {error}")
                if time.perf_counter() - start > FIRST_EPOCH_TIMEOUT:
                    raise SystemExit(
                        f"no first epoch after {FIRST_EPOCH_TIMEOUT:.0f}s (run {run_id})"
                    )
                time.sleep(0.05)
            results.append(
                (answered, time.perf_counter() - start, phases(run_id, posted, time.time()))
            )
            print(
                f"push {n}: answered in {answered * 1000:.0f} ms, first epoch after "
                f"{results[-1][1]:.1f} s; run ended {wait_run_end(store, run_id)}",
                flush=True,
            )
    return results


def answer_latency(root: Path, deliveries: int) -> tuple[list[float], int]:
    import httpx

    from trainchain.server.app import create_app
    from trainchain.server.testing import github_delivery, live_server
    from trainchain.store import Project, Store

    store = Store(f"sqlite:///{root / 'latency.db'}")
    url = "https://github.com/Codertocat/Hello-World.git"
    with store.session() as s:
        s.add(Project(name="hello", url=url, branch="*", secret_env="BENCH_PUSH_SECRET"))
    latencies, accepted = [], 0
    with (
        live_server(create_app(store, start_worker=False)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        http.get("/healthz")  # connection and first-request costs are not the figure
        for n in range(deliveries):
            body, headers = github_delivery(
                {
                    "ref": f"refs/heads/b{n % 5}",
                    "after": f"{n + 1:040x}",
                    "repository": {"clone_url": url},
                },
                SECRET,
            )
            start = time.perf_counter()
            r = http.post("/hooks/github", content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            accepted += r.status_code == 202
    return latencies, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        root = Path(tmp)
        os.environ.update(
            TRAINCHAIN_HOME=str(root / "home"),
            TRAINCHAIN_ENVS_DIR=str(WARM_ENVS),
            BENCH_PUSH_SECRET=SECRET,
        )
        conditions = machine("fastapi", "uvicorn", "sqlalchemy", "keras")
        pushes = push_to_first_epoch(root, args.pushes)
        latencies, accepted = answer_latency(root, args.deliveries)
    first = [p for _, p, _ in pushes]
    runs = "ran once" if len(first) == 1 else f"median of {len(first)} pushes"
    text = "\n".join(
        [
            "## Push to first epoch, webhook answer latency (`bench/bench_push.py`)",
            "",
            f"{conditions}.",
            "",
            "A real uvicorn server (`trainchain.server.testing.live_server`) and signed GitHub "
            "`push` "
            "deliveries. Push to first epoch: a local git repository of `examples/digits-cnn` "
            "(Keras 3), one code-only commit per push, warm Keras environment; measured from the "
            "POST to the first stored epoch of trial 0 (webhook -> queue -> fetch -> detect -> "
            "reuse "
            "env -> start Python + TensorFlow -> load data -> first epoch).",
            "",
            "| figure | median | min | max | runs |",
            "|---|---|---|---|---|",
            f"| push -> first epoch of trial 0 | {statistics.median(first):.1f} s | "
            f"{min(first):.1f} s | "
            f"{max(first):.1f} s | {runs} |",
            "| webhook answer while the server is idle | "
            f"{statistics.median([a for a, _, _ in pushes]) * 1000:.0f} ms | "
            f"{min(a for a, _, _ in pushes) * 1000:.0f} ms | "
            f"{max(a for a, _, _ in pushes) * 1000:.0f} ms | {runs} |",
            "",
            "Where the time goes (medians over the same pushes):",
            "",
            "| phase | median |",
            "|---|---|",
            *[
                f"| {name} | {statistics.median(p[name] for _, _, p in pushes):.2f} s |"
                for name in pushes[0][2]
            ],
            "",
            f"Webhook answer latency over {args.deliveries} signed push deliveries sent one after "
            f"another (worker off, so runs stay queued; 5 branches, newer pushes supersede queued "
            f"ones): {accepted} answered 202; **median {statistics.median(latencies) * 1000:.1f} "
            "ms, "
            f"p99 {percentile(latencies, 99) * 1000:.1f} ms** (nearest rank), max "
            f"{max(latencies) * 1000:.1f} ms.",
        ]
    )
    assert accepted == args.deliveries, f"only {accepted}/{args.deliveries} deliveries answered 202"
    print(text)
    if not args.no_write:
        write_section("push", text)


if __name__ == "__main__":
    main()
