"""Shared by the benchmarks: machine description, timing, `trainchain` runs, docs sections.

Every section states the machine, the versions, the date and the load average (``machine()``),
so a figure is never read without the conditions it was measured under.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Written by the scripts in `bench/` (`make bench-quick`, `make bench`); never edited by hand.\n"
)
SHARED_DATA = ROOT.parent / "shared" / "data"
# Virtualenvs the test suite keeps warm; benchmarks that measure training (not provisioning)
# reuse them so a figure is not dominated by a one-off pip install.
WARM_ENVS = Path(
    os.environ.get("TRAINCHAIN_ENVS_DIR") or Path.home() / ".cache" / "trainchain-test-envs"
)


def versions(*dists: str) -> str:
    """Installed versions of trainchain and ``dists`` (from metadata: imports nothing heavy)."""
    out = []
    for name in ("trainchain", *dists):
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def machine(*dists: str) -> str:
    """Cores, memory, CPU, Python, versions, date and time, load average (1/5/15 min)."""
    cpu, memory = platform.processor() or "unknown CPU", "unknown memory"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{os.cpu_count()} cores, {memory}, {cpu}; Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {versions(*dists)}; "
        f"measured {now} at load average {load()} (1/5/15 min; the machine is shared)"
    )


def medians(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): an observed value, never an interpolation."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def ratio(a: float, b: float) -> str:
    if not b:
        return "n/a"
    r = a / b
    return f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x"


@dataclass
class CliRun:
    """One `trainchain run --json`: its report, wall time and exit code."""

    report: dict[str, Any] | None
    seconds: float
    exit_code: int
    stderr: str

    @property
    def trials(self) -> list[dict[str, Any]]:
        return list((self.report or {}).get("trials") or [])

    @property
    def epochs(self) -> int:
        """Epochs trained over all trials (pruned trials count what they ran)."""
        return sum(len(t.get("epochs") or []) for t in self.trials)

    @property
    def best(self) -> float | None:
        best = (self.report or {}).get("best") or {}
        return best.get("value")


def trainchain_run(
    args: Sequence[str],
    home: Path,
    timeout: float | None = None,
    envs: Path | None = WARM_ENVS,
    extra_env: dict[str, str] | None = None,
) -> CliRun:
    """``trainchain run ARGS --json`` with its own TRAINCHAIN_HOME; never raises on exit codes."""
    env = dict(os.environ, TRAINCHAIN_HOME=str(home), **(extra_env or {}))
    if envs is not None:
        env["TRAINCHAIN_ENVS_DIR"] = str(envs)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "trainchain", "run", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    report = None
    text = proc.stdout.strip()
    if text.startswith("{"):
        report = json.loads(text)
    elif "{" in text:  # progress lines may precede the JSON object
        report = json.loads(
            text[text.index("\n{") + 1 :] if "\n{" in text else text[text.index("{") :]
        )
    return CliRun(report, seconds, proc.returncode, proc.stderr[-3000:])


def write_section(name: str, text: str) -> None:
    """Replace the section between <!-- bench:NAME --> markers (append it when absent)."""
    import fcntl

    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    # benchmarks run side by side (the long ones in the background): one writer at a time
    with open(Path(tempfile.gettempdir()) / "trainchain-benchmarks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = DOC.read_text() if DOC.exists() else HEADER
        if start in doc and end in doc:
            doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end) :]
        else:
            doc = doc.rstrip() + "\n\n" + block + "\n"
        tmp = DOC.with_name(DOC.name + ".tmp")
        tmp.write_text(doc)
        tmp.replace(DOC)


LOCAL_BASE_IMAGE = "trainchain/base:bookworm"  # built by scripts/base-image.sh; no Docker Hub here
CA_CERTS = Path("/usr/local/share/ca-certificates")


def docker_runtime() -> tuple[Any, str]:
    """(DockerRuntime, "") when an engine answers, else (None, why). With
    TRAINCHAIN_REQUIRE_SERVICES=1 a missing engine is an error, as in the tests."""
    from trainchain.errors import TrainchainError
    from trainchain.runtimes.docker import DockerRuntime, connect
    from trainchain.runtimes.images import BuildOptions

    try:
        client = connect(timeout=30)
    except TrainchainError as exc:
        if os.environ.get("TRAINCHAIN_REQUIRE_SERVICES") == "1":
            raise
        return None, exc.message
    base = os.environ.get("TRAINCHAIN_BASE_IMAGE") or LOCAL_BASE_IMAGE
    certs = (
        Path(os.environ["TRAINCHAIN_CA_CERTS"])
        if os.environ.get("TRAINCHAIN_CA_CERTS")
        else CA_CERTS
    )
    options = BuildOptions(
        base_image=base,
        ca_certs=certs if any(certs.glob("*.crt")) else None,
        pip_index_url=os.environ.get("TRAINCHAIN_PIP_INDEX_URL") or None,
    )
    return DockerRuntime(client, options), ""
