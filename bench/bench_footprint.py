"""Controller footprint: peak memory of `trainchain run` on a small project and of
`trainchain serve` under a burst of signed webhook deliveries.

Memory is the resident set size read from /proc every 20 ms: the controller process alone
(what trainchain itself costs) and its whole process tree (with the training process and any
pip/git children). ``ru_maxrss`` of the children, from the kernel, is reported as a check on
the polling (it is the peak of the largest single child, never a sum).

Run: ``python bench/bench_footprint.py [--deliveries 200] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, WARM_ENVS, machine, percentile, write_section  # noqa: E402

EXAMPLE = ROOT / "examples" / "digits-cnn"
SECRET = "bench-footprint-secret"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss(pid: int) -> int:
    """Resident bytes of ``pid`` (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def descendants(pid: int) -> list[int]:
    """``pid``'s descendants, through /proc/*/stat parent links (new sessions included)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def command(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv[:5] if a]
    return " ".join([Path(words[0]).name, *words[1:]])[:70] if words else "?"


class PeakRss:
    """Polls a process and its tree in a thread; ``own`` and ``tree`` peaks in bytes."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.own = self.tree = self.largest = self.samples = 0
        self.largest_cmd = ""
        self.at_peak: list[str] = []  # the processes summed at the tree's peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            own = rss(self.pid)
            children = {p: rss(p) for p in descendants(self.pid)}
            tree = own + sum(children.values())
            if children and max(children.values()) > self.largest:
                pid = max(children, key=lambda p: children[p])
                self.largest = children[pid]
                self.largest_cmd = command(pid)
            if tree > self.tree:
                self.at_peak = [f"{command(p)} ({mb(r)})" for p, r in children.items() if r]
            self.own, self.tree = max(self.own, own), max(self.tree, tree)
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def footprint_run(root: Path) -> dict[str, Any]:
    project = root / "digits"
    shutil.copytree(EXAMPLE, project)
    env = dict(
        os.environ, TRAINCHAIN_HOME=str(root / "run-home"), TRAINCHAIN_ENVS_DIR=str(WARM_ENVS)
    )
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainchain", "run", str(project), "--no-tune", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = PeakRss(proc.pid)
    out, err = proc.communicate(timeout=900)
    peak.stop()
    assert proc.returncode in (0, 3), f"trainchain run failed ({proc.returncode}): {err[-2000:]}"
    report = json.loads(out)
    assert report["trials"] and report["trials"][0]["epochs"], "the baseline trained no epoch"
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "own": peak.own,
        "tree": peak.tree,
        "largest": peak.largest,
        "largest_cmd": peak.largest_cmd,
        "at_peak": "; ".join(peak.at_peak),
        "children_maxrss": children,
        "samples": peak.samples,
        "seconds": time.perf_counter() - start,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_tiny_repo(repo: Path) -> str:
    """A git repository with a tiny pure-Python training script (so queued runs are cheap)."""
    repo.mkdir()
    (repo / "train.py").write_text("EPOCHS = 1\nprint('accuracy: 0.9')\n")
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="b",
        GIT_AUTHOR_EMAIL="b@localhost",
        GIT_COMMITTER_NAME="b",
        GIT_COMMITTER_EMAIL="b@localhost",
    )
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "."],
        ["commit", "--quiet", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def footprint_serve(root: Path, deliveries: int) -> dict[str, float]:
    import httpx

    from trainchain.server.testing import github_delivery

    repo = root / "tiny"
    sha = make_tiny_repo(repo)
    env = dict(
        os.environ,
        TRAINCHAIN_HOME=str(root / "serve-home"),
        TRAINCHAIN_ENVS_DIR=str(root / "envs"),
        BENCH_SECRET=SECRET,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "trainchain",
            "projects",
            "add",
            str(repo),
            "--branch",
            "*",
            "--secret-env",
            "BENCH_SECRET",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainchain", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = PeakRss(proc.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/healthz").raise_for_status()
                    break
                except httpx.TransportError as exc:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit(
                            "trainchain serve did not start: "
                            + (proc.stderr.read() if proc.stderr else "")
                        ) from exc
                    time.sleep(0.1)
            idle = rss(proc.pid)
            bodies = [
                github_delivery(
                    {
                        "ref": f"refs/heads/b{n % 5}",
                        "after": sha,
                        "deleted": False,
                        "repository": {"clone_url": str(repo)},
                    },
                    SECRET,
                )
                for n in range(deliveries)
            ]

            def send(item: tuple[bytes, dict[str, str]]) -> tuple[int, float]:
                t = time.perf_counter()
                r = http.post("/hooks/github", content=item[0], headers=item[1])
                return r.status_code, time.perf_counter() - t

            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(send, bodies))
            burst = time.perf_counter() - start
            time.sleep(3)  # let the worker pick up the coalesced runs
            after = rss(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        peak.stop()
    codes = [c for c, _ in results]
    assert codes.count(202) == deliveries, f"answers: {sorted(set(codes))}"
    lat = [t for _, t in results]
    return {
        "idle": idle,
        "own": peak.own,
        "tree": peak.tree,
        "after": after,
        "burst": burst,
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "samples": peak.samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    conditions = machine("keras", "fastapi", "uvicorn")
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        run = footprint_run(Path(tmp))
        serve = footprint_serve(Path(tmp), args.deliveries)
    text = "\n".join(
        [
            "## Controller footprint (`bench/bench_footprint.py`)",
            "",
            f"{conditions}.",
            "",
            "Peak resident memory (RSS from /proc, polled every 20 ms); each measured once.",
            "",
            "| process | controller alone | process tree | notes |",
            "|---|---|---|---|",
            f"| `trainchain run examples/digits-cnn --no-tune` (warm env) | {mb(run['own'])} | "
            f"{mb(run['tree'])} | "
            f"largest single child {mb(run['largest'])} (`{run['largest_cmd']}`; the kernel's "
            "ru_maxrss "
            f"of the largest child: {mb(run['children_maxrss'])}); a sum of RSS counts shared "
            f"pages once per process; children at the tree's peak: {run['at_peak']}; "
            f"{run['seconds']:.0f} s, {run['samples']:.0f} samples |",
            f"| `trainchain serve`, idle | {mb(serve['idle'])} | - | after start-up |",
            f"| `trainchain serve`, burst of {args.deliveries} signed pushes (8 clients, 5 "
            "branches) | "
            f"{mb(serve['own'])} | {mb(serve['tree'])} | burst took {serve['burst']:.2f} s, answer "
            "p50 "
            f"{serve['p50'] * 1000:.0f} ms / p99 {serve['p99'] * 1000:.0f} ms; "
            f"{mb(serve['after'])} 3 s later; "
            "the worker runs the coalesced runs of a tiny script meanwhile |",
        ]
    )
    print(text)
    if not args.no_write:
        write_section("footprint", text)


if __name__ == "__main__":
    main()
