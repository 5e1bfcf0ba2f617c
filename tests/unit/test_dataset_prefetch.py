"""The controller's prefetch into the dataset cache (trainchain.datasets) and the download lock
it shares with local trials (agent.download_lock), over a real HTTP server."""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.dataset_server import serve

from trainchain.detection.downloads import find_downloads
from trainchain.profiles import detect
from trainchain.stages.inputs import MissingInputError, plan_inputs

REPOS = Path(__file__).resolve().parents[1] / "repos"
FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


def _mirror(root: Path, size: int = 1 << 16) -> dict[str, bytes]:
    """A mirror of a dataset cache holding Fashion-MNIST's four files (distinct bytes)."""
    folder = root / "keras" / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    content = {}
    for index, name in enumerate(FILES):
        content[name] = bytes([index]) * size + name.encode()
        (folder / name).write_bytes(content[name])
    return content


def test_a_known_dataset_is_fetched_once_into_the_cache_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = detect(REPOS / "peer_two_scripts").to_dict()
    content = _mirror(tmp_path / "mirror")
    cache = tmp_path / "cache"
    said: list[str] = []
    with serve(tmp_path / "mirror") as http:
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        # the Docker runtime's trials have no network: the controller fetches it
        plan_inputs(found, {}, cache, trials_online=False, say=said.append)
        plan_inputs(found, {}, cache, trials_online=False, say=said.append)  # cached now
    where = cache / "keras" / "datasets" / "fashion-mnist"
    for name in FILES:
        assert (where / name).read_bytes() == content[name]
        assert http.requests[f"/keras/datasets/fashion-mnist/{name}"] == 1
    assert not list(where.glob("*.part"))
    assert sum("fetching" in line for line in said) == 4, said
    assert any("'fashion_mnist'" in line and "fetched" in line for line in said)


def test_a_failed_fetch_stops_the_run_naming_dataset_url_cache_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = detect(REPOS / "peer_two_scripts").to_dict()
    (tmp_path / "empty").mkdir()
    cache = tmp_path / "cache"
    with serve(tmp_path / "empty") as http:  # the mirror lacks the files: 404
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        with pytest.raises(MissingInputError) as info:
            plan_inputs(found, {}, cache, trials_online=False)
    message = info.value.message
    assert info.value.exit_code == 2 and "nothing was trained" in message
    assert "'fashion_mnist'" in message and "mymodel.py:10" in message
    assert f"{http.url}/keras/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" in message
    assert "404" in message
    where = cache / "keras" / "datasets" / "fashion-mnist"
    for name in FILES:  # where each file goes, and where it comes from
        assert f"{where / name}  <- https://storage.googleapis.com/" in message
    assert not [p for p in where.iterdir() if not p.name.endswith(".lock")]


def test_a_file_whose_hash_differs_is_never_put_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mirror" / "keras" / "datasets"
    folder.mkdir(parents=True)
    (folder / "mnist.npz").write_bytes(b"not the real mnist")  # Keras checks mnist's sha256
    found = {"downloads": [detect(REPOS / "peer_two_scripts").to_dict()["downloads"][0]]}
    found["downloads"][0] = {
        **found["downloads"][0],
        "dataset": "mnist",
        "files": ["mnist.npz"],
        "urls": ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"],
        "sha256": ["731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"],
    }
    with serve(tmp_path / "mirror") as http:
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        with pytest.raises(MissingInputError) as info:
            plan_inputs(found, {}, tmp_path / "cache", trials_online=False)
    assert "sha256" in info.value.message and "'mnist'" in info.value.message
    assert not (tmp_path / "cache" / "keras" / "datasets" / "mnist.npz").exists()


def test_docker_trials_cannot_fetch_a_dataset_without_a_known_url(tmp_path: Path) -> None:
    found = detect(REPOS / "loaders_missing_inputs").to_dict()
    found["inputs"] = []
    # local trials fetch it themselves; Docker trials have no network
    plan_inputs(found, {}, tmp_path, offline=False, trials_online=True)
    with pytest.raises(MissingInputError) as info:
        plan_inputs(found, {}, tmp_path, offline=False, trials_online=False)
    message = info.value.message
    assert "the trials have no network" in message and "'fetch_openml:adult'" in message
    assert f"SCIKIT_LEARN_DATA={tmp_path / 'sklearn'}" in message
    assert "--runtime local" in message


_CONTROLLER = """
import sys
from pathlib import Path
from trainchain.profiles import detect
from trainchain.detection.downloads import find_downloads
from trainchain.datasets import prefetch
item = detect(Path(sys.argv[1])).to_dict()["downloads"][0]
print(prefetch(item, Path(sys.argv[2]), print))
"""
_TRIAL = """
import sys, urllib.request
from trainchain.agent.download_lock import locked_urlretrieve
print(locked_urlretrieve(urllib.request.urlretrieve)(sys.argv[1], sys.argv[2], None))
"""


def test_a_prefetch_and_a_trial_racing_on_one_file_download_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = _mirror(tmp_path / "mirror", size=1 << 20)
    cache = tmp_path / "cache"
    target = cache / "keras" / "datasets" / "fashion-mnist" / FILES[0]
    with serve(tmp_path / "mirror", delay=1.0) as http:
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        path = f"/keras/datasets/fashion-mnist/{FILES[0]}"
        controller = subprocess.Popen(
            [sys.executable, "-c", _CONTROLLER, str(REPOS / "peer_two_scripts"), str(cache)],
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not http.requests[path] and time.monotonic() < deadline:
            time.sleep(0.05)  # the controller is downloading the first file (slow link) ...
        # ... when a local trial's Keras asks for the same file
        trial = subprocess.run(
            [sys.executable, "-c", _TRIAL, http.url + path, str(target)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        out, _ = controller.communicate(timeout=120)
    assert controller.returncode == 0 and trial.returncode == 0, trial.stderr
    assert out.strip().endswith("None"), out  # the controller's prefetch succeeded
    assert http.requests[path] == 1  # the trial waited for the lock and found the file
    assert target.read_bytes() == content[FILES[0]]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == (
        hashlib.sha256(content[FILES[0]]).hexdigest()
    )
    assert not list(target.parent.glob("*.part"))


def _get_file_download(origin: str) -> dict[str, object]:
    source = f"import keras\npath = keras.utils.get_file('data.csv', origin={origin!r})\n"
    found = find_downloads({"train.py": ast.parse(source)}, {"train.py": {}})
    return found[0].to_dict()


def test_a_url_the_script_names_is_fetched_only_over_https_from_a_public_host(
    tmp_path: Path,
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "data.csv").write_text("secret,internal\n")
    with serve(tmp_path / "site") as http:
        for origin, why in (
            (f"{http.url}/data.csv", "only https URLs"),  # the server's own network
            ("https://localhost/data.csv", "non-public address"),
        ):
            item = _get_file_download(origin)
            assert item["urls"] == [origin] and item["urls_from_script"] is True
            with pytest.raises(MissingInputError) as info:
                plan_inputs({"downloads": [item]}, {}, tmp_path / "cache", trials_online=False)
            assert why in info.value.message and origin in info.value.message
            assert str(tmp_path / "cache" / "keras" / "datasets" / "data.csv") in info.value.message
    assert not http.requests
