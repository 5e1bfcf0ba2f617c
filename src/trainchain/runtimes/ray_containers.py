"""Containers on Ray nodes: when the operator asks for them (``TRAINCHAIN_RAY_CONTAINERS=1``),
an attempt runs in the environment's hash-tagged image on its node's Docker engine, built there
by the docker runtime's code if missing (under a per-machine lock: nodes sharing an engine
build it once), and started by the docker runtime (same mounts, limits, unprivileged user, no
network).

A container is not a child of the host actor: a watchdog process kills it when the actor's
worker or the node's raylet dies (as the supervisor does for a venv attempt), so a lost node's
training does not go on next to the attempt that replaced it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from trainchain.runtimes.base import Environment, EnvSpec, TrialProcess, TrialSpec
from trainchain.runtimes.local import _file_lock
from trainchain.runtimes.ray_node import PARENT_OF

# Runs with the node's interpreter (the docker SDK is there: trainchain[docker]). Watches the
# actor's worker (its parent) and the raylet (the worker's parent); when either is gone it kills
# the container. It ends by itself when the container does.
WATCHDOG = (
    """\
import sys, time
import docker
parent, container_id = int(sys.argv[1]), sys.argv[2]
"""
    + PARENT_OF
    + """\
raylet = parent_of(parent)
client = docker.from_env()
while True:
    time.sleep(0.5)
    try:
        container = client.containers.get(container_id)
    except docker.errors.NotFound:
        break
    if container.status not in ("created", "running", "restarting", "paused"):
        break
    if parent_of(parent) is None or (raylet is not None and parent_of(raylet) is None):
        container.remove(force=True, v=True)
        break
client.close()
"""
)


def wanted() -> bool:
    """The operator's choice: containers on the nodes instead of venvs."""
    from trainchain.settings import operator_settings

    return operator_settings().ray_containers


def provision_image(docker: Any, spec: EnvSpec, say: Any) -> Environment:
    """The hash-tagged image for ``spec`` on this node's engine, built under a lock when
    missing (several nodes of one machine share one engine: one build)."""
    locks = Path(tempfile.gettempdir()) / "trainchain-image-locks"
    with _file_lock(locks / f"{spec.key()}.lock"):
        env: Environment = docker.provision(spec, say)
    return env


def start_container(
    docker: Any, env: dict[str, Any], trial: TrialSpec, log: io.TextIOBase
) -> TrialProcess:
    from trainchain.runtimes.ray_node import _env_spec

    def say(line: str) -> None:
        log.write(line + "\n")
        log.flush()

    image = provision_image(docker, _env_spec(env["spec"]), say)
    log.close()  # the container's output is appended by the docker runtime from here on
    process: TrialProcess = docker.start(image, trial)
    subprocess.Popen(  # noqa: S603 - our own watchdog, our own interpreter
        [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(process.id)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process
