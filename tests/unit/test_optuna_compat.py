"""The private Optuna calls behind ``trials.optuna_compat`` still work with the installed Optuna."""

from __future__ import annotations

import optuna

from trainchain.trials.optuna_compat import distribution_contains, tell_as_in_optimize, trial_id

D = optuna.distributions


def test_distribution_contains() -> None:
    floats = D.FloatDistribution(0.1, 1.0)
    assert distribution_contains(floats, 0.5) and not distribution_contains(floats, 2.0)
    steps = D.IntDistribution(2, 10, step=2)
    assert distribution_contains(steps, 4) and not distribution_contains(steps, 5)
    choices = D.CategoricalDistribution(["relu", "tanh"])
    assert distribution_contains(choices, "tanh") and not distribution_contains(choices, "elu")
    assert not distribution_contains(floats, "fast")  # the wrong kind of value


def test_trial_id_finds_the_storage_id_of_a_number() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.InMemoryStorage()
    other = optuna.create_study(storage=storage, study_name="other")
    other.ask()  # ids are per storage, numbers per study: they differ from here on
    study = optuna.create_study(storage=storage, study_name="s")
    asked = [study.ask() for _ in range(3)]
    assert [trial_id(study, t.number) for t in asked] == [t._trial_id for t in asked]
    assert trial_id(study, 0) != 0
    reopened = optuna.trial.Trial(study, trial_id(study, 2))
    reopened.report(0.5, 1)
    assert study.trials[2].intermediate_values == {1: 0.5}


def test_a_spent_grid_is_told_under_ask_and_tell() -> None:
    """The grid sampler stops the study once its grid is spent; a plain ``study.tell`` outside
    ``optimize`` raises there and leaves the trial unfinished."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = optuna.samplers.GridSampler({"x": [1, 2]}, seed=0)
    study = optuna.create_study(sampler=grid)
    for _ in range(2):
        trial = study.ask({"x": D.CategoricalDistribution([1, 2])})
        tell_as_in_optimize(study, trial, float(trial.params["x"]))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
