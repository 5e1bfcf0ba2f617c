"""Sizes of fit's inputs and the steps clamp, on inputs built here (no Keras needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trainchain.agent import FULL_PASS_STEPS, data_sizes


class Batches:
    """Shaped like a Keras Sequence / DirectoryIterator: a length in batches, ``n`` samples."""

    def __init__(self, n: int, batch_size: int) -> None:
        self.n, self.batch_size = n, batch_size

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __getitem__(self, i: int) -> Any:
        return i


@pytest.fixture
def events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "events.jsonl"
    monkeypatch.setenv("TRAINCHAIN_EVENTS", str(path))
    return path


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_arrays_with_validation_split_and_a_sequence() -> None:
    x = np.zeros((1000, 4))
    train, val = data_sizes.fit_sizes({"x": x, "batch_size": 50, "validation_split": 0.2})
    assert (train.batches, train.samples, train.batch_size) == (16, 800, 50)
    assert (val.batches, val.samples) == (4, 200) and train.finite
    _, val = data_sizes.fit_sizes({"x": np.zeros((999, 4)), "validation_split": 0.2})
    assert val.samples == 999 - int(999 * 0.8)  # Keras trains on the first int(n * 0.8)
    train, val = data_sizes.fit_sizes({"x": Batches(250, 32), "validation_data": (x, x)})
    assert (train.batches, train.samples, train.batch_size, train.finite) == (8, 250, 32, True)
    assert (val.batches, val.samples, val.batch_size) == (32, 1000, 32)  # fit's default batch


def test_clamp_to_one_pass_and_the_sentinel(events: Path) -> None:
    kwargs: dict[str, Any] = {
        "x": Batches(250, 32),
        "validation_data": Batches(63 * 32, 32),
        "steps_per_epoch": FULL_PASS_STEPS,
        "validation_steps": 800,
    }
    train, val = data_sizes.fit_sizes(kwargs)
    data_sizes.emit_data(1, train, val)
    data_sizes.clamp_steps(kwargs, train, val)
    assert (kwargs["steps_per_epoch"], kwargs["validation_steps"]) == (8, 63)
    data, *adjusted = _read(events)
    assert data["type"] == "data" and (data["train_batches"], data["val_batches"]) == (8, 63)
    assert [(a["argument"], a["from"], a["to"]) for a in adjusted] == [
        ("steps_per_epoch", FULL_PASS_STEPS, 8),
        ("validation_steps", 800, 63),
    ]
    assert "Batches, 63 batches of 32" in adjusted[1]["why"]


def test_unknown_length_and_steps_within_the_data(events: Path) -> None:
    gen = (i for i in range(3))
    kwargs: dict[str, Any] = {"x": gen, "steps_per_epoch": FULL_PASS_STEPS}
    data_sizes.clamp_steps(kwargs, *data_sizes.fit_sizes(kwargs))
    assert kwargs["steps_per_epoch"] is None  # Keras: until the input is exhausted
    kwargs = {"x": np.zeros((100, 2)), "batch_size": 10, "steps_per_epoch": 50}
    data_sizes.clamp_steps(kwargs, *data_sizes.fit_sizes(kwargs))
    assert kwargs["steps_per_epoch"] == 10  # arrays run out of data too
    kwargs = {"x": Batches(250, 32), "steps_per_epoch": 5}
    data_sizes.clamp_steps(kwargs, *data_sizes.fit_sizes(kwargs))
    assert kwargs["steps_per_epoch"] == 5
    assert [e["to"] for e in _read(events)] == [None, 10]


def test_tf_data_one_pass_of_a_repeated_dataset(events: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    endless = tf.data.Dataset.range(100).batch(10).repeat().prefetch(2)
    kwargs: dict[str, Any] = {"x": endless, "steps_per_epoch": 50}
    data_sizes.clamp_steps(kwargs, *data_sizes.fit_sizes(kwargs))
    assert kwargs["steps_per_epoch"] == 50  # endless: it never runs out, the script's choice
    kwargs["steps_per_epoch"] = FULL_PASS_STEPS
    data_sizes.clamp_steps(kwargs, *data_sizes.fit_sizes(kwargs))
    assert kwargs["steps_per_epoch"] == 10  # one pass of what repeat() repeats
    # batched after repeat(): the source counts elements, not batches, so no length is known
    shuffled = tf.data.Dataset.range(100).repeat().batch(10)
    assert data_sizes.size_of(shuffled).batches is None
    assert data_sizes.size_of(tf.data.Dataset.range(95).batch(10)).batches == 10
