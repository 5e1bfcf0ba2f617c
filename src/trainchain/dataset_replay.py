"""Replays: how a runtime without network in its trials (Docker) still fills the dataset cache.

A dataset downloaded by library code whose URLs live inside the library (scikit-learn's
``fetch_*``, torchvision's ``datasets.X(download=True)``, ``tensorflow_datasets.load``) has no
URL the controller could fetch itself. Before the baseline the runtime runs, once, in the
trial's own image (it has the library) but with network and the cache writable, a replay of the
detected call: ``python -m trainchain.agent.fetch_replay SPEC``, the library function with the
literal arguments the script gave it and the cache path filled in. Never the user's script: a
call whose arguments are not literals is not replayed (the run stops with the fill-the-cache
hint), and the trials keep reading the cache read-only, without network.
"""

from __future__ import annotations

import json
from typing import Any

REPLAY_MODULE = "trainchain.agent.fetch_replay"
# downloads named by the script (a URL it gives): the controller fetches those only over https
# from a public address (``datasets.refused``), which a replay in a container cannot promise
NOT_REPLAYED = frozenset({"sklearn.datasets.fetch_file"})


def replay_spec(item: dict[str, Any], cache: str) -> dict[str, Any] | None:
    """``{"call", "args", "kwargs"}`` replaying the detected download ``item`` into the dataset
    cache ``cache`` (as the replay's container sees it); None when it cannot be replayed."""
    literal = item.get("replay")
    call = str(item.get("call", ""))
    if not isinstance(literal, dict) or call in NOT_REPLAYED:
        return None
    args = list(literal.get("args") or [])
    kwargs = dict(literal.get("kwargs") or {})
    library = item.get("library")
    if library == "sklearn":
        kwargs["data_home"] = f"{cache}/sklearn"
        if "download_if_missing" in kwargs:
            kwargs["download_if_missing"] = True
    elif library == "torchvision":
        # root first: the trials' root= is this folder of the cache (``stages.inputs``)
        args = [f"{cache}/torchvision", *args]
        kwargs["download"] = True
    elif library == "tensorflow_datasets":
        name = args[0] if args else kwargs.pop("name", None)
        if not isinstance(name, str):
            return None
        call = "tensorflow_datasets.load"
        args = [name]
        kwargs.update(data_dir=f"{cache}/tensorflow_datasets", download=True)
    else:
        return None
    return {"call": call, "args": args, "kwargs": kwargs}


def replay_command(spec: dict[str, Any]) -> list[str]:
    """The replay container's command: trainchain's replay module, never the user's script."""
    return ["python", "-m", REPLAY_MODULE, json.dumps(spec, sort_keys=True)]


def describe(spec: dict[str, Any]) -> str:
    """``sklearn.datasets.fetch_covtype(data_home='/trainchain/datasets/sklearn')``."""
    parts = [repr(a) for a in spec["args"]]
    parts += [f"{k}={v!r}" for k, v in spec["kwargs"].items()]
    return f"{spec['call']}({', '.join(parts)})"
