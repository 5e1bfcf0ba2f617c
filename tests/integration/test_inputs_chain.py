"""Issue 16 end to end on the local runtime: inputs the repository lacks stop a run before
training (and train with --data), a run-time download reads the machine's dataset cache, an
author's absolute path is served from the repository, and every trial records its seed."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from tests.cli import run_json
from tests.contract.helpers import build_options
from tests.dataset_server import serve
from tests.services import require_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

REPOS = Path(__file__).resolve().parents[1] / "repos"
RUNTIMES = [pytest.param("local"), pytest.param("docker", marks=pytest.mark.docker)]


def _runtime_args(runtime: str) -> tuple[list[str], dict[str, str]]:
    """``--runtime`` and its environment: Docker needs the local base image (no registry)."""
    if runtime == "local":
        return [], {}
    options = build_options()  # skips locally, fails in CI, without an engine or base image
    return ["--runtime", "docker"], {"TRAINCHAIN_BASE_IMAGE": options.base_image}


def _copy_fixture(case: str, tmp_path: Path) -> Path:
    target = tmp_path / case
    shutil.copytree(REPOS / case, target, ignore=shutil.ignore_patterns("expect.yaml"))
    return target


def _catdog_subset(tmp_path: Path, train: int, test: int) -> Path:
    """A few hundred real cat/dog JPEGs from ../shared/data/catdog, copied."""
    source = require_shared_data("catdog")
    target = tmp_path / "catdog"
    for split, count in (("training_set", train), ("test_set", test)):
        for label in ("cats", "dogs"):
            folder = target / split / label
            folder.mkdir(parents=True)
            for image in sorted((source / split / label).glob("*.jpg"))[:count]:
                shutil.copyfile(image, folder / image.name)
    return target


def test_a_missing_data_directory_stops_before_training_with_the_fix(tmp_path: Path) -> None:
    repo = _copy_fixture("peer_random_architecture", tmp_path)
    proc, report = run_json(str(repo), "--no-tune")
    assert proc.returncode == 2, proc.stderr
    error = report["error"]
    assert "cnn_dataset/training_set/" in error and "--data cnn_dataset=PATH" in error
    assert "nothing was trained" in error and "Traceback" not in proc.stderr
    assert report["status"] == "failed" and report["trials"] == []
    assert report["stages"]["detect"] == "failed" and "train" not in report["stages"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_random_architecture_with_data_trains_every_epoch_with_a_recorded_seed(
    tmp_path: Path, runtime: str
) -> None:
    flags, env = _runtime_args(runtime)
    repo = _copy_fixture("peer_random_architecture", tmp_path)
    # unmodified: after fit the script writes to the author's /root/final, which is not there
    assert not Path("/root/final").exists(), "this test needs /root/final to be absent"
    data = _catdog_subset(tmp_path, train=48, test=24)
    proc, report = run_json(
        str(repo), "--no-tune", "--data", f"cnn_dataset={data}", *flags, env=env, timeout=2400
    )
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:3000]
    trial = report["trials"][0]
    assert isinstance(trial["seed"], int)
    assert trial["state"] == "complete", trial
    epochs = trial["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all("val_accuracy" in e["metrics"] for e in epochs)  # validated every epoch
    assert 0.0 <= trial["value"] <= 1.0  # fit()'s metric is kept ...
    assert "train.py:32" in (trial.get("warning") or ""), trial  # ... the crash is a warning


def _idx(path: Path, array: np.ndarray) -> None:
    """An IDX file, gzipped, as Fashion-MNIST ships (labels 2049, images 2051)."""
    header = struct.pack(">I", 2049 if array.ndim == 1 else 2051)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _tiny_fashion_mnist(folder: Path, train: int = 300, test: int = 100) -> None:
    """Learnable 28x28 images: each class is a bright band at its own rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, count)
        images = rng.integers(0, 60, (count, 28, 28))
        for index, label in enumerate(labels):
            images[index, 2 * label + 4 : 2 * label + 7, :] = 250
        _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        _idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)


# in Docker the cache is mounted read-only under an unprivileged uid: the agent's writable
# shadow of it is what lets Keras' get_file() find the files instead of downloading again
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_two_scripts_a_download_and_an_author_path_run_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    flags, env = _runtime_args(runtime)
    repo = _copy_fixture("peer_two_scripts", tmp_path)
    cache = tmp_path / "datasets"
    monkeypatch.setenv("TRAINCHAIN_DATASETS_DIR", str(cache))
    monkeypatch.setenv("TRAINCHAIN_OFFLINE", "1")  # as this machine is, for dataset hosts
    proc, report = run_json(str(repo), "--no-tune")
    assert proc.returncode == 2, proc.stderr
    where = cache / "keras" / "datasets" / "fashion-mnist"
    assert "downloads 'fashion_mnist'" in report["error"]
    assert str(where / "train-images-idx3-ubyte.gz") in report["error"]
    assert report["trials"] == []

    _tiny_fashion_mnist(where)  # the files Keras looks for, placed once for the machine
    proc, report = run_json(str(repo), "--no-tune", *flags, env=env, timeout=2400)
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:3000]
    trial = report["trials"][0]
    assert trial["state"] == "complete", trial
    # the baseline keeps the script's own values: its prompts read the repository's
    # input.txt (epochs 2) through /root/input.txt
    assert trial["params"] == {} and [e["epoch"] for e in trial["epochs"]] == [1, 2]
    assert isinstance(trial["seed"], int)
    assert trial["value"] > 0.5  # the bands are learnable: it read our files, not noise
    assert not list(where.glob("*.tmp*")) and sorted(p.name for p in where.iterdir()) == sorted(
        [
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        ]
    )


FASHION = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


# Docker trials have no network: the controller fetches the dataset into the machine's cache
# before the baseline (here from a mirror this test serves), once; the trial trains offline
@pytest.mark.docker
def test_docker_trials_train_on_a_dataset_the_controller_prefetched_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags, env = _runtime_args("docker")
    repo = _copy_fixture("peer_two_scripts", tmp_path)
    mirror = tmp_path / "mirror"
    _tiny_fashion_mnist(mirror / "keras" / "datasets" / "fashion-mnist")
    cache = tmp_path / "datasets"
    monkeypatch.setenv("TRAINCHAIN_DATASETS_DIR", str(cache))
    with serve(mirror) as http:
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        proc, report = run_json(str(repo), "--no-tune", *flags, env=env, timeout=2400)
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:3000]
    where = cache / "keras" / "datasets" / "fashion-mnist"
    for name in FASHION:
        assert http.requests[f"/keras/datasets/fashion-mnist/{name}"] == 1
        assert (where / name).read_bytes() == (
            mirror / where.relative_to(cache) / name
        ).read_bytes()
    trial = report["trials"][0]
    assert trial["state"] == "complete", trial
    assert trial["value"] > 0.5  # the bands are learnable: it trained on the fetched files


@pytest.mark.docker
def test_a_dataset_the_controller_cannot_fetch_stops_a_docker_run_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags, env = _runtime_args("docker")
    repo = _copy_fixture("peer_two_scripts", tmp_path)
    cache = tmp_path / "datasets"
    monkeypatch.setenv("TRAINCHAIN_DATASETS_DIR", str(cache))
    (tmp_path / "empty").mkdir()
    with serve(tmp_path / "empty") as http:  # a mirror without the dataset
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        proc, report = run_json(str(repo), "--no-tune", *flags, env=env)
    assert proc.returncode == 2, proc.stderr
    error = report["error"]
    assert "downloads 'fashion_mnist'" in error and "nothing was trained" in error
    assert f"{http.url}/keras/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" in error
    where = cache / "keras" / "datasets" / "fashion-mnist"
    assert all(str(where / name) in error for name in FASHION)
    assert report["trials"] == [] and "Traceback" not in proc.stderr
