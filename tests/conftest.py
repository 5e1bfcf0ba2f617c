"""Every test gets its own TRAINCHAIN_HOME (database, runs, registry); virtualenvs are shared
across tests and sessions (TRAINCHAIN_ENVS_DIR) because building one takes minutes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
