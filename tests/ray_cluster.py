"""A real multi-node Ray cluster on this machine: a head (no CPUs, so trials land on workers) and
worker nodes of one CPU each, every node its own `ray start --block` process with its own raylet.

Used by the session fixture ``ray_cluster`` (tests/conftest.py) and by bench/bench_ray.py.
Always ``--node-ip-address 127.0.0.1`` (else Ray advertises the outward interface and nodes
cannot reach each other here) and a GCS port outside Ray's worker ports (10002-19999).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Ray's GCS declares a node dead after period x threshold without a health reply (default 3 s x
# 5): 1 s x 5 here, so a killed raylet is noticed in seconds (documented in docs/cluster.md).
# A busy machine (CI, shared cores) needs more than the default 30 s for a raylet to register.
HEALTH = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "5",
    "RAY_raylet_start_wait_time_s": "90",
}


PORTS = ("object-manager-port", "metrics-export-port", "runtime-env-agent-port")


def _free_port() -> int:
    """A free port outside Ray's worker range (the kernel's ephemeral range starts at 32768)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not 10002 <= port <= 19999:
            return port
    raise RuntimeError("no free port outside 10002-19999")


def ray_command() -> list[str]:
    ray = Path(sys.executable).parent / "ray"
    return [str(ray)] if ray.exists() else [sys.executable, "-m", "ray.scripts.scripts"]


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    home: Path
    manager_port: int
    log: Path

    def _raylet(self) -> tuple[int, str] | None:
        """(pid, state) of the raylet started by this node's ``ray start`` (a child of it)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                text = stat.read_text()
                name = text[text.index("(") + 1 : text.rindex(")")]
                state, ppid = text[text.rindex(")") + 2 :].split()[:2]
                if int(ppid) == self.process.pid and name.startswith("raylet"):
                    return int(stat.parent.name), state
        return None

    def raylet_pid(self) -> int:
        found = self._raylet()
        if found is None:
            raise LookupError(f"no raylet under ray start pid {self.process.pid} ({self.name})")
        return found[0]

    def raylet_crashed(self) -> bool:
        found = self._raylet()
        return found is not None and found[1] == "Z"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # `ray start --block` stops its node
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class Cluster:
    address: str
    root: Path
    head: Node
    workers: list[Node] = field(default_factory=list)

    def node_env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(HEALTH)
        env["PYTHONPATH"] = str(SRC)  # the nodes import this checkout's trainchain
        env["TRAINCHAIN_HOME"] = str(home)  # each node its own snapshots and attempt files
        # Venvs: one cache for all nodes of this machine (as tests/conftest.py shares it), so the
        # Keras environment is built once per machine, under the local runtime's lock.
        env["TRAINCHAIN_ENVS_DIR"] = os.environ.get("TRAINCHAIN_ENVS_DIR") or str(
            Path.home() / ".cache" / "trainchain-test-envs"
        )
        return env

    def add_worker(
        self, name: str, extra: tuple[str, ...] = (), environ: dict[str, str] | None = None
    ) -> Node:
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        log = self.root / f"{name}.log"
        cmd = [
            *ray_command(),
            "start",
            "--address",
            self.address,
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            "1",
            "--node-manager-port",
            str(port),
            # Two raylets on one machine: every port explicit (random defaults can collide).
            *(f"--{name}={_free_port()}" for name in PORTS),
            *extra,  # e.g. --num-gpus 1 --resources '{"accel": 2}'
            "--block",
        ]
        with open(log, "wb") as out:
            process = subprocess.Popen(
                cmd,
                env={**self.node_env(home), **(environ or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        node = Node(name, process, home, port, log)
        self.workers.append(node)
        return node

    def start_worker(
        self,
        name: str,
        tries: int = 3,
        extra: tuple[str, ...] = (),
        environ: dict[str, str] | None = None,
    ) -> Node:
        """Add a worker and wait for it; on a busy machine a raylet sometimes dies while it
        starts (an agent too slow to report its port): try again with fresh ports."""
        for attempt in range(1, tries + 1):
            node = self.add_worker(name, extra, environ)
            try:
                wait_started(node)
                return node
            except RuntimeError:
                node.stop()
                self.workers.remove(node)
                if attempt == tries:
                    raise
        raise AssertionError("unreachable")

    def node_of(self, node_id: str) -> Node:
        """The worker whose raylet has Ray node id ``node_id``."""
        import ray

        if not ray.is_initialized():  # a test whose runs were CLI subprocesses
            ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
        ports = {n["NodeID"]: n["NodeManagerPort"] for n in ray.nodes()}  # type: ignore[no-untyped-call]
        port = ports.get(node_id)
        for node in self.workers:
            if node.manager_port == port:
                return node
        raise LookupError(f"Ray node {node_id} is not one of the workers")

    def stop(self) -> None:
        for node in [*self.workers, self.head]:
            node.stop()


def wait_started(node: Node, timeout: float = 300) -> None:
    """Wait until the node's ``ray start`` reports it registered with the GCS ("Ray runtime
    started."): read from its log, so a busy machine is not loaded further by probe drivers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = node.log.read_text(errors="replace") if node.log.exists() else ""
        if "Ray runtime started" in text:
            return
        if node.process.poll() is not None or node.raylet_crashed():
            raise RuntimeError(f"ray start of {node.name} failed:\n{text[-3000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"{node.name} did not start within {timeout:g}s")


def _start_head(root: Path, tries: int = 3) -> Cluster:
    """The head node (no CPUs), tried again with a fresh port if its raylet dies starting."""
    home = root / "head"
    home.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, tries + 1):
        port = _free_port()
        head = Node("head", None, home, 0, root / f"head-{attempt}.log")  # type: ignore[arg-type]
        cluster = Cluster(f"127.0.0.1:{port}", root, head)
        cmd = [
            *ray_command(),
            "start",
            "--head",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--num-cpus",
            "0",
            "--include-dashboard",
            "false",
            "--block",
        ]
        with open(head.log, "wb") as out:
            head.process = subprocess.Popen(
                cmd, env=cluster.node_env(home), stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_started(head)  # workers joining a head that is not up yet give up
            return cluster
        except RuntimeError:
            head.stop()
            if attempt == tries:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def local_cluster(root: Path, workers: int = 2) -> Iterator[Cluster]:
    """Head + ``workers`` one-CPU nodes, stopped (SIGTERM to every ``--block``) on exit."""
    root.mkdir(parents=True, exist_ok=True)
    cluster = _start_head(root)
    try:
        for i in range(workers):  # one at a time: concurrent joins time out on a busy machine
            cluster.start_worker(f"worker{i + 1}")
        yield cluster
    finally:
        cluster.stop()
