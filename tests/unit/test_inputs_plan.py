"""job2's inputs check (stages/inputs.py) over real detections of fixture-like projects:
what stops a run before training, what is mapped without asking, what offline means."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trainchain.profiles import detect
from trainchain.stages.inputs import MissingInputError, plan_inputs

REPOS = Path(__file__).resolve().parents[1] / "repos"


def _detection(case: str) -> dict[str, Any]:
    return detect(REPOS / case).to_dict()


def test_an_input_the_repository_lacks_stops_the_run_with_the_fix(tmp_path: Path) -> None:
    found = _detection("peer_random_architecture")
    with pytest.raises(MissingInputError) as info:
        plan_inputs(found, {}, tmp_path, offline=True)
    message = info.value.message
    assert info.value.exit_code == 2 and "nothing was trained" in message
    assert (
        "cnn_dataset/training_set/ (directory, keras.utils.image_dataset_from_directory at "
        "train.py:11)"
    ) in message
    assert "--data cnn_dataset=PATH" in message and "data: {cnn_dataset: PATH}" in message
    # given by the operator (the directory or one above what is read): nothing to map
    for data in ({"cnn_dataset": "/srv/catdog"}, {"cnn_dataset/": "/srv/catdog"}):
        assert plan_inputs(found, data, tmp_path, offline=True).data == {}


def test_an_author_path_is_mapped_to_the_repository_file_and_downloads_need_the_cache(
    tmp_path: Path,
) -> None:
    found = _detection("peer_two_scripts")
    with pytest.raises(MissingInputError) as info:  # offline, nothing cached
        plan_inputs(found, {}, tmp_path, offline=True)
    message = info.value.message
    assert "downloads 'fashion_mnist' at run time" in message
    cached = tmp_path / "keras" / "datasets" / "fashion-mnist"
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        assert str(cached / name) in message
    assert "/root/input.txt" not in message  # mapped by itself, not a problem
    cached.mkdir(parents=True)
    for item in found["downloads"][0]["files"]:
        (tmp_path / "keras" / "datasets" / item).write_bytes(b"x")
    plan = plan_inputs(found, {}, tmp_path, offline=True)
    assert plan.data == {"/root/input.txt": "input.txt"}
    assert any("reads the dataset cache" in note for note in plan.notes)
    # the operator's own file for that path wins over the repository's
    assert plan_inputs(found, {"/root/input.txt": "/srv/in.txt"}, tmp_path, True).data == {}


def test_online_a_download_is_left_to_the_first_trial(tmp_path: Path) -> None:
    found = _detection("loaders_missing_inputs")
    found["inputs"] = []
    plan = plan_inputs(found, {}, tmp_path, offline=False)
    assert plan.data == {"torch_data": str(tmp_path / "torchvision")}  # root= is the cache
    with pytest.raises(MissingInputError) as info:
        plan_inputs(found, {}, tmp_path, offline=True)
    assert "SCIKIT_LEARN_DATA=" in info.value.message and "'fetch_openml:adult'" in (
        info.value.message
    )
