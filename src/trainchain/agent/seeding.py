"""Seed the trial before the script runs (``TRAINCHAIN_SEED``), so every attempt of a trial
draws the same numbers: an architecture chosen with ``random``, NumPy shuffles and the
framework's initial weights. A restarted attempt then rebuilds the model its checkpoint was
saved from. Python's ``random`` is seeded at once; NumPy, TensorFlow, Keras and PyTorch when
(and only if) the script imports them.
"""

from __future__ import annotations

import logging
import os
import random
import types

from trainchain.agent import contract, events, imports

logger = logging.getLogger(__name__)


def install() -> int | None:
    """Seed from ``TRAINCHAIN_SEED``; the seed, or None when the trial has none."""
    text = os.environ.get(contract.SEED, "").strip()
    if not text:
        return None
    try:
        seed = int(text)
    except ValueError:
        logger.warning("TRAINCHAIN_SEED=%r is not an integer; the trial is not seeded", text)
        return None
    random.seed(seed)
    imports.install(
        {
            "numpy": lambda np: np.random.seed(seed % 2**32),
            "tensorflow": lambda tf: _seed_tensorflow(tf, seed),
            "keras": lambda keras: _seed_keras(keras, seed),
            "tf_keras": lambda keras: _seed_keras(keras, seed),
            "torch": lambda torch: torch.manual_seed(seed),
        }
    )
    events.emit("seed", seed=seed)
    return seed


def _seed_tensorflow(tf: types.ModuleType, seed: int) -> None:
    random_module = getattr(tf, "random", None)
    if random_module is not None and hasattr(random_module, "set_seed"):
        random_module.set_seed(seed)


def _seed_keras(keras: types.ModuleType, seed: int) -> None:
    utils = getattr(keras, "utils", None)
    if utils is not None and hasattr(utils, "set_random_seed"):
        state = random.getstate()  # set_random_seed reseeds random: keep the script's stream
        utils.set_random_seed(seed)
        random.setstate(state)
