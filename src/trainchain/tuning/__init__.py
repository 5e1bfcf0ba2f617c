"""The tuning engine's parts below the tune stage: pruners and sampler set-up for small budgets.

``pruners``: a guard that stops dead trials (at chance level, NaN) in front of Optuna's
successive halving / Hyperband / median pruners; ``budget``: epochs as the resource (the epoch
parameter pinned to its top, rungs from it) and TPE's start-up count from the trial budget.
"""

from trainchain.tuning.budget import epoch_resource, pin_epochs, startup_trials
from trainchain.tuning.pruners import ChanceLevelPruner, dead_curve, make_pruner, report_baseline

__all__ = [
    "ChanceLevelPruner",
    "dead_curve",
    "epoch_resource",
    "make_pruner",
    "pin_epochs",
    "report_baseline",
    "startup_trials",
]
