"""Run small real scripts through ``python -m trainchain.agent`` and read their events.

The agent is staged the way the controller stages it (``trainchain/__init__.py`` +
``trainchain/agent/`` only, first on PYTHONPATH), so a stray import of the rest of trainchain
fails here exactly as it would in a trial container.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[3] / "src" / "trainchain"


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]
    workdir: Path

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    def metrics(self, source: str) -> dict[str, float]:
        return {e["name"]: e["value"] for e in self.of("metric") if e["source"] == source}

    def params(self) -> dict[str, tuple[Any, str]]:
        return {e["name"]: (e["value"], e["how"]) for e in self.of("param")}

    @property
    def end(self) -> dict[str, Any]:
        ends = self.of("end")
        assert len(ends) == 1, f"expected one end event, got {ends}\nstderr:\n{self.stderr}"
        return ends[0]


@pytest.fixture(scope="session")
def staged_agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("staged")
    (root / "trainchain" / "agent").mkdir(parents=True)
    shutil.copyfile(SRC / "__init__.py", root / "trainchain" / "__init__.py")
    for path in (SRC / "agent").glob("*.py"):
        shutil.copyfile(path, root / "trainchain" / "agent" / path.name)
    return root


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def agent_env(staged: Path, workdir: Path, params: dict[str, Any] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINCHAIN_")}
    env.update(
        PYTHONPATH=str(staged),
        TRAINCHAIN_EVENTS=str(workdir / "events.jsonl"),
        TRAINCHAIN_OUTPUT_DIR=str(workdir / "output"),
        TRAINCHAIN_CHECKPOINT_DIR=str(workdir / "checkpoints"),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    if params is not None:
        env["TRAINCHAIN_PARAMS"] = json.dumps(params)
    return env


RunAgent = Callable[..., AgentRun]


@pytest.fixture
def run_agent(staged_agent: Path, tmp_path: Path) -> RunAgent:
    def run(
        script: str,
        *args: str,
        params: dict[str, Any] | None = None,
        name: str = "train.py",
        files: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
        bare: bool = False,
        timeout: float = 120,
        python: str = sys.executable,
    ) -> AgentRun:
        workdir = tmp_path / "project"
        workdir.mkdir(exist_ok=True)
        (workdir / "events.jsonl").unlink(missing_ok=True)  # each run reads only its own
        (workdir / name).write_text(textwrap.dedent(script) if script else "")
        for rel, text in (files or {}).items():
            (workdir / rel).write_text(textwrap.dedent(text))
        env = agent_env(staged_agent, workdir, params)
        if bare:  # standalone: no controller, no TRAINCHAIN_* variables at all
            env = {k: v for k, v in env.items() if not k.startswith("TRAINCHAIN_")}
        env.update(extra_env or {})
        proc = subprocess.run(
            [python, "-m", "trainchain.agent", name, *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return AgentRun(
            proc.returncode,
            proc.stdout,
            proc.stderr,
            read_events(workdir / "events.jsonl"),
            workdir,
        )

    return run
