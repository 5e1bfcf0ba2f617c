"""Replays of library downloads for trials without network (trainchain.dataset_replay): what
detection keeps of the call (its literal arguments only), the command the download container
runs (trainchain's replay module, with the cache path filled in; never the user's script), and
the container itself (``runtimes.docker_prefetch``: no working copy, only the cache writable).
torch and tensorflow_datasets are not installed here: their replays are checked as commands."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from trainchain.dataset_replay import REPLAY_MODULE, describe, replay_command, replay_spec
from trainchain.detection.downloads import find_downloads
from trainchain.detection.facts import analyze
from trainchain.stages.inputs import MissingInputError, plan_inputs

CACHE = "/trainchain/datasets"


def _download(source: str) -> dict[str, Any]:
    tree = ast.parse(source)
    found = find_downloads({"train.py": tree}, {"train.py": analyze("train.py", tree).aliases})
    assert len(found) == 1, found
    return found[0].to_dict()


def _spec(source: str) -> dict[str, Any] | None:
    return replay_spec(_download(source), CACHE)


@pytest.mark.parametrize(
    ("source", "replayed"),
    [
        (
            "from sklearn.datasets import fetch_covtype\nx = fetch_covtype()",
            "sklearn.datasets.fetch_covtype(data_home='/trainchain/datasets/sklearn')",
        ),
        (  # the script's own data_home is not the cache the trials read: replaced
            "import sklearn.datasets as d\n"
            "d.fetch_20newsgroups(subset='train', categories=['sci.space'], "
            "data_home='/home/me/data', download_if_missing=False)",
            "sklearn.datasets.fetch_20newsgroups(subset='train', categories=['sci.space'], "
            "download_if_missing=True, data_home='/trainchain/datasets/sklearn')",
        ),
        (
            "from sklearn.datasets import fetch_openml\nNAME = 'adult'\n"
            "fetch_openml(NAME, version=2, as_frame=False)",
            "sklearn.datasets.fetch_openml('adult', version=2, as_frame=False, "
            "data_home='/trainchain/datasets/sklearn')",
        ),
        (  # transforms are objects and choose nothing downloaded: left out
            "from torchvision import datasets, transforms\n"
            "datasets.CIFAR10(root='data', train=False, download=True, "
            "transform=transforms.ToTensor())",
            "torchvision.datasets.CIFAR10('/trainchain/datasets/torchvision', train=False, "
            "download=True)",
        ),
        (
            "import torchvision\ntorchvision.datasets.MNIST('./data', True, None, download=True)",
            "torchvision.datasets.MNIST('/trainchain/datasets/torchvision', True, None, "
            "download=True)",
        ),
        (  # the split is read later from what load() prepared: the whole dataset is fetched
            "import tensorflow_datasets as tfds\n"
            "ds = tfds.load('mnist', split='train', as_supervised=True)",
            "tensorflow_datasets.load('mnist', data_dir='/trainchain/datasets/tensorflow_datasets'"
            ", download=True)",
        ),
        (
            "import tensorflow_datasets as tfds\n"
            "b = tfds.builder(name='cifar10', builder_kwargs={'config': 'plain'})",
            "tensorflow_datasets.load('cifar10', builder_kwargs={'config': 'plain'}, "
            "data_dir='/trainchain/datasets/tensorflow_datasets', download=True)",
        ),
    ],
)
def test_a_literal_call_is_replayed_with_the_cache_filled_in(source: str, replayed: str) -> None:
    spec = _spec(source)
    assert spec is not None
    assert describe(spec) == replayed
    command = replay_command(spec)
    assert command[:3] == ["python", "-m", REPLAY_MODULE]
    assert json.loads(command[3]) == spec  # one argument: no shell, nothing of the script


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nfrom sklearn.datasets import fetch_openml\nfetch_openml(sys.argv[1])",
        "from sklearn.datasets import fetch_openml\nkw = {}\nfetch_openml('a', **kw)",
        "from torchvision import datasets\nROOT = make()\ndatasets.MNIST(ROOT, download=True)",
        "from torchvision import datasets\ndatasets.MNIST('d', train=flag(), download=True)",
        "import tensorflow_datasets as tfds\ntfds.load(pick())",
        # a URL the script names is fetched by the controller only over https from a public
        # address: never by a container that has network
        "from sklearn.datasets import fetch_file\nfetch_file('http://10.0.0.5/x.csv')",
    ],
)
def test_a_call_whose_arguments_need_the_script_is_not_replayed(source: str) -> None:
    assert _spec(source) is None


def test_docker_trials_get_a_replay_and_the_rest_keeps_the_fill_the_cache_hint(
    tmp_path: Path,
) -> None:
    literal = _download("from sklearn.datasets import fetch_covtype\nfetch_covtype()")
    plan = plan_inputs(
        {"downloads": [literal]}, {}, tmp_path, offline=False, trials_online=False, replays=True
    )
    assert plan.replays == [literal]
    # local trials download for themselves; a runtime that cannot replay keeps the hint
    assert plan_inputs({"downloads": [literal]}, {}, tmp_path, offline=False).replays == []
    with pytest.raises(MissingInputError, match="the trials have no network"):
        plan_inputs({"downloads": [literal]}, {}, tmp_path, offline=False, trials_online=False)
    # a machine declared offline replays nothing: the hint names the cache to fill
    with pytest.raises(MissingInputError, match="cannot reach"):
        plan_inputs(
            {"downloads": [literal]}, {}, tmp_path, offline=True, trials_online=False, replays=True
        )
    computed = _download(
        "import sys\nfrom sklearn.datasets import fetch_openml\nfetch_openml(sys.argv[1])"
    )
    with pytest.raises(MissingInputError) as info:
        plan_inputs(
            {"downloads": [computed]},
            {},
            tmp_path,
            offline=False,
            trials_online=False,
            replays=True,
        )
    assert "train.py:3" in info.value.message
    assert f"SCIKIT_LEARN_DATA={tmp_path / 'sklearn'}" in info.value.message
