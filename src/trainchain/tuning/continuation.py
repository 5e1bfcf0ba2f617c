"""Continue the best trial instead of retraining it, when the budget is about to run out.

A trial that was still improving at the last of its epochs (its best epoch is its last, and
fit did not stop early) is the one most likely to reach the target with more epochs. The last
trial of the budget then trains it on from its own finished checkpoint with twice the epochs
(the agent's ``keras_resume.load_to_extend`` loads those weights and sets ``initial_epoch``),
instead of asking the sampler for one more trial that starts from epoch 1.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from trainchain.trials.workspace import trial_dirs


def still_improving(info: dict[str, Any], epochs_run: int) -> bool:
    """The trial's best epoch was its last one and fit did not stop early."""
    best = info.get("best") or {}
    return bool(epochs_run) and best.get("epoch") == epochs_run and not info.get("early_stop")


def continued_params(params: dict[str, Any], pinned: dict[str, int]) -> dict[str, Any] | None:
    """The best trial's parameters with its pinned epoch parameters doubled; None when it did
    not train with the pinned epochs (nothing to extend)."""
    if not pinned or any(params.get(name) != top for name, top in pinned.items()):
        return None
    return {**params, **{name: 2 * top for name, top in pinned.items()}}


def copy_checkpoints(run_dir: Path, source: int, dest: int) -> None:
    """Give trial ``dest`` the finished checkpoints (weights, best epoch) of trial ``source``."""
    src = trial_dirs(run_dir, source).checkpoints
    if src.is_dir():
        shutil.copytree(src, trial_dirs(run_dir, dest).checkpoints, dirs_exist_ok=True)
