"""kill -9 of the TRAINING process at seeded random epochs of a Keras CNN trial (issue 6).

Each case must complete with the full epoch count, redoing at most one epoch: the attempts'
``first_epoch``/``last_epoch`` and the stored epoch metrics show a whole curve. 4 cases by
default (plus the end-of-fit window), 20 with ``TRAINCHAIN_FAULTS_FULL=1``; the seed is printed
(replay with ``TRAINCHAIN_FAULTS_SEED``).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults.helpers import EPOCHS, PAUSE, Kill, kill_process_group, run_kill_case, seeded_rng
from tests.faults.record import record
from trainchain.profiles import env_packages
from trainchain.runtimes.base import Environment, EnvSpec
from trainchain.runtimes.local import LocalRuntime

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FULL = os.environ.get("TRAINCHAIN_FAULTS_FULL") == "1"
CASES = 20 if FULL else 4
SEED, _RNG = seeded_rng("test_kill_training")


def plan(rng: random.Random, double: bool) -> list[Kill]:
    """One kill (0 = during epoch 1, EPOCHS = after the last epoch), or two on successive
    attempts; the delay puts the kill anywhere in the following epoch."""
    if not double:
        return [Kill(1, rng.randint(0, EPOCHS), round(rng.uniform(0, PAUSE + 0.1), 3))]
    first = rng.randint(0, EPOCHS - 3)
    return [
        Kill(1, first, round(rng.uniform(0, PAUSE), 3)),
        Kill(2, rng.randint(first + 1, EPOCHS - 1), round(rng.uniform(0, PAUSE), 3)),
    ]


PLANS = [plan(_RNG, FULL and _RNG.random() < 0.25) for _ in range(CASES)]
# Always included: right after the last epoch, where the backup is deleted at the end of fit.
PLANS.append([Kill(1, EPOCHS, 0.0)])


def _id(kills: list[Kill]) -> str:
    return "+".join(f"a{k.attempt}e{k.after_epoch}d{k.delay:g}" for k in kills)


@pytest.fixture
def keras_env() -> Environment:
    return LocalRuntime().provision(EnvSpec("keras", env_packages("keras", ("sklearn",))), print)


@pytest.mark.parametrize("kills", PLANS, ids=[_id(p) for p in PLANS])
def test_kill_9_of_the_training_resumes_with_a_whole_curve(
    tmp_path: Path, keras_env: Environment, kills: list[Kill]
) -> None:
    print(f"seed {SEED}: kills {kills}")
    _, case = run_kill_case(
        tmp_path, LocalRuntime(), keras_env, "kill-local", kills, kill_process_group
    )
    record(
        "kill_training",
        _id(kills),
        runtime="local",
        seed=SEED,
        ok=case.failure is None,
        redone=case.redone,
        to_resume=case.to_resume,
        wall=case.wall,
        failure=case.failure,
    )
    if case.failure is not None:
        pytest.fail(f"seed {SEED}, kills {kills}: {case.failure}")
