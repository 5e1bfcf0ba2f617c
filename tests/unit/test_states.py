"""The state enums live in ``trainchain.states`` alone and match what the database stores."""

from __future__ import annotations

import enum
import re
from pathlib import Path

import trainchain
from trainchain import states
from trainchain.store import Attempt, Run, StageRun, Trial

SRC = Path(trainchain.__file__).parent


def _default(column: object) -> object:
    return column.default.arg  # type: ignore[attr-defined]


def test_database_defaults_are_enum_values() -> None:
    assert _default(Run.__table__.c.status) == states.RunStatus.QUEUED
    assert _default(StageRun.__table__.c.state) == states.StageState.PENDING
    assert _default(Trial.__table__.c.state) == states.TrialState.RUNNING
    assert _default(Attempt.__table__.c.outcome) == states.OutcomeKind.RUNNING


def test_stored_values_unchanged() -> None:
    # rows written by earlier releases must still read back as members
    assert [s.value for s in states.RunStatus] == [
        "queued",
        "running",
        "succeeded",
        "target_not_reached",
        "failed",
        "superseded",
    ]
    assert {s.value for s in states.TrialState} == {"running", "complete", "pruned", "failed"}
    assert states.StageState("skipped").is_final and not states.StageState("running").is_final


def test_state_enums_are_defined_only_in_states_module() -> None:
    names = [n for n in states.__all__ if isinstance(getattr(states, n), enum.EnumMeta)]
    pattern = re.compile(rf"^class ({'|'.join(names)})\(.*Enum\)", re.M)
    elsewhere = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "states.py" and pattern.search(path.read_text())
    ]
    assert elsewhere == []
