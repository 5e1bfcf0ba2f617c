"""Helpers shared by the runtime contract suite and the Docker/image integration tests."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.services import require, require_docker
from trainchain.runtimes.base import Resources, TrialSpec

DEFAULT_BASE_IMAGE = "trainchain/base:bookworm"


def require_engine() -> None:
    """Skip locally / fail in CI without a Docker engine."""
    require_docker()


@contextlib.contextmanager
def docker_client() -> Iterator[Any]:
    """A client of a running engine, closed afterwards."""
    require_engine()
    import docker

    with contextlib.closing(docker.from_env(timeout=300)) as client:
        yield client


def build_options() -> Any:
    """Build options for tests: ``TRAINCHAIN_BASE_IMAGE`` (default the debootstrapped base) and
    ``TRAINCHAIN_CA_CERTS`` when set. The base image must exist: no registry is reachable."""
    from trainchain.runtimes.images import BuildOptions

    base = os.environ.get("TRAINCHAIN_BASE_IMAGE") or DEFAULT_BASE_IMAGE
    import docker.errors

    with docker_client() as client:
        try:
            client.images.get(base)
            present = True
        except docker.errors.ImageNotFound:
            present = False
    require(present, f"base image {base} is absent: run scripts/base-image.sh")
    certs = os.environ.get("TRAINCHAIN_CA_CERTS")
    wheels = os.environ.get("TRAINCHAIN_WHEELS")
    return BuildOptions(
        base_image=base,
        ca_certs=Path(certs) if certs else None,
        wheels=Path(wheels) if wheels else None,
    )


def trial_spec(root: Path, workdir: Path, **overrides: Any) -> TrialSpec:
    """A ``TrialSpec`` whose host directories all live under ``root``."""
    fields: dict[str, Any] = {
        "run_id": "contract",
        "trial": 1,
        "attempt": 1,
        "workdir": workdir,
        "entrypoint": "train.py",
        "output_dir": root / "output",
        "checkpoint_dir": root / "checkpoints",
        "events_path": root / "events" / "events.jsonl",
        "log_path": root / "logs" / "trial.log",
        "resources": Resources(),
    }
    fields.update(overrides)
    return TrialSpec(**fields)


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def metric_events(path: Path) -> dict[str, float]:
    return {e["name"]: e["value"] for e in read_events(path) if e.get("type") == "metric"}
