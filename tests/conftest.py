"""Every test gets its own TRAINCHAIN_HOME (database, runs, registry); virtualenvs are shared
across tests and sessions (TRAINCHAIN_ENVS_DIR) because building one takes minutes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import require_ray

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def trainchain_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "tc-home"
    monkeypatch.setenv("TRAINCHAIN_HOME", str(home))
    monkeypatch.delenv("TRAINCHAIN_DB_URL", raising=False)
    envs = os.environ.get("TRAINCHAIN_ENVS_DIR") or str(
        Path.home() / ".cache" / "trainchain-test-envs"
    )
    monkeypatch.setenv("TRAINCHAIN_ENVS_DIR", envs)
    return home


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real Ray cluster for the session: a head without CPUs and two one-CPU worker nodes, each
    its own raylet (tests/ray_cluster.py); stopped at the end of the session."""
    require_ray()
    from tests.ray_cluster import local_cluster

    with local_cluster(tmp_path_factory.mktemp("ray-cluster")) as cluster:
        yield cluster
        with contextlib.suppress(Exception):  # this process's driver, if a test connected one
            import ray

            ray.shutdown()
