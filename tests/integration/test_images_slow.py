"""The heavy images (keras-legacy, pytorch): built and run once, kept out of the default run.

Opt in with ``TRAINCHAIN_BUILD_ALL_IMAGES=1`` (and ``-m slow``). The pytorch image needs the
CPU wheel of torch through ``TRAINCHAIN_WHEELS`` (e.g. /opt/wheels): PyPI's Linux wheels are
CUDA builds that pull in gigabytes of nvidia-* packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests.contract.helpers import build_options, docker_client, read_events
from tests.services import require

from trainchain.runtimes import image_build, images

# `heavy`: kept out of the default run (`make test` deselects it; ~5 min per image here);
# run with `pytest -m heavy` (TRAINCHAIN_WHEELS=/opt/wheels for the pytorch CPU wheel).
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.heavy, pytest.mark.timeout(3600)]

LEGACY_TRAIN = """\
import numpy as np
from keras.layers import Dense
from keras.models import Sequential

EPOCHS = 2

rng = np.random.default_rng(0)
x = rng.normal(size=(512, 8)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = Sequential([Dense(16, activation="relu", input_shape=(8,)), Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=EPOCHS, batch_size=32, validation_split=0.25, verbose=2)
"""

TORCH_TRAIN = """\
import os
import torch

EPOCHS = 3

torch.manual_seed(0)
x = torch.randn(512, 8)
y = (x.sum(dim=1) > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.Adam(model.parameters(), lr=0.05)
for epoch in range(EPOCHS):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    print(f"epoch {epoch + 1} loss={loss.item():.4f}", flush=True)
accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
torch.save(model.state_dict(), os.path.join(os.environ["TRAINCHAIN_OUTPUT_DIR"], "model.pt"))
print(f"accuracy={accuracy:.4f}")
"""


def _build_and_run(profile: str, code: str, tmp_path: Path) -> tuple[Path, str]:
    options = build_options()
    plan = images.profile_plan(profile, options)
    started = time.monotonic()
    with docker_client() as client:
        image_build.ensure_image(client, plan, lambda line: None)
    print(f"{profile} image {plan.tag}: ensured in {time.monotonic() - started:.1f}s")
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(code)
    out = tmp_path / "out"
    out.mkdir()
    docker = shutil.which("docker")
    require(docker is not None, "the docker CLI is not installed")
    assert docker is not None
    result = subprocess.run(
        [docker, "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
         "-v", f"{project}:/code:ro", "-v", f"{out}:/output", plan.tag],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return out, log


def test_keras_legacy_image_trains_on_launch(tmp_path: Path) -> None:
    out, log = _build_and_run("keras-legacy", LEGACY_TRAIN, tmp_path)
    events = read_events(out / "events.jsonl")
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2], log
    models = [e for e in events if e["type"] == "model"]
    assert models and (out / Path(models[-1]["path"]).name).exists(), log


def test_pytorch_image_trains_on_launch(tmp_path: Path) -> None:
    require(
        bool(os.environ.get("TRAINCHAIN_WHEELS")),
        "set TRAINCHAIN_WHEELS to the torch CPU wheel's dir",
    )
    out, log = _build_and_run("pytorch", TORCH_TRAIN, tmp_path)
    assert (out / "model.pt").stat().st_size > 0
    metrics = {
        e["name"]: e["value"] for e in read_events(out / "events.jsonl") if e["type"] == "metric"
    }
    assert 0.5 < metrics["accuracy"] <= 1.0, log
