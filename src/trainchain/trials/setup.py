"""What a trial runs with and what it ends with: the run's ``TrialSetup``, a budget's
``Deadline``, the ``TrialResult``, and each trial's seed (recorded on the trial so every attempt
of it, and every controller resuming it, uses the same one)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainchain.runtimes.base import Resources
from trainchain.states import TrialState
from trainchain.store import Trial

Progress = Callable[[dict[str, Any]], None]
# truthy = stop (prune) this trial now; a string says why. NaN/inf values are passed too.
EpochHook = Callable[[int, dict[str, float]], bool | str | None]


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a run shares."""

    run_id: str
    run_dir: Path
    snapshot: Path
    entrypoint: str
    args: tuple[str, ...] = ()
    data: dict[str, Path] = field(default_factory=dict)
    metric: str = "auto"
    goal: str = "maximize"
    trial_timeout: float | None = None
    stall_timeout: float | None = None
    max_restarts: int = 3
    resources: Resources = Resources()
    restart_backoff: float = 1.0
    datasets: Path | None = None  # the dataset cache, when the script downloads datasets
    seed: int | None = None  # seed: of trainchain.yaml; each trial's seed derives from it
    target: float | None = None  # the agent ends a fit whose validation metric reaches it
    preload: tuple[str, ...] = ()  # frameworks a warm start imports ahead (``agent.warm``)
    tuned: bool = False  # tuning trials follow the baseline: trial 1 is prepared while it trains
    parallel: int = 1  # tuning trials at once: that many are prepared ahead
    tuned_resources: Resources | None = None  # the tuning trials', when not ``resources``


@dataclass(frozen=True)
class Deadline:
    """When a running trial is stopped because a budget is spent (``time.monotonic()``), and
    which budget: "the tuning budget (--timeout 600s)". Such a trial is not a failure: it keeps
    its best epoch so far (value and model) and completes."""

    at: float
    budget: str

    @property
    def reason(self) -> str:
        return f"stopped at {self.budget}"


@dataclass
class TrialResult:
    number: int
    state: TrialState
    params: dict[str, Any]
    value: float | None = None
    metric_name: str | None = None
    metric_source: str | None = None
    model_path: str | None = None
    error: str | None = None
    epochs: int = 0


def new_seed(setup: TrialSetup, number: int) -> int:
    """A trial's seed: ``seed:`` + trial number when configured, else drawn from the run and
    the trial number (stable across restarts and controller resumes, different per trial)."""
    if setup.seed is not None:
        return (setup.seed + number) % 2**31
    digest = hashlib.sha256(f"{setup.run_id}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def trial_seed(trial: Trial, setup: TrialSetup) -> int:
    """The seed recorded on the trial (every attempt of it gets the same one)."""
    seed = (trial.info or {}).get("seed")
    return int(seed) if isinstance(seed, int) else new_seed(setup, trial.number)
