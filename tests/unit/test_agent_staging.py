"""The staged agent is compiled once, so trials (read-only mounts, PYTHONDONTWRITEBYTECODE) do
not compile it at every start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainchain.runtimes.staging import agent_dir


def test_staged_agent_is_compiled_and_imported_from_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINCHAIN_HOME", str(tmp_path))
    staged = agent_dir()
    sources = sorted((staged / "trainchain" / "agent").glob("*.py"))
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
        assert pyc.is_file(), f"{source.name} was not compiled"
    code = "import trainchain.agent.runner as r; print(r.__cached__)"
    env = {**os.environ, "PYTHONPATH": str(staged), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-v", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    # -v says "code object from '<...>.pyc'" for each module read from bytecode
    runner_pyc = f"{staged}/trainchain/agent/__pycache__/runner.{sys.implementation.cache_tag}.pyc"
    assert f"code object from '{runner_pyc}'" in out.stderr
    assert agent_dir() == staged  # staged once per content
