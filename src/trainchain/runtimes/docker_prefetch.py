"""The download container: one short-lived container that fills the dataset cache for Docker
trials, which have no network (``dataset_replay``).

It is the only container trainchain starts with network, so it holds nothing of the user's:
its command is trainchain's replay module (``trainchain.agent.fetch_replay``, from the staged
agent mounted read-only), the working copy is not mounted, and the one writable mount is the
dataset cache, at the path the trials read it. It runs as the caller's uid with every
capability dropped, no-new-privileges and the trials' memory and pids limits. The operator's
mirror and proxy settings reach it; nothing else of the host's environment does.

It carries its run's label (``trainchain.run``) besides ``trainchain.prefetch``: a controller
that dies mid-replay leaves it running, with network, and nothing else would ever remove it.
The resumed run replays its downloads again and first removes the download containers of the
run that are still there (``remove_left_behind``), as a trial's next attempt removes the
containers of its earlier ones. It is no trial's: trial-container queries skip it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from trainchain.agent import contract
from trainchain.runtimes.docker_container import AGENT_DIR, DATASETS, DEFAULT_LIMITS, LABEL_RUN
from trainchain.runtimes.staging import agent_dir
from trainchain.settings import operator_settings

log = logging.getLogger(__name__)

LABEL_PREFETCH = "trainchain.prefetch"  # with trainchain.run: its run's, but no trial's
REPLAY_SECONDS = 6 * 3600  # a large dataset over a slow link; a hung one ends here
OUTPUT_CHARS = 4000
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


def create_args(
    image: str, command: list[str], cache: Path, user: str, run_id: str
) -> dict[str, Any]:
    """What ``containers.create`` gets for a replay (the regression test reads it)."""
    from docker.types import Mount

    environment = {
        "PYTHONPATH": AGENT_DIR,
        "PYTHONUNBUFFERED": "1",
        "HOME": "/tmp/home",
        **contract.dataset_environ(DATASETS, operator_settings().datasets_mirror),
        **{k: v for k, v in os.environ.items() if k in PROXY_VARIABLES},
    }
    memory = DEFAULT_LIMITS["memory"]
    return {
        "image": image,
        "entrypoint": command[:1],
        "command": command[1:],
        "init": True,
        "name": f"trainchain-prefetch-{secrets.token_hex(4)}",
        "labels": {LABEL_PREFETCH: "1", LABEL_RUN: run_id},
        "environment": environment,
        "mounts": [
            Mount(AGENT_DIR, str(agent_dir()), type="bind", read_only=True),
            Mount(DATASETS, str(cache), type="bind", read_only=False),
        ],
        "working_dir": "/tmp",
        "user": user,
        "mem_limit": memory,
        "memswap_limit": memory,
        "pids_limit": int(DEFAULT_LIMITS["pids"]),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "privileged": False,
    }


def run_replay(
    client: Any, image: str, command: list[str], cache: Path, run_id: str
) -> tuple[int, str]:
    """Run the replay of run ``run_id`` to its end (after removing what an earlier controller
    of the run left); its exit code and the tail of its output."""
    import requests

    remove_left_behind(client, run_id)
    cache.mkdir(parents=True, exist_ok=True)
    user = f"{os.getuid()}:{os.getgid()}"  # the cache's owner, as the controller's prefetch
    container = client.containers.create(**create_args(image, command, cache, user, run_id))
    try:
        container.start()
        try:
            code = int(container.wait(timeout=REPLAY_SECONDS).get("StatusCode", 1))
        except requests.RequestException:
            container.kill()
            code = -1
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)
    return code, output[-OUTPUT_CHARS:]


def remove_left_behind(client: Any, run_id: str) -> None:
    """Remove the download containers of ``run_id`` still there: a controller of the run died
    during a replay (its own are removed as they end), so one may still be downloading, with
    network, into the cache the new replay fills."""
    import docker.errors

    labels = [LABEL_PREFETCH, f"{LABEL_RUN}={run_id}"]
    for container in client.containers.list(all=True, filters={"label": labels}):
        log.warning(
            "removing download container %s (%s) of run %s: its controller died during the replay",
            container.name,
            container.status,
            run_id,
        )
        try:
            container.remove(force=True, v=True)
        except docker.errors.APIError as exc:  # gone meanwhile, or being removed
            log.debug("remove %s: %s", container.short_id, exc)
