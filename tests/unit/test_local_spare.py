"""Warm starts on the local runtime: the next attempt's interpreter imports the script's
frameworks while the current trial trains (``runtimes/local_spare``, ``agent/warm``)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import pytest
from tests.contract.helpers import read_events, trial_spec

from trainchain.runtimes.base import Environment, TrialSpec
from trainchain.runtimes.local import LocalRuntime
from trainchain.states import OutcomeKind

pytestmark = pytest.mark.timeout(300)

# The script seeds NumPy itself before importing its framework: on a cold start the agent's
# Keras hook (set_random_seed: the trial's seed) runs at that import and wins. A warm start,
# whose Keras was imported before the script, must land it at the same point. Keras' import
# also draws from Python's random (seeded by the agent at start), and Keras seeds its layers'
# initializers from that stream: the weights must be the cold start's too.
SEEDED = """\
import os
import random
import numpy as np
np.random.seed(1)
import keras
EPOCHS = 1
layer = keras.layers.Dense(2)
layer.build((None, 3))
print("draw", float(np.random.rand()))
print("python", random.random(), float(keras.ops.sum(layer.kernel)))
print("pid", os.getpid())
print(f"accuracy: {EPOCHS / 10}")
"""
ENV = Environment("local", "k", python=sys.executable)


def _spec(tmp_path: Path, script: str, **fields: object) -> TrialSpec:
    workdir = tmp_path / "work"
    workdir.mkdir(parents=True)
    (workdir / "train.py").write_text(script)
    return trial_spec(tmp_path, workdir, run_id=f"spare-{uuid.uuid4().hex[:8]}", **fields)


def _released(blank: TrialSpec, seed: str = "7") -> TrialSpec:
    return dataclasses.replace(blank, params={"EPOCHS": 3}, extra_env={"TRAINCHAIN_SEED": seed})


def _ran(spec: TrialSpec, runtime: LocalRuntime) -> dict[str, str]:
    outcome = runtime.start(ENV, spec).wait(240)
    log = spec.log_path.read_text()
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, log
    pairs = [line.split(" ", 1) for line in log.splitlines() if " " in line]
    return {key: value for key, value in pairs if key in ("draw", "python", "pid")}


def test_a_warm_attempt_runs_in_its_spare_with_its_params_and_a_cold_starts_seeds(
    tmp_path: Path,
) -> None:
    cold = _ran(_released(_spec(tmp_path / "cold", SEEDED)), LocalRuntime(tmp_path / "envs"))

    runtime = LocalRuntime(tmp_path / "envs")
    blank = _spec(tmp_path / "warm", SEEDED, preload=("numpy", "keras"))
    runtime.prepare(ENV, blank)
    (spare,) = runtime._spares
    time.sleep(1)  # the spare imports while "the previous trial trains"
    spec = _released(blank)
    warm = _ran(spec, runtime)

    assert warm["pid"] == str(spare.proc.pid)  # the attempt ran in the spare's interpreter
    assert "accuracy: 0.3" in spec.log_path.read_text()  # its own parameters (EPOCHS=3)
    expected = float(np.random.RandomState(7).random_sample())  # the trial's seed, not the 1
    assert float(warm["draw"]) == float(cold["draw"]) == expected
    assert warm["python"] == cold["python"]  # Python's stream and Keras' initial weights
    (event,) = [e for e in read_events(spec.events_path) if e["type"] == "warm"]
    assert event["imported"] == ["numpy", "keras"] and event["seconds"] > 0
    assert runtime._spares == []


def test_a_framework_that_fails_to_import_ahead_makes_it_a_cold_start(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path / "envs")
    script = "EPOCHS = 1\nprint(f'accuracy: {EPOCHS / 10}')\n"
    blank = _spec(tmp_path, script, preload=("no_such_framework",))
    runtime.prepare(ENV, blank)
    spec = _released(blank)
    outcome = runtime.start(ENV, spec).wait(120)
    log = spec.log_path.read_text()
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, log
    assert "the warm start falls back to a cold one: importing no_such_framework failed" in log
    assert "accuracy: 0.3" in log
    events = read_events(spec.events_path)
    assert [e["type"] for e in events if e["type"] == "warm"] == []
    assert [e["status"] for e in events if e["type"] == "end"] == ["ok"]


def test_a_spare_nobody_starts_is_killed_with_its_runtime(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path / "envs")
    blank = _spec(tmp_path, "print('never runs')\n", preload=("numpy",))
    runtime.prepare(ENV, blank)
    (spare,) = runtime._spares
    runtime.close()
    assert spare.proc.returncode is not None  # reaped: gone
    assert "never runs" not in blank.log_path.read_text()


CONTROLLER = """\
import sys
from pathlib import Path
from tests.contract.helpers import trial_spec
from trainchain.runtimes.base import Environment
from trainchain.runtimes.local import LocalRuntime

root = Path(sys.argv[1])
runtime = LocalRuntime(root / "envs")
spec = trial_spec(root, root / "work", run_id="spare-orphan", preload=("numpy",))
runtime.prepare(Environment("local", "k", python=sys.executable), spec)
print(runtime._spares[0].proc.pid, flush=True)
import os
os._exit(0)  # dies without closing anything: the kernel closes the pipe's write end
"""


def test_a_spare_whose_controller_dies_exits_by_itself(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "train.py").write_text("print('never runs')\n")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CONTROLLER), str(tmp_path)],
        capture_output=True, text=True, cwd=repo, timeout=60, check=True,
    )  # fmt: skip
    spare = psutil.Process(int(out.stdout.strip()))
    try:
        spare.wait(60)  # end-of-file on its pipe once its numpy import is done: it exits
    except psutil.TimeoutExpired:
        spare.kill()
        raise
    assert "never runs" not in (tmp_path / "logs" / "trial.log").read_text()


SHADOW = "open('shadow-imports.txt', 'a').write('imported\\n')\nprint('the repository colorsys')\n"


def test_no_pushed_code_runs_ahead_and_a_shadowing_module_makes_the_start_cold(
    tmp_path: Path,
) -> None:
    """The spare imports installed packages only: the working copy's own ``colorsys.py`` is not
    run ahead (nor at all, for a spare nobody starts); released, the script's import gets the
    working copy's module, as on a cold start."""
    script = "import colorsys\nEPOCHS = 1\nprint(f'accuracy: {EPOCHS / 10}')\n"
    runtime = LocalRuntime(tmp_path / "envs")
    unused = _spec(tmp_path / "unused", script, preload=("colorsys",))
    (unused.workdir / "colorsys.py").write_text(SHADOW)
    runtime.prepare(ENV, unused)
    time.sleep(2)  # past its import of colorsys
    runtime.close()
    assert not (unused.workdir / "shadow-imports.txt").exists()

    blank = _spec(tmp_path / "used", script, preload=("colorsys",))
    (blank.workdir / "colorsys.py").write_text(SHADOW)
    runtime.prepare(ENV, blank)
    time.sleep(2)
    assert not (blank.workdir / "shadow-imports.txt").exists()
    spec = _released(blank)
    outcome = runtime.start(ENV, spec).wait(120)
    log = spec.log_path.read_text()
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, log
    assert "falls back to a cold one: train.py's directory has its own colorsys" in log
    assert (blank.workdir / "shadow-imports.txt").read_text() == "imported\n"
    assert "the repository colorsys" in log and "accuracy: 0.3" in log


def test_a_working_copy_made_again_after_the_spare_gets_a_cold_start(tmp_path: Path) -> None:
    """The spare's working directory is the one that existed at ``prepare``: a copy made again
    since (a new controller's fresh copy) would leave it in a deleted directory."""
    runtime = LocalRuntime(tmp_path / "envs")
    script = "EPOCHS = 1\nprint(f'accuracy: {EPOCHS / 10}')\n"
    blank = _spec(tmp_path, script, preload=("numpy",))
    runtime.prepare(ENV, blank)
    (spare,) = runtime._spares
    shutil.rmtree(blank.workdir)
    blank.workdir.mkdir()
    (blank.workdir / "train.py").write_text(script)
    spec = _released(blank)
    process = runtime.start(ENV, spec)
    outcome = process.wait(120)
    log = spec.log_path.read_text()
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, log
    assert process.id != str(spare.proc.pid) and spare.proc.returncode is not None
    assert "accuracy: 0.3" in log
    assert [e for e in read_events(spec.events_path) if e["type"] == "warm"] == []


def test_a_script_that_sets_environment_variables_gets_a_cold_start(tmp_path: Path) -> None:
    """Frameworks read variables such as KERAS_BACKEND or TF_ENABLE_ONEDNN_OPTS at their
    import: one imported ahead read them before the script set them."""
    script = (
        "import os\nos.environ['TF_ENABLE_ONEDNN_OPTS'] = '0'\nimport numpy\n"
        "EPOCHS = 1\nprint('pid', os.getpid())\nprint(f'accuracy: {EPOCHS / 10}')\n"
    )
    runtime = LocalRuntime(tmp_path / "envs")
    blank = _spec(tmp_path, script, preload=("numpy",))
    runtime.prepare(ENV, blank)
    (spare,) = runtime._spares
    spec = _released(blank)
    ran = _ran(spec, runtime)
    log = spec.log_path.read_text()
    assert "falls back to a cold one: train.py sets environment variables" in log
    assert "accuracy: 0.3" in log
    assert [e for e in read_events(spec.events_path) if e["type"] == "warm"] == []
    # exec'd in place: the same process, a fresh interpreter
    assert ran["pid"] == str(spare.proc.pid)
