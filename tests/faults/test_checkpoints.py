"""Checkpoints under stress (issue 6): a corrupted latest backup, a full checkpoint filesystem,
and a deterministic crash that must not burn the restart budget."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.helpers import (
    CNN_SCRIPT,
    EPOCHS,
    Kill,
    Watcher,
    kill_process_group,
    make_runner,
)
from tests.faults.record import record
from tests.services import require
from trainchain.agent.events import read_events
from trainchain.profiles import env_packages
from trainchain.runtimes.base import Environment, EnvSpec
from trainchain.runtimes.local import LocalRuntime
from trainchain.trials.workspace import trial_dirs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WEIGHTS, META = "latest.weights.h5", "training_metadata.json"


@pytest.fixture
def keras_env() -> Environment:
    return LocalRuntime().provision(EnvSpec("keras", env_packages("keras", ("sklearn",))), print)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])


def _garbage(*files: Path) -> None:
    for path in files:
        path.write_bytes(b"\x00garbage, not a checkpoint\xff" * 64)


# name -> (what to break in keras-fit-1 after the kill, "previous" | "clean" fallback expected)
CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated-weights": (lambda d: _truncate(d / WEIGHTS), "previous"),
    "garbage-weights": (lambda d: _garbage(d / WEIGHTS), "previous"),
    "garbage-metadata": (lambda d: _garbage(d / META), "previous"),
    "both-backups-garbage": (lambda d: _garbage(d / WEIGHTS, d / f"{WEIGHTS}.bkp"), "clean"),
}


def _kill_then(action: Callable[[], None]) -> Callable[[str, dict[str, Any], int], str]:
    def killer(run_id: str, start: dict[str, Any], attempt: int) -> str:
        target = kill_process_group(run_id, start, attempt)
        time.sleep(0.3)  # the group is dead; the restart waits for the runner's backoff
        action()
        return target

    return killer


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_corrupted_latest_checkpoint_falls_back_and_says_so(
    tmp_path: Path, keras_env: Environment, name: str
) -> None:
    corrupt, expected = CORRUPTIONS[name]
    backup = trial_dirs(tmp_path / "run", 0).checkpoints / "keras-fit-1"
    kills = [Kill(1, 4, 0.1)]
    store, runner = make_runner(tmp_path, LocalRuntime(), keras_env, "ckpt", restart_backoff=2.0)
    with Watcher(
        tmp_path / "run", 0, kills, _kill_then(lambda: corrupt(backup)), run_id="ckpt"
    ) as w:
        result = runner.run(0, {})
    assert not w.errors, w.errors
    trial = store.trial("ckpt", 0)
    assert trial is not None and result.state.value == "complete", result.error
    assert {e.epoch for e in trial.epochs} == set(range(1, EPOCHS + 1))
    second = trial.attempts[1]
    events, _ = read_events(str(trial_dirs(tmp_path / "run", 0).events(2)))
    told = [ev for ev in events if ev.get("type") == "checkpoint" and ev.get("fallback")]
    log = trial_dirs(tmp_path / "run", 0).log(2).read_text(errors="replace")
    assert told, f"{name}: the restart did not say it fell back: {events}"
    if expected == "previous":  # the backup before the latest: one epoch is trained again
        assert second.first_epoch == trial.attempts[0].last_epoch, (second.first_epoch, told)
        assert told[0]["fallback"] == "previous" and "resuming from the previous" in log, told
    else:
        assert told[0]["fallback"] == "clean_start" and second.first_epoch == 1, told
        assert "starts from its first epoch" in log, log[-2000:]
    record(
        "checkpoints",
        name,
        runtime="local",
        ok=True,
        first_epoch=second.first_epoch,
        last_epoch_before=trial.attempts[0].last_epoch,
    )


@contextlib.contextmanager
def full_tmpfs(directory: Path, size: str = "256k") -> Iterator[None]:
    """A small tmpfs on ``directory``, filled to the last byte (needs root and mount rights)."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    require(
        mounted.returncode == 0,
        f"cannot mount a tmpfs ({mounted.stderr.strip()}); run as root "
        "with CAP_SYS_ADMIN to test a full checkpoint filesystem",
    )
    try:
        with contextlib.suppress(OSError), open(directory / "filler", "wb") as fh:
            while True:  # until ENOSPC (raised by a write or by the close)
                fh.write(b"\0" * 4096)
                fh.flush()
        yield
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def test_a_full_checkpoint_filesystem_is_said_and_the_training_still_completes(
    tmp_path: Path, keras_env: Environment
) -> None:
    checkpoints = trial_dirs(tmp_path / "run", 0).checkpoints
    store, runner = make_runner(tmp_path, LocalRuntime(), keras_env, "full")
    kills = [Kill(1, 3, 0.1)]
    with (
        full_tmpfs(checkpoints),
        Watcher(tmp_path / "run", 0, kills, kill_process_group, run_id="full") as w,
    ):
        result = runner.run(0, {})
    assert not w.errors, w.errors
    trial = store.trial("full", 0)
    assert trial is not None and result.state.value == "complete", result.error
    assert {e.epoch for e in trial.epochs} == set(range(1, EPOCHS + 1))
    first, _ = read_events(str(trial_dirs(tmp_path / "run", 0).events(1)))
    failed = [ev for ev in first if ev.get("type") == "checkpoint" and ev.get("error")]
    assert failed and "No space left" in failed[0]["error"], first
    log = trial_dirs(tmp_path / "run", 0).log(1).read_text(errors="replace")
    assert f"could not write the checkpoint in {checkpoints}" in log, log[-2000:]
    # nothing was saved, so the restart starts over, and says why
    assert trial.attempts[1].first_epoch == 1
    record(
        "checkpoints",
        "full-filesystem",
        runtime="local",
        ok=True,
        first_epoch=trial.attempts[1].first_epoch,
        last_epoch_before=trial.attempts[0].last_epoch,
    )


# A deterministic crash inside training (epoch 3 of every attempt): restarts cannot help.
CRASHING = CNN_SCRIPT.replace(
    "        time.sleep(PAUSE)\n",
    "        time.sleep(PAUSE)\n"
    "        if epoch == 2:\n"
    "            raise ValueError('bad batch at epoch 3')\n",
)
# A crash after training finished: the trial completes with a warning.
CRASH_AFTER_FIT = (
    CNN_SCRIPT + '\nbest = keras.models.load_model("best_model.keras")  # never saved\n'
)


def test_a_deterministic_crash_stops_after_two_attempts_as_a_crash_loop(
    tmp_path: Path, keras_env: Environment
) -> None:
    assert CRASHING != CNN_SCRIPT
    store, runner = make_runner(tmp_path, LocalRuntime(), keras_env, "loop", code=CRASHING)
    result = runner.run(0, {})
    trial = store.trial("loop", 0)
    assert trial is not None and result.state.value == "failed"
    assert len(trial.attempts) == 2, [(a.outcome, a.reason) for a in trial.attempts]
    assert result.error is not None and "crash loop" in result.error
    assert "bad batch at epoch 3" in result.error and "ValueError" in result.error, result.error
    assert "train.py:" in result.error
    # the first attempt trained 2 epochs; the second crashed at the same place, before any
    assert trial.attempts[0].last_epoch == 2 and trial.attempts[1].first_epoch is None
    record(
        "checkpoints",
        "deterministic-crash",
        runtime="local",
        ok=True,
        attempts=len(trial.attempts),
        stopped_as="crash loop",
    )


def test_a_crash_after_training_completes_the_trial_with_a_warning(
    tmp_path: Path, keras_env: Environment
) -> None:
    store, runner = make_runner(tmp_path, LocalRuntime(), keras_env, "after", code=CRASH_AFTER_FIT)
    result = runner.run(0, {})
    trial = store.trial("after", 0)
    assert trial is not None, result
    assert result.state.value == "complete", result.error
    assert [a.outcome for a in trial.attempts] == ["succeeded_with_error"]  # no restart
    line = CRASH_AFTER_FIT.splitlines().index(
        'best = keras.models.load_model("best_model.keras")  # never saved'
    )
    warning = trial.info["warning"]
    assert f"at train.py:{line + 1}" in warning and "ValueError" in warning, warning
    assert warning in (trial.attempts[0].reason or "")
    # training's own metric (evaluate ran before the crash) and the model saved after fit
    assert result.metric_source == "keras_evaluate" and result.value is not None
    assert len(trial.epochs) == EPOCHS
    assert result.model_path is not None and Path(result.model_path).exists()
    record("checkpoints", "crash-after-training", runtime="local", ok=True)


SKLEARN_CRASH_BEFORE_ITS_METRIC = """\
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

x, y = load_digits(return_X_y=True)
model = LogisticRegression(max_iter=300).fit(x[:1200], y[:1200])
print("train_accuracy:", model.score(x[:1200], y[:1200]))
summary = open("reports/summary.txt").read()  # never written
print("final_accuracy:", model.score(x[1200:], y[1200:]))
"""


def test_a_metric_printed_only_after_the_crash_fails_the_trial_saying_so(
    tmp_path: Path, keras_env: Environment
) -> None:
    store, runner = make_runner(tmp_path, LocalRuntime(), keras_env, "late",
                                code=SKLEARN_CRASH_BEFORE_ITS_METRIC,
                                metric="final_accuracy")  # fmt: skip
    result = runner.run(0, {})
    trial = store.trial("late", 0)
    assert trial is not None and result.state.value == "failed"
    assert [a.outcome for a in trial.attempts] == ["succeeded_with_error"]  # still no restart
    error = result.error or ""
    assert "metric 'final_accuracy' was not reported before the script failed" in error, error
    assert "train.py:7" in error and "FileNotFoundError" in error
    assert "train_accuracy" in error  # what it could choose instead
