"""The places trainchain reaches past Optuna's public API, kept together (checked against
the installed Optuna by ``tests/unit/test_optuna_compat.py``).

Optuna has no public way to (1) ask whether a distribution contains a value, which warm start
needs to drop stale parameters before ``enqueue_trial``, (2) find a trial's storage id from
its number, which resuming a study needs to reopen a trial that was asked but not told, and
(3) tell a trial as ``optimize`` does, which a spent grid sampler needs under ask/tell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna


def distribution_contains(distribution: optuna.distributions.BaseDistribution, value: Any) -> bool:
    """True if ``value`` is a valid choice of ``distribution`` (in range, on the step grid,
    one of the categories); False for a value of the wrong kind."""
    try:
        internal = distribution.to_internal_repr(value)
    except (TypeError, ValueError):
        return False
    return bool(distribution._contains(internal))


def tell_as_in_optimize(
    study: optuna.Study, trial: optuna.Trial, *args: Any, **kwargs: Any
) -> None:
    """``study.tell`` as inside ``optimize``: a grid sampler calls ``study.stop()`` from
    ``after_trial`` once its grid is spent, which raises outside ``optimize`` (ask/tell) and
    left the trial unfinished; the search notices the spent grid itself (repeated asks)."""
    local = study._thread_local
    before = getattr(local, "in_optimize_loop", False)
    local.in_optimize_loop = True
    try:
        study.tell(trial, *args, **kwargs)
    finally:
        local.in_optimize_loop = before


def trial_id(study: optuna.Study, number: int) -> int:
    """The storage id of trial ``number`` of ``study``."""
    storage = study._storage
    return int(storage.get_trial_id_from_study_id_trial_number(study._study_id, number))
