"""The trial runner prepares the next trial while one trains, on runtimes that start ahead."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tests.records import new_run

from trainchain.runtimes.base import Environment, Resources, TrialProcess, TrialSpec
from trainchain.runtimes.local import LocalRuntime
from trainchain.states import TrialState
from trainchain.store import Store
from trainchain.trials.runner import TrialRunner, TrialSetup

SCRIPT = "EPOCHS = 1\nprint(f'accuracy: {EPOCHS / 10}')\n"


class AheadRuntime(LocalRuntime):
    """The real local runtime, claiming to start ahead and recording what it is asked."""

    starts_ahead = True

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.prepared: list[tuple[int, int, dict[str, object], int]] = []
        self.started: list[tuple[int, int]] = []
        self.resources: list[Resources] = []

    def prepare(self, env: Environment, trial: TrialSpec) -> None:
        inode = trial.workdir.stat().st_ino  # the working copy exists when asked
        assert (trial.workdir / "train.py").is_file()
        self.prepared.append((trial.trial, trial.attempt, dict(trial.params), inode))
        self.resources.append(trial.resources)

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        self.started.append((trial.trial, trial.workdir.stat().st_ino))
        return super().start(env, trial)


def test_each_tuned_trial_prepares_the_next_one_which_then_starts_on_it(tmp_path: Path) -> None:
    store, setup = _run(tmp_path)
    runtime = AheadRuntime(tmp_path / "envs")
    env = Environment("local", "k", python=sys.executable)
    runner = TrialRunner(store, runtime, env, setup)

    assert runner.run(0, {"EPOCHS": 2}).state == TrialState.COMPLETE
    assert runtime.prepared == []  # the baseline is often the only trial: nothing ahead
    assert runner.run(1, {"EPOCHS": 3}).value == 0.3
    assert [p[:3] for p in runtime.prepared] == [(2, 1, {})]  # no params before they exist
    result = runner.run(2, {"EPOCHS": 4})
    assert result.state == TrialState.COMPLETE and result.value == 0.4  # its own params
    assert runtime.started[-1] == (2, runtime.prepared[0][3])  # the prepared copy, not a new one
    assert [p[0] for p in runtime.prepared] == [2, 3]


def test_a_tuned_run_prepares_trial_1_while_its_baseline_trains(tmp_path: Path) -> None:
    store, setup = _run(tmp_path)
    runtime = AheadRuntime(tmp_path / "envs")
    env = Environment("local", "k", python=sys.executable)
    runner = TrialRunner(store, runtime, env, dataclasses.replace(setup, tuned=True))
    assert runner.run(0, {"EPOCHS": 2}).state == TrialState.COMPLETE
    assert [p[:3] for p in runtime.prepared] == [(1, 1, {})]


def test_parallel_tuning_gets_as_many_trials_prepared_with_their_share_of_the_cpus(
    tmp_path: Path,
) -> None:
    """Two trials at once: the baseline (all CPUs) prepares trials 1 and 2 with the tuning
    trials' share, so their starts are warm; trial k then prepares k + 2."""
    store, setup = _run(tmp_path)
    runtime = AheadRuntime(tmp_path / "envs")
    env = Environment("local", "k", python=sys.executable)
    share = Resources(cpus=1.0)
    setup = dataclasses.replace(setup, tuned=True, parallel=2, tuned_resources=share)
    runner = TrialRunner(store, runtime, env, setup)
    assert runner.run(0, {"EPOCHS": 2}).state == TrialState.COMPLETE
    assert [p[:3] for p in runtime.prepared] == [(1, 1, {}), (2, 1, {})]
    assert runtime.resources == [share, share]
    tuning = TrialRunner(store, runtime, env, dataclasses.replace(setup, resources=share))
    assert tuning.run(1, {"EPOCHS": 3}).value == 0.3
    assert [p[0] for p in runtime.prepared] == [1, 2, 3]
    assert runtime.started[-1] == (1, runtime.prepared[0][3])  # started on its prepared copy


def test_a_runtime_that_does_not_start_ahead_gets_no_preparation(tmp_path: Path) -> None:
    store, setup = _run(tmp_path)
    runtime = AheadRuntime(tmp_path / "envs")
    runtime.starts_ahead = False
    runner = TrialRunner(store, runtime, Environment("local", "k", python=sys.executable), setup)
    assert runner.run(1, {"EPOCHS": 3}).value == 0.3
    assert runtime.prepared == []
    assert not (tmp_path / "run" / "trials" / "002").exists()  # no working copy ahead either


def _run(tmp_path: Path) -> tuple[Store, TrialSetup]:
    """A recorded run and its snapshot holding SCRIPT."""
    store, run_id = new_run(tmp_path)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "train.py").write_text(SCRIPT)
    return store, TrialSetup(
        run_id=run_id, run_dir=tmp_path / "run", snapshot=snapshot, entrypoint="train.py"
    )
