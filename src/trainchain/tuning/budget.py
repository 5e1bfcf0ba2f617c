"""A search's budget, epochs as the resource, and how much of a small budget goes to random
start-up trials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainchain.space import kind_of

MULTI_FIDELITY = ("asha", "hyperband")  # pruners whose resource is the epoch


def pin_epochs(
    space: dict[str, dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """(the space without its epoch parameters, each of them set to its top).

    Under successive halving the epoch count is the resource, not a choice: every trial may
    train up to the top and the pruner's rungs, the chance-level guard and early stop on a
    plateau decide how many epochs it really gets. Searching it as well would let the sampler
    buy cheap, short trials that can never reach the target.
    """
    rest, pinned = {}, {}
    for name, dim in space.items():
        if dim.get("type") == "int" and kind_of(name.removeprefix("keras.")) == "epochs":
            pinned[name] = int(dim["high"])
        else:
            rest[name] = dim
    return rest, pinned


def epoch_resource(pinned: dict[str, int], baseline_epochs: int) -> int | None:
    """The most epochs a trial trains: the pinned top, else what the baseline ran."""
    if pinned:
        return max(pinned.values())
    return baseline_epochs or None


def startup_trials(max_trials: int) -> int:
    """TPE's random start-up trials: a quarter of the tuning trials, 2..10.

    Optuna's default (10) spends a 9-trial budget on random search alone; 2 are the fewest
    from which its density model says anything. Warm-start trials count among them.
    """
    tuning = max(0, max_trials - 1)  # the budget includes the baseline
    return max(2, min(10, round(tuning / 4)))


def min_resource(resource: int | None, reduction_factor: int) -> int | None:
    """The first rung: the top divided by reduction_factor squared (3 rungs), 1 at least."""
    if not resource:
        return None
    return max(1, resource // (reduction_factor**2))


@dataclass(frozen=True)
class Budget:
    """What a search may spend; whichever runs out first ends it."""

    max_trials: int  # including the baseline
    timeout: float | None = None
    max_epochs_total: int | None = None


def budget_spent(budget: Budget, trials: int, epochs: int, elapsed: float) -> str | None:
    """Which part of the budget is spent, or None."""
    if trials >= budget.max_trials:
        return f"max_trials ({budget.max_trials}) spent"
    if budget.timeout is not None and elapsed >= budget.timeout:
        return f"timeout ({budget.timeout:g}s) spent"
    if budget.max_epochs_total is not None and epochs >= budget.max_epochs_total:
        return f"max_epochs_total ({budget.max_epochs_total}) spent"
    return None
