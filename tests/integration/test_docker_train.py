"""The seed's promise, for real: build the sklearn and keras images, ``docker run`` them on a
tiny project, and find the trained model and its metrics on the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.contract.helpers import build_options, docker_client, read_events
from tests.services import require

from trainchain.cli import cli
from trainchain.profiles import profile_packages
from trainchain.runtimes import image_build, images

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

SKLEARN_TRAIN = """\
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

EPOCHS = 5

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
model = SGDClassifier(max_iter=EPOCHS, tol=None, random_state=0)
model.fit(X_train, y_train)
print(f"accuracy={model.score(X_train, y_train):.4f}")
print(f"val_accuracy: {model.score(X_test, y_test):.4f}")
"""

KERAS_TRAIN = """\
import keras
from sklearn.datasets import load_digits

EPOCHS = 3

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
model = keras.Sequential([
    keras.Input(shape=(64,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(X, y, epochs=EPOCHS, batch_size=64, validation_split=0.2, verbose=2)
"""


def _docker_run(image: str, project: Path, out: Path, *args: str, user: str) -> str:
    docker = shutil.which("docker")
    require(docker is not None, "the docker CLI is not installed (apt-get install docker.io)")
    assert docker is not None
    cmd = [docker, "run", "--rm", "--network", "none", "--user", user,
           "-v", f"{project}:/code:ro", "-v", f"{out}:/output", image, *args]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _build(profile: str, extra: tuple[str, ...] = ()) -> tuple[str, float]:
    options = build_options()
    plan = images.env_plan(profile, profile_packages(profile), extra, options)
    started = time.monotonic()
    with docker_client() as client:
        image_build.ensure_image(client, plan, lambda line: None)
    return plan.tag, time.monotonic() - started


def _project(root: Path, code: str) -> Path:
    root.mkdir()
    (root / "train.py").write_text(code)
    return root


def _out(root: Path) -> Path:
    root.mkdir()
    root.chmod(0o777)  # the second run uses a uid that owns nothing here
    return root


def test_sklearn_image_trains_on_launch(tmp_path: Path) -> None:
    tag, seconds = _build("sklearn")
    print(f"sklearn image {tag}: ensured in {seconds:.1f}s")
    project = _project(tmp_path / "project", SKLEARN_TRAIN)
    out = _out(tmp_path / "out")
    log = _docker_run(tag, project, out, user=f"{os.getuid()}:{os.getgid()}")
    assert "trainchain: entrypoint train.py" in log  # found without being told
    events = read_events(out / "events.jsonl")
    metrics = {e["name"]: e["value"] for e in events if e["type"] == "metric"}
    assert metrics["val_accuracy"] > 0.8, log
    models = [e for e in events if e["type"] == "model"]
    assert models, f"no model saved: {log}"
    saved = out / Path(models[-1]["path"]).name
    assert saved.is_file() and saved.stat().st_size > 1000
    assert saved.stat().st_uid == os.getuid()
    assert not (project / "model.pkl").exists()  # the project stayed untouched

    # any uid works, even one with no account in the image (HOME, scratch copy of /code)
    other = _out(tmp_path / "out-other-uid")
    _docker_run(tag, project, other, "train.py", user="4321:4321")
    assert (other / "events.jsonl").stat().st_uid == 4321


def test_keras_image_trains_on_launch(tmp_path: Path) -> None:
    tag, seconds = _build("keras", ("scikit-learn==1.9.1",))  # the project also imports sklearn
    print(f"keras image {tag}: ensured in {seconds:.1f}s")
    project = _project(tmp_path / "project", KERAS_TRAIN)
    out = _out(tmp_path / "out")
    params = json.dumps({"EPOCHS": 2})
    cmd_user = f"{os.getuid()}:{os.getgid()}"
    docker = shutil.which("docker")
    require(docker is not None, "the docker CLI is not installed")
    assert docker is not None
    result = subprocess.run(
        [docker, "run", "--rm", "--network", "none", "--user", cmd_user, "-e",
         f"TRAINCHAIN_PARAMS={params}", "-v", f"{project}:/code:ro", "-v", f"{out}:/output", tag],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    events = read_events(out / "events.jsonl")
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2], log  # EPOCHS rewritten from the parameters
    assert "val_accuracy" in epochs[-1]["metrics"]
    models = [e for e in events if e["type"] == "model"]
    assert models and models[-1]["framework"] == "keras", log
    assert (out / Path(models[-1]["path"]).name).is_file()


def test_baked_image_trains_without_a_code_mount(tmp_path: Path) -> None:
    options = build_options()
    project = _project(tmp_path / "digits", SKLEARN_TRAIN)
    args = ["images", "build", str(project), "--bake", "--base-image", str(options.base_image)]
    if options.ca_certs:
        args += ["--ca-certs", str(options.ca_certs)]
    built = CliRunner().invoke(cli, [*args, "-q"], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    tag = built.stdout.strip().splitlines()[-1]
    assert tag.startswith("trainchain/baked-digits:")  # sklearn detected, code in /app
    out = _out(tmp_path / "out")
    docker = shutil.which("docker")
    require(docker is not None, "the docker CLI is not installed")
    assert docker is not None
    result = subprocess.run(
        [docker, "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
         "-v", f"{out}:/output", tag],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = {
        e["name"]: e["value"] for e in read_events(out / "events.jsonl") if e["type"] == "metric"
    }
    assert metrics["val_accuracy"] > 0.8
