"""The agent's per-process state: the trial's parameters, directories and what was applied.

Standard library only. One ``TrialState`` per process, created by the runner before the script
runs (``init``) and read by every hook; the SDK falls back to a state built from the environment
when a script imports ``trainchain.agent`` without the runner (e.g. under plain ``python``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from trainchain.agent import contract, events

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = "output"  # relative to the cwd when TRAINCHAIN_OUTPUT_DIR is unset


class ParamsError(ValueError):
    """``TRAINCHAIN_PARAMS`` is not a JSON object."""


@dataclass
class TrialState:
    params: dict[str, Any]
    output_dir: str
    checkpoint_dir: str
    under_controller: bool  # TRAINCHAIN_EVENTS was given: no terminal to ask
    applied: dict[str, str] = field(default_factory=dict)  # name -> how
    model_logged: bool = False  # the script called log_model: skip automatic saving
    keras_busy: int = 0  # depth of Keras fit/evaluate/predict calls (stdout noise filter)
    trainings_done: int = 0  # training calls (Keras fit, sklearn fit) that returned
    crashed_in_training: bool = False  # the last training call raised
    lock: threading.Lock = field(default_factory=threading.Lock)

    def param(self, name: str) -> Any:
        return self.params[name]

    def has(self, name: str) -> bool:
        return name in self.params

    def mark_applied(self, name: str, value: Any, how: str) -> None:
        """Record that ``name`` reached the script; emit one ``param`` event per name and way."""
        with self.lock:
            key = f"{name}\0{how}"
            if key in self.applied:
                return
            self.applied[key] = how
        events.emit("param", name=name, value=value, how=how)

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """Around one training call: did it finish, or did the script's failure start in it?"""
        try:
            yield
        except BaseException:
            self.crashed_in_training = True
            raise
        self.trainings_done += 1
        self.crashed_in_training = False

    def after_training(self) -> bool:
        """Training has finished and no training call is what failed."""
        return self.trainings_done > 0 and not self.crashed_in_training

    def applied_names(self) -> set[str]:
        return {key.split("\0", 1)[0] for key in self.applied}


_state: TrialState | None = None


def parse_params(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ParamsError(
            f"TRAINCHAIN_PARAMS is not valid JSON ({exc}): {raw[:200]!r}; "
            'set it to a JSON object such as {"epochs": 5}'
        ) from exc
    if not isinstance(value, dict):
        raise ParamsError(
            f"TRAINCHAIN_PARAMS must be a JSON object, got {type(value).__name__}: "
            f'{raw[:200]!r}; set it to a JSON object such as {{"epochs": 5}}'
        )
    return value


def init(environ: dict[str, str] | None = None) -> TrialState:
    """Build the state from the environment; make the events path usable standalone.

    Without ``TRAINCHAIN_EVENTS`` but with ``TRAINCHAIN_OUTPUT_DIR``, events go to
    ``$TRAINCHAIN_OUTPUT_DIR/events.jsonl`` (exported, so ``events.emit`` and children see it).
    Without ``TRAINCHAIN_CHECKPOINT_DIR`` checkpoints go to a fresh temporary directory, so a
    standalone rerun never "resumes" a finished run.
    """
    global _state
    env = os.environ if environ is None else environ
    under_controller = bool(env.get(contract.EVENTS))
    output_dir = os.path.abspath(env.get(contract.OUTPUT_DIR) or DEFAULT_OUTPUT_DIR)
    if env.get(contract.OUTPUT_DIR):
        os.makedirs(output_dir, exist_ok=True)  # the script may write there at once
        os.environ[contract.OUTPUT_DIR] = output_dir  # absolute, survives a chdir
        if not under_controller:
            os.environ[contract.EVENTS] = os.path.join(output_dir, "events.jsonl")
    checkpoint_dir = env.get(contract.CHECKPOINT_DIR) or ""
    if checkpoint_dir:
        checkpoint_dir = os.path.abspath(checkpoint_dir)
        os.makedirs(checkpoint_dir, exist_ok=True)
    else:
        checkpoint_dir = tempfile.mkdtemp(prefix="trainchain-ckpt-")
        atexit.register(shutil.rmtree, checkpoint_dir, ignore_errors=True)
    os.environ[contract.CHECKPOINT_DIR] = checkpoint_dir
    _state = TrialState(
        params=parse_params(env.get(contract.PARAMS)),
        output_dir=output_dir,
        checkpoint_dir=checkpoint_dir,
        under_controller=under_controller,
    )
    return _state


def get() -> TrialState:
    """The process's state; built lazily for scripts that use the SDK without the runner."""
    global _state
    if _state is None:
        env = os.environ
        output_dir = os.path.abspath(env.get(contract.OUTPUT_DIR) or DEFAULT_OUTPUT_DIR)
        _state = TrialState(
            params=parse_params(env.get(contract.PARAMS)),
            output_dir=output_dir,
            checkpoint_dir=os.path.abspath(
                env.get(contract.CHECKPOINT_DIR) or os.path.join(output_dir, "checkpoints")
            ),
            under_controller=bool(env.get(contract.EVENTS)),
        )
    return _state


def coerce_like(default: Any, value: Any) -> Any:
    """Convert a parameter value to the type of the script's default, where that is lossless.

    ``EPOCHS = 5`` with ``"7"`` or ``7.0`` gives ``7``; ``LR = 0.1`` with ``1`` gives ``1.0``.
    Anything else is returned unchanged (the script's own code decides).
    """
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        return value
    if isinstance(default, int) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return value
        return value
    if isinstance(default, float) and not isinstance(value, bool):
        if isinstance(value, int | str):
            try:
                return float(value)
            except ValueError:
                return value
    return value
