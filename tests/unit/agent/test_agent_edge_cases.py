"""Edge cases found by running real scripts: click prompts, exclusive groups, SIGTERM, Keras 2.

The Keras 2 test needs an interpreter with TensorFlow 2.15 (Keras 2), given as
``TRAINCHAIN_KERAS2_PYTHON``; CI creates it with
``python -m venv /opt/keras2 && /opt/keras2/bin/pip install tensorflow-cpu==2.15.1``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from tests.services import require

from conftest import RunAgent, agent_env, read_events

CLICK_PROMPTS = """
import click

@click.command()
@click.option("--n-epochs", prompt="How many epochs", type=int)
@click.option("--name", prompt=True)
def main(n_epochs, name):
    print("trained", n_epochs * 2, name)

if __name__ == "__main__":
    main()
"""


def test_click_prompt_options_take_the_parameter_whatever_the_wording(
    run_agent: RunAgent,
) -> None:
    # "How many epochs" does not contain "n_epochs": only the option's name can match it.
    run = run_agent(CLICK_PROMPTS, params={"n_epochs": "3", "name": "cnn"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "trained 6 cnn\n"  # typed by click, and no prompt shown
    assert run.params() == {"n_epochs": ("3", "click"), "name": ("cnn", "click")}
    assert not run.of("prompt")


def test_click_prompt_without_parameter_names_the_option_to_set(run_agent: RunAgent) -> None:
    run = run_agent(CLICK_PROMPTS, params={"name": "cnn"})
    assert run.returncode == 2
    assert "'How many epochs:'" in run.stderr
    assert "--param n_epochs=" in run.stderr  # not the prompt's words, "how_many_epochs"
    exc = run.end["exception"]
    assert exc["type"] == "UnansweredPrompt" and "n_epochs" in exc["message"]


def test_argparse_required_exclusive_group_is_satisfied_by_a_parameter(
    run_agent: RunAgent,
) -> None:
    script = """
    import argparse
    p = argparse.ArgumentParser()
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--adam", action="store_true")
    g.add_argument("--sgd", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("train").add_argument("--epochs", type=int, required=True)
    a = p.parse_args()
    print(a.adam, a.sgd, a.cmd, a.epochs)
    """
    run = run_agent(script, "train", params={"sgd": True, "epochs": "7"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "True", "train", "7"]
    assert run.params() == {"sgd": (True, "argparse"), "epochs": (7, "argparse")}
    run = run_agent(script, "train", params={"epochs": 7})  # the group still needs one
    assert run.returncode == 2 and "one of the arguments --adam --sgd is required" in run.stderr


def test_sigterm_runs_the_scripts_cleanup_and_ends_with_an_end_event(
    staged_agent: Path, tmp_path: Path
) -> None:
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import time
            try:  # "started" inside: a SIGTERM right after it must still run the cleanup
                print("started", flush=True)
                for _ in range(600):  # short sleeps, as a training loop's steps: CPython runs
                    time.sleep(0.1)   # a handler between bytecodes, so a signal that lands just
            finally:                  # before one long sleep() would wait for it to end
                print("cleanup ran", flush=True)
            """
        )
    )
    proc, out, err = _sigterm_once_started(staged_agent, tmp_path, timeout=30)
    assert proc.returncode == -signal.SIGTERM  # still "killed by SIGTERM" for the runtime
    assert out == "cleanup ran\n"
    ends = [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "end"]
    assert len(ends) == 1, err
    assert ends[0]["status"] == "error"
    exc = ends[0]["exception"]
    # raised where the script was when the signal landed: the print's return or a sleep
    assert (exc["type"], exc["file"]) == ("Terminated", "train.py")
    assert exc["line"] in (4, 5, 6), exc


def test_a_sigterm_whose_exception_is_swallowed_still_ends_the_script(
    staged_agent: Path, tmp_path: Path
) -> None:
    """The handler's ``Terminated`` raised in Python code that C calls and whose errors it drops
    (here a ``__del__``; in Keras, TensorFlow's fast path calling ``TensorShape.__len__``) is
    lost: the agent's watchdog still ends the script by the signal, with its ``end`` event."""
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import time

            class Batch:
                def __del__(self):  # a resource's release: Python run from C, which drops
                    time.sleep(0.1)  # an exception raised in it ("Exception ignored in")

            print("started", flush=True)
            for _ in range(300):
                Batch()
            print("training finished", flush=True)
            """
        )
    )
    proc, out, err = _sigterm_once_started(staged_agent, tmp_path, timeout=120)
    assert out == "", err  # the loop (30 s) did not go on to its end
    assert proc.returncode == -signal.SIGTERM
    ends = [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "end"]
    assert len(ends) == 1, err
    assert (ends[0]["status"], ends[0]["exception"]["type"]) == ("error", "Terminated")
    assert ends[0]["exception"]["file"] == "train.py", ends[0]


def test_the_watchdog_lets_a_stopped_training_save_what_it_keeps(
    staged_agent: Path, tmp_path: Path
) -> None:
    """A fit stopped by SIGTERM saves its best epoch's model (``signals.keeping``): the watchdog
    waits for that save past its 2 s grace (here 3 s of saving), then the script ends."""
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import time
            from trainchain.agent import signals

            try:
                print("started", flush=True)
                for _ in range(600):
                    time.sleep(0.1)
            except signals.Terminated:
                with signals.keeping():  # as the Keras hook saves the best epoch's model
                    for _ in range(30):
                        time.sleep(0.1)
                    print("kept", flush=True)
                raise
            """
        )
    )
    proc, out, err = _sigterm_once_started(staged_agent, tmp_path, timeout=60)
    assert out == "kept\n", err  # not ended by the watchdog in the middle of the save
    assert proc.returncode == -signal.SIGTERM
    ends = [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "end"]
    assert len(ends) == 1 and ends[0]["exception"]["type"] == "Terminated", ends


def _sigterm_once_started(
    staged_agent: Path, tmp_path: Path, timeout: float
) -> tuple[subprocess.Popen[str], str, str]:
    """Run ``train.py`` under the agent, SIGTERM it once it prints "started"; (process, the
    rest of its stdout, its stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainchain.agent", "train.py"],
        cwd=tmp_path, env=agent_env(staged_agent, tmp_path, {}), text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout)
    return proc, out, err


class _Iterator:
    """Shaped like Keras 2's ImageDataGenerator iterators: batch_size read per epoch."""

    def __init__(self, n: int, batch_size: int) -> None:
        self.n, self.batch_size = n, batch_size

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __getitem__(self, index: int) -> list[int]:
        return list(range(self.n))[index * self.batch_size : (index + 1) * self.batch_size]


@pytest.mark.parametrize(
    ("kwargs", "size", "steps"),
    [
        ({"x": _Iterator(96, 16), "steps_per_epoch": 6}, 32, 3),  # len(gen) at batch 16
        ({"x": _Iterator(96, 16), "steps_per_epoch": 6}, 5, 20),  # smaller: more steps
        ({"x": _Iterator(96, 16)}, 32, None),  # Keras counts the steps itself
        ({"x": [[0.0]] * 64, "steps_per_epoch": 4}, 8, 16),  # arrays, fit's default 32
        ({"x": [[0.0]] * 64, "batch_size": 16, "steps_per_epoch": 4}, 16, 4),
    ],
)
def test_batch_size_knob_keeps_the_samples_per_epoch(
    kwargs: dict[str, Any], size: int, steps: int | None
) -> None:
    from trainchain.agent.keras_resume import set_batch_size

    assert set_batch_size(kwargs, size)
    assert kwargs.get("steps_per_epoch") == steps
    x = kwargs["x"]
    assert (x.batch_size if isinstance(x, _Iterator) else kwargs["batch_size"]) == size
    if isinstance(x, _Iterator) and steps is not None:
        assert steps == len(x)  # exactly one pass over the data, as the script intended


KERAS2_SCRIPT = """
import os, time
import numpy as np
from keras.models import Sequential
from keras.layers import Convolution2D, MaxPooling2D, Flatten, Dense
from keras.optimizers import Adam
from keras.preprocessing.image import ImageDataGenerator
from keras.callbacks import Callback

EPOCHS = 2
rng = np.random.default_rng(0)
x = rng.random((96, 16, 16, 3)).astype("float32")
y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")

class Report(Callback):
    def on_epoch_begin(self, epoch, logs=None):
        print(f"begin {epoch + 1} {int(self.model.optimizer.iterations)}", flush=True)
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(float(os.environ.get("SLOW", "0")))

model = Sequential()
model.add(Convolution2D(8, (3, 3), input_shape=(16, 16, 3), activation="relu"))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(16, activation="relu"))
model.add(Dense(1, activation="sigmoid"))
model.compile(optimizer=Adam(lr=0.001), loss="binary_crossentropy", metrics=["accuracy"])
print("lr", round(float(model.optimizer.learning_rate.numpy()), 4), model.count_params())
gen = ImageDataGenerator(horizontal_flip=True).flow(x, y, batch_size=16)
model.fit_generator(gen, steps_per_epoch=len(gen), epochs=EPOCHS, validation_data=(x, y),
                    verbose=0, callbacks=[Report()])
loss, acc = model.evaluate_generator(ImageDataGenerator().flow(x, y, batch_size=16), steps=6)
"""


def _keras2_python() -> str:
    python = os.environ.get("TRAINCHAIN_KERAS2_PYTHON", "")
    require(
        bool(python) and os.access(python, os.X_OK),
        "no Keras 2 interpreter: set TRAINCHAIN_KERAS2_PYTHON to a python with "
        "tensorflow-cpu==2.15.1 (python -m venv /opt/keras2 && /opt/keras2/bin/pip install "
        "tensorflow-cpu==2.15.1)",
    )
    return python


@pytest.mark.slow
def test_keras2_legacy_script_knobs_and_resume_after_kill_9(
    staged_agent: Path, tmp_path: Path
) -> None:
    python = _keras2_python()
    (tmp_path / "train.py").write_text(KERAS2_SCRIPT)
    params = {"EPOCHS": 4, "keras.learning_rate": 0.01, "keras.batch_size": 32,
              "keras.width": 2, "keras.dropout": 0.25}  # fmt: skip
    env = {**agent_env(staged_agent, tmp_path, params), "SLOW": "1"}
    events_path = tmp_path / "events.jsonl"
    cmd = [python, "-m", "trainchain.agent", "train.py"]
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if any(e["type"] == "checkpoint" and e.get("epoch") == 2 for e in read_events(events_path)):
            break
        time.sleep(0.2)
    first.kill()  # SIGKILL: no cleanup, no end event
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    killed = read_events(events_path)
    assert not [e for e in killed if e["type"] == "end"]

    second = subprocess.run(cmd, cwd=tmp_path, env={**env, "SLOW": "0"}, capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    events = read_events(events_path)[len(killed) :]
    assert events[0]["type"] == "start" and events[0]["resumed"] is True
    epochs = [e["epoch"] for e in events if e["type"] == "epoch"]
    assert epochs and epochs[0] == 3 and epochs[-1] == 4  # resumed, not restarted
    lines = second.stdout.splitlines()
    assert lines[0].startswith("lr 0.01 ")  # Adam(lr=...) replaced by the knob
    # batch 32 over 96 samples: 3 steps per epoch, so 2 finished epochs = 6 optimizer steps
    assert "begin 3 6" in lines
    arch = [e for e in events if e["type"] == "architecture"][0]
    assert arch["applied"] is True and arch["after"]["layers"] == arch["before"]["layers"] + 1
    assert arch["after"]["params"] == int(lines[0].split()[-1])  # what the script built
    assert arch["after"]["params"] != arch["before"]["params"]
    model = [e for e in events if e["type"] == "model"][-1]
    assert model["path"].endswith("model.h5") and Path(model["path"]).exists()
    evaluated = {e["name"] for e in events if e["type"] == "metric"}
    assert {"loss", "accuracy"} <= evaluated
    assert events[-1]["type"] == "end" and events[-1]["status"] == "ok"


def test_notebook_display_works_as_in_jupyter(run_agent: RunAgent) -> None:
    source = ["scores = {'test_accuracy': 0.5}\n", "display(scores, 'done')\n"]
    cell: dict[str, Any] = {"cell_type": "code", "metadata": {}, "outputs": [],
                            "execution_count": None, "source": source}  # fmt: skip
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    run = run_agent(json.dumps(nb), name="train.ipynb")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "{'test_accuracy': 0.5}\ndone\n"
    assert run.end["status"] == "ok"


def test_input_without_prompt_text_is_matched_by_the_printed_question(
    run_agent: RunAgent,
) -> None:
    script = """
    print("Enter no_of_epoch:", end=" ")
    n = int(input())
    print("Number of layers?")
    k = int(input())
    print("got", n, k)
    """
    run = run_agent(script, params={"no_of_epoch": 5, "number_of_layers": 2})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["Enter no_of_epoch: 5", "Number of layers?", "2", "got 5 2"]
    prompts = [(p["prompt"].strip(), p["param"]) for p in run.of("prompt")]
    assert prompts == [
        ("Enter no_of_epoch:", "no_of_epoch"),
        ("Number of layers?", "number_of_layers"),
    ]
    run = run_agent(script, params={"number_of_layers": 2})
    assert run.returncode == 2
    assert "'Enter no_of_epoch:'" in run.stderr and "--param no_of_epoch=" in run.stderr


def test_the_agents_exit_flushes_what_the_script_left_open_and_runs_its_finalizers(
    run_agent: RunAgent,
) -> None:
    """The interpreter's teardown takes 1 s with TensorFlow loaded, mostly the garbage
    collector; ``gc.freeze()`` before it took 0.1 s but lost this unclosed file (the script's
    functions hold its globals in a cycle only the collector frees). The agent exits the slow
    way: the file is flushed, the dropped cycle finalized, and atexit runs."""
    run = run_agent(
        """
        import atexit, pathlib

        log = open("unclosed.txt", "w")
        log.write("written, never closed")

        class Finalized:
            def __del__(self):
                pathlib.Path("finalized.txt").write_text("yes")

        cycle = Finalized()
        cycle.me = cycle
        del cycle  # garbage now, reachable from nothing: the collector's before the freeze
        atexit.register(lambda: pathlib.Path("atexit.txt").write_text("ran"))
        print("accuracy: 0.5")
        """
    )
    assert run.returncode == 0, run.stderr
    assert (run.workdir / "unclosed.txt").read_text() == "written, never closed"
    assert (run.workdir / "atexit.txt").read_text() == "ran"
    assert (run.workdir / "finalized.txt").read_text() == "yes"
