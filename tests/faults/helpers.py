"""Shared by the fault-injection suite: a tiny Keras CNN, a TrialRunner on a temporary store,
and a watcher that kills the training at a chosen epoch (kill -9 of its process group, or
``docker kill`` of its container)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainchain.agent.events import read_events
from trainchain.runtimes.base import Environment, Runtime
from trainchain.store import Run, Store
from trainchain.trials.runner import TrialResult, TrialRunner, TrialSetup
from trainchain.trials.workspace import trial_dirs

EPOCHS = 8
PAUSE = 0.3  # seconds slept per epoch (a callback in the script): kills land mid-training

# A plain user script: nothing in it knows about trainchain.
CNN_SCRIPT = f"""\
import time

import keras
import numpy as np
from sklearn.datasets import load_digits

EPOCHS = {EPOCHS}
PAUSE = {PAUSE}


class Pace(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        time.sleep(PAUSE)


keras.utils.set_random_seed(0)
x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    keras.layers.Conv2D(8, 3, activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x[:1400], y[:1400], epochs=EPOCHS, batch_size=64, verbose=2,
          validation_data=(x[1400:], y[1400:]), callbacks=[Pace()])
print("test_accuracy:", float(model.evaluate(x[1400:], y[1400:], verbose=0)[1]))
"""


def write_script(root: Path, code: str = CNN_SCRIPT) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text(code)
    return root


def make_store(tmp: Path, run_id: str) -> Store:
    store = Store(f"sqlite:///{tmp / 'faults.db'}")
    with store.session() as s:
        s.add(Run(id=run_id, name="faults", source=str(tmp), status="running"))
    return store


def make_runner(
    tmp: Path, runtime: Runtime, env: Environment, run_id: str, **setup: Any
) -> tuple[Store, TrialRunner]:
    store = make_store(tmp, run_id)
    snapshot = write_script(tmp / "project", setup.pop("code", CNN_SCRIPT))
    options: dict[str, Any] = {"max_restarts": 3, "restart_backoff": 0.1, "stall_timeout": 300.0}
    options.update(setup)
    trial_setup = TrialSetup(
        run_id=run_id, run_dir=tmp / "run", snapshot=snapshot, entrypoint="train.py", **options
    )
    return store, TrialRunner(store, runtime, env, trial_setup)


def seeded_rng(name: str) -> tuple[int, random.Random]:
    """``TRAINCHAIN_FAULTS_SEED`` or a fresh seed, printed so a failure can be replayed."""
    seed = int(os.environ.get("TRAINCHAIN_FAULTS_SEED") or random.SystemRandom().randrange(1 << 30))
    print(f"{name}: seed {seed} (replay with TRAINCHAIN_FAULTS_SEED={seed})")
    return seed, random.Random(seed)


@dataclass
class Kill:
    """Kill attempt ``attempt`` once epoch ``after_epoch`` is logged (0: once fit starts)."""

    attempt: int
    after_epoch: int
    delay: float  # seconds after that event, so the kill lands inside the next epoch
    killed_at: float | None = None  # time.time() of the kill
    target: str = ""


Killer = Callable[[str, dict[str, Any], int], str]  # (run id, start event, attempt) -> what


def kill_process_group(_run_id: str, start: dict[str, Any], _attempt: int) -> str:
    """kill -9 of the training's process group (local runtime: the agent leads its group)."""
    pid = int(start["pid"])
    os.killpg(pid, signal.SIGKILL)
    return f"pgid {pid}"


@dataclass
class Watcher:
    """Tails the trial's events files and kills each planned attempt at its epoch."""

    run_dir: Path
    trial: int
    kills: list[Kill]
    killer: Killer
    run_id: str = ""
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Watcher:
        self._thread = threading.Thread(target=self._watch, name="fault-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _watch(self) -> None:
        try:
            for kill in self.kills:
                self._one(kill)
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _one(self, kill: Kill) -> None:
        path = str(trial_dirs(self.run_dir, self.trial).events(kill.attempt))
        offset, start = 0, None
        while not self._stop.is_set():
            new, offset = read_events(path, offset)
            for ev in new:
                if ev.get("type") == "start":
                    start = ev
                if start and _is_trigger(ev, kill.after_epoch):
                    time.sleep(kill.delay)
                    kill.target = self.killer(self.run_id, start, kill.attempt)
                    kill.killed_at = time.time()
                    return
                if ev.get("type") == "end":
                    self.errors.append(f"attempt {kill.attempt} ended before its kill")
                    return
            time.sleep(0.02)


def _is_trigger(ev: dict[str, Any], after_epoch: int) -> bool:
    if after_epoch == 0:
        return ev.get("type") == "fit"
    # ">=": a resumed attempt may start past the planned epoch
    return ev.get("type") == "epoch" and int(ev.get("epoch", 0)) >= after_epoch


def check_whole_curve(store: Store, run_id: str, result: TrialResult, epochs: int) -> list[int]:
    """Assert the trial finished every epoch once, resuming each attempt where the last stopped;
    return the epochs redone per restart."""
    trial = store.trial(run_id, result.number)
    assert trial is not None
    summary = [(a.number, a.outcome, a.first_epoch, a.last_epoch, a.reason) for a in trial.attempts]
    assert result.state.value == "complete", f"{result.error}\nattempts: {summary}"
    assert {e.epoch for e in trial.epochs} == set(range(1, epochs + 1)), summary
    redone = []
    for before, after in zip(trial.attempts, trial.attempts[1:], strict=False):
        done = before.last_epoch or 0
        first = after.first_epoch if after.first_epoch is not None else epochs + 1
        assert first <= done + 1, f"epochs {done + 1}..{first - 1} were never trained: {summary}"
        redone.append(done + 1 - first)
    assert all(r <= 1 for r in redone), f"more than one epoch redone: {redone}: {summary}"
    assert trial.attempts[-1].outcome == "succeeded" and trial.attempts[-1].last_epoch in (
        epochs,
        None,
    )
    return redone


def seconds_to_resume(run_dir: Path, trial: int, attempt: int, killed_at: float) -> float | None:
    """From the kill to the first epoch event of the next attempt."""
    events, _ = read_events(str(trial_dirs(run_dir, trial).events(attempt + 1)))
    first = next((ev for ev in events if ev.get("type") == "epoch"), None)
    return None if first is None else float(first["time"]) - killed_at


@dataclass
class CaseOutcome:
    result: TrialResult
    kills: list[Kill]
    errors: list[str]
    redone: list[int]
    to_resume: list[float | None]
    wall: float
    failure: str | None  # why the case did not survive (None: it did)


def run_kill_case(
    tmp: Path,
    runtime: Runtime,
    env: Environment,
    run_id: str,
    kills: list[Kill],
    killer: Killer,
    epochs: int = EPOCHS,
    **setup: Any,
) -> tuple[Store, CaseOutcome]:
    """Train the CNN as trial 0 under ``TrialRunner`` while ``kills`` land; check the curve.
    ``setup`` goes to ``make_runner`` (``code=``, runner options)."""
    store, runner = make_runner(tmp, runtime, env, run_id, **setup)
    started = time.monotonic()
    with Watcher(tmp / "run", 0, kills, killer, run_id=run_id) as watcher:
        result = runner.run(0, {})
    wall = time.monotonic() - started
    failure, redone = None, []
    try:
        assert not watcher.errors, watcher.errors
        assert all(k.killed_at for k in kills), f"not every kill landed: {kills}"
        redone = check_whole_curve(store, run_id, result, epochs)
    except AssertionError as exc:
        failure = str(exc)
    to_resume = [
        seconds_to_resume(tmp / "run", 0, k.attempt, k.killed_at) if k.killed_at else None
        for k in kills
    ]
    return store, CaseOutcome(result, kills, watcher.errors, redone, to_resume, wall, failure)
