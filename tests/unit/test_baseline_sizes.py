"""The tune stage reads the sizes the baseline saw (the agent's ``data`` event) to finish the
ranges that depend on them (a steps-like parameter up to one full pass)."""

from __future__ import annotations

import json
from pathlib import Path

from trainchain.space import param_space, resolve_space
from trainchain.stages.context import run_dir
from trainchain.trials.workspace import trial_dirs
from trainchain.tuning.written import baseline_data_sizes


def _events(path: Path, *events: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_the_latest_attempt_with_a_known_length_wins(tmp_path: Path) -> None:
    assert baseline_data_sizes(run_dir("sizes")) is None
    dirs = trial_dirs(run_dir("sizes"), 0)
    _events(dirs.events(1), {"type": "data", "call": 1, "train_batches": 100, "batch_size": 8})
    _events(
        dirs.events(2),
        {"type": "start"},
        {"type": "data", "call": 1, "train_batches": None},
        {"type": "data", "call": 2, "train_batches": 250, "batch_size": 32},
    )
    _events(dirs.events(10), {"type": "start"})  # attempt 10 sorts after 2, not before it
    sizes = baseline_data_sizes(run_dir("sizes"))
    assert sizes is not None and sizes["train_batches"] == 250
    spec = param_space(
        {
            "name": "steps",
            "type": "int",
            "source": "prompt",
            "default": None,
            "flows_into": ["keras.fit.steps_per_epoch"],
        }
    )
    assert spec is not None
    space, _ = resolve_space({"steps": spec}, sizes)
    assert space["steps"]["high"] == 250
