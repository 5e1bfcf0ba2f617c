from typing import Any

import optuna
import pytest

from trainchain.tuning.budget import Budget
from trainchain.tuning.budget import budget_spent as _budget_spent
from trainchain.tuning.sampling import grid_space, to_distributions

SPACE: dict[str, dict[str, Any]] = {
    "EPOCHS": {"type": "int", "low": 1, "high": 20},
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "use_bn": {"type": "bool"},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
}


def test_distributions_match_the_space() -> None:
    d = to_distributions(SPACE)
    assert d["EPOCHS"] == optuna.distributions.IntDistribution(1, 20)
    assert d["lr"].log and d["lr"].low == 1e-4
    assert d["use_bn"].choices == (False, True) and d["act"].choices == ("relu", "tanh")


def test_grid_space_covers_the_bounds() -> None:
    grid = grid_space(SPACE)
    assert grid["EPOCHS"][0] == 1 and grid["EPOCHS"][-1] <= 20
    assert grid["lr"][0] == pytest.approx(1e-4) and grid["lr"][-1] == pytest.approx(1e-1)
    assert grid["act"] == ["relu", "tanh"]


def test_budget_counts_trials_time_and_epochs() -> None:
    assert _budget_spent(Budget(3), 3, 0, 0) == "max_trials (3) spent"
    assert _budget_spent(Budget(9, timeout=10), 1, 0, 11) == "timeout (10s) spent"
    assert _budget_spent(Budget(9, max_epochs_total=30), 1, 30, 0) == "max_epochs_total (30) spent"
    assert _budget_spent(Budget(9, timeout=10, max_epochs_total=30), 1, 29, 9) is None
