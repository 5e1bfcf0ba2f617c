"""The tuning engine's parts below the tune stage: pruners and sampler set-up for small budgets.

``pruners``: a guard that stops dead trials (at chance level, NaN) in front of Optuna's
successive halving / Hyperband / median pruners; ``budget``: epochs as the resource (the epoch
parameter pinned to its top, rungs from it) and TPE's start-up count from the trial budget;
``written``: the baseline as a complete point of the space, and knobs that cannot apply;
``diagnosis``: a regularised probe after a baseline that overfits; ``sampling``: the space
as Optuna distributions and the sampler by name.
"""

from trainchain.tuning import diagnosis, sampling
from trainchain.tuning.budget import epoch_resource, pin_epochs, startup_trials
from trainchain.tuning.pruners import ChanceLevelPruner, dead_curve, make_pruner, report_baseline
from trainchain.tuning.written import baseline_facts, baseline_point, inapplicable_knobs

__all__ = [
    "ChanceLevelPruner",
    "baseline_facts",
    "baseline_point",
    "diagnosis",
    "dead_curve",
    "epoch_resource",
    "inapplicable_knobs",
    "make_pruner",
    "pin_epochs",
    "report_baseline",
    "sampling",
    "startup_trials",
]
