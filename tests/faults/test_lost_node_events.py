"""An attempt lost after it finished training, before its epochs reached the controller (a Ray
node dies while the controller is still pulling its node-local events): the next attempt skips
the finished fit and its ``recovered`` event puts the missing epochs back in the store, under
the attempt that trained them. Found by CI: without it the trial's curve stopped at epoch 3."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tests.faults.helpers import EPOCHS, check_whole_curve, make_runner
from trainchain.agent.events import read_events
from trainchain.profiles import env_packages
from trainchain.runtimes.base import Environment, EnvSpec, Outcome, TrialProcess, TrialSpec
from trainchain.runtimes.local import LocalRuntime
from trainchain.states import OutcomeKind
from trainchain.trials.workspace import trial_dirs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
PULLED = 3  # epochs of the lost attempt that reach the controller


class LostAfterTraining(TrialProcess):
    """Attempt 1 writes its events to a node-local file; only the lines up to epoch PULLED are
    copied to the controller's file (the pull), and when the attempt ends the node is gone."""

    def __init__(self, inner: TrialProcess, node_file: Path, controller_file: Path) -> None:
        self.inner, self.id = inner, inner.id
        self.node_file, self.controller_file = node_file, controller_file
        self.offset, self.pulling = 0, True
        self.lock = threading.Lock()

    def _pull(self) -> None:
        with self.lock:
            new, offset = read_events(str(self.node_file), self.offset)
            with open(self.controller_file, "a", encoding="utf-8") as fh:
                for ev in new:
                    if not self.pulling:
                        break
                    if ev.get("type") == "epoch" and int(ev["epoch"]) > PULLED:
                        self.pulling = False  # the node died here
                        break
                    fh.write(_line(ev))
            self.offset = offset

    def poll(self) -> Outcome | None:
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> Outcome | None:
        ended = self.inner.wait(timeout)
        self._pull()
        if ended is None:
            return None
        return Outcome(OutcomeKind.LOST, reason="its node died (test)")

    def stop(self, reason: str) -> None:
        self.inner.stop(reason)

    def kill(self, kind: OutcomeKind, reason: str) -> None:
        self.inner.kill(kind, reason)


def _line(ev: dict[str, object]) -> str:
    return json.dumps(ev) + "\n"


class NodeLosingRuntime(LocalRuntime):
    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        if trial.attempt != 1:
            return super().start(env, trial)
        node_file = trial.events_path.with_name("node-local-events-1.jsonl")
        inner = super().start(env, replace(trial, events_path=node_file))
        return LostAfterTraining(inner, node_file, trial.events_path)


def test_epochs_of_an_attempt_lost_after_training_are_recovered(tmp_path: Path) -> None:
    runtime = NodeLosingRuntime()
    env = runtime.provision(EnvSpec("keras", env_packages("keras", ("sklearn",))), print)
    store, runner = make_runner(tmp_path, runtime, env, "lost-events")
    result = runner.run(0, {})

    trial = store.trial("lost-events", 0)
    assert trial is not None
    summary = [(a.number, a.outcome, a.first_epoch, a.last_epoch) for a in trial.attempts]
    assert [a.outcome for a in trial.attempts] == ["lost", "succeeded"], summary
    # the whole curve, every epoch under attempt 1 (which trained it); attempt 2 trained none
    assert sorted((e.epoch, e.attempt) for e in trial.epochs) == [
        (n, 1) for n in range(1, EPOCHS + 1)
    ], summary
    assert check_whole_curve(store, "lost-events", result, EPOCHS) == [0]
    node_events, _ = read_events(str(trial_dirs(tmp_path / "run", 0).events(1).with_name(
        "node-local-events-1.jsonl")))  # fmt: skip
    node = {ev["epoch"]: ev["metrics"] for ev in node_events if ev["type"] == "epoch"}
    stored = {e.epoch: e.metrics for e in trial.epochs}
    assert stored == {n: pytest.approx(m) for n, m in node.items()}
