"""The search space as Optuna sees it: distributions, a grid, and the sampler by name."""

from __future__ import annotations

import math
from typing import Any

import optuna


def make_sampler(
    name: str,
    seed: int | None,
    space: dict[str, dict[str, Any]],
    n_startup_trials: int,
    parallel: int = 1,
) -> optuna.samplers.BaseSampler:
    """``random``, ``cmaes``, ``grid`` (over ``grid_space``) or multivariate TPE; with
    ``parallel`` trials at once, TPE's constant liar counts the running ones as bad, so two
    workers are not sent to the same region (Optuna's advice for parallel TPE)."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid_space(space), seed=seed)
    # Few startup trials: a trial costs minutes, not milliseconds, and the target is close.
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=n_startup_trials,
        multivariate=True,
        constant_liar=parallel > 1,
    )


def to_distributions(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each dimension of the space as an Optuna distribution (unknown kinds are left out)."""
    D = optuna.distributions
    out: dict[str, Any] = {}
    for name, dim in space.items():
        kind = dim.get("type")
        if kind == "int":
            out[name] = D.IntDistribution(
                int(dim["low"]),
                int(dim["high"]),
                log=bool(dim.get("log")),
                step=int(dim.get("step") or 1),
            )
        elif kind == "float":
            out[name] = D.FloatDistribution(
                float(dim["low"]),
                float(dim["high"]),
                log=bool(dim.get("log")),
                step=dim.get("step"),
            )
        elif kind == "bool":
            out[name] = D.CategoricalDistribution([False, True])
        elif kind == "categorical" and dim.get("choices"):
            out[name] = D.CategoricalDistribution(list(dim["choices"]))
    return out


def grid_space(space: dict[str, dict[str, Any]], points: int = 4) -> dict[str, list[Any]]:
    """``points`` values per numeric dimension (log-spaced when the dimension is), every choice."""
    grid: dict[str, list[Any]] = {}
    for name, dim in space.items():
        kind = dim.get("type")
        if kind == "int":
            first, last = int(dim["low"]), int(dim["high"])
            step = max(1, (last - first) // (points - 1))
            grid[name] = list(range(first, last + 1, step))
        elif kind == "float":
            low, high = float(dim["low"]), float(dim["high"])
            if dim.get("log"):
                grid[name] = [
                    math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (points - 1))
                    for i in range(points)
                ]
            else:
                grid[name] = [low + i * (high - low) / (points - 1) for i in range(points)]
        elif kind == "bool":
            grid[name] = [False, True]
        elif dim.get("choices"):
            grid[name] = list(dim["choices"])
    return grid
