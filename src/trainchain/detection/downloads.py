"""Run-time downloads: datasets the script fetches from the internet when it runs.

``keras.datasets.X.load_data()``, ``keras.utils.get_file``, torchvision datasets with
``download=True``, ``sklearn.datasets.fetch_*`` and ``tensorflow_datasets.load``. Each is
reported with where its library caches it, relative to the dataset cache
(``trainchain.datasets``), and the files that library looks for there, so an offline machine
can be given them by hand.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from trainchain.detection import knowledge as kb
from trainchain.detection.inputs import qualify, string_constants, string_value
from trainchain.detection.pyast import dotted


def _table() -> dict[str, dict[str, Any]]:
    text = resources.files("trainchain.detection").joinpath("datasets.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return dict(table["keras"])


# keras.datasets.<name>: the files get_file() looks for under $KERAS_HOME/datasets/ (Keras 2
# and 3 agree on these names), with where they come from (datasets.json)
KERAS_DATASETS = _table()
KERAS_FILES: dict[str, tuple[str, ...]] = {
    name: tuple(f["name"] for f in entry["files"]) for name, entry in KERAS_DATASETS.items()
}


@dataclass(frozen=True)
class Download:
    """A dataset the script downloads at run time."""

    library: str  # "keras" | "torchvision" | "sklearn" | "tensorflow_datasets"
    dataset: str  # "fashion_mnist", "CIFAR10", "fetch_openml", "mnist"
    call: str
    file: str
    line: int
    cache: str  # where it lives under the dataset cache ("keras/datasets")
    files: tuple[str, ...] = ()  # under ``cache``; empty when the library decides
    root: str | None = None  # torchvision: the root= the script passes
    urls: tuple[str, ...] = ()  # where each of ``files`` comes from, when known
    sha256: tuple[str, ...] = ()  # each file's hash ("" unknown), when the library checks one
    urls_from_script: bool = False  # the script names them (pushed code), not datasets.json
    # the call's literal arguments that choose what is downloaded ({"args", "kwargs"}), None
    # when one is not a literal: what a runtime without network replays (``dataset_replay``)
    replay: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "library": self.library,
            "dataset": self.dataset,
            "call": self.call,
            "file": self.file,
            "line": self.line,
            "cache": self.cache,
            "files": list(self.files),
        }
        if self.root is not None:
            out["root"] = self.root
        if self.urls:
            out["urls"] = list(self.urls)
            out["sha256"] = list(self.sha256)
            out["urls_from_script"] = self.urls_from_script
        if self.replay is not None:
            out["replay"] = self.replay
        return out


def find_downloads(
    trees: dict[str, ast.Module], aliases: dict[str, dict[str, str]]
) -> list[Download]:
    found: dict[tuple[str, str], Download] = {}
    for rel, tree in trees.items():
        consts = string_constants(tree)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            item = _download(call, aliases.get(rel, {}), consts, rel)
            if item is not None:
                found.setdefault((item.library, item.dataset), item)
    return list(found.values())


def _download(
    call: ast.Call, aliases: dict[str, str], consts: dict[str, str], rel: str
) -> Download | None:
    name = dotted(call.func)
    if not name:
        return None
    qual = qualify(name, aliases)
    parts = qual.split(".")
    line = call.lineno
    if qual.startswith("keras.datasets.") and parts[-1] == "load_data" and len(parts) == 4:
        dataset = parts[2]
        known = KERAS_DATASETS.get(dataset, {}).get("files", [])
        return Download(
            "keras",
            dataset,
            qual,
            rel,
            line,
            "keras/datasets",
            tuple(f["name"] for f in known),
            urls=tuple(f["url"] for f in known),
            sha256=tuple(f.get("sha256", "") for f in known),
        )
    if kb.normalize(qual) in ("keras.utils.get_file", "keras.utils.data_utils.get_file"):
        origin = string_value(_arg(call, "origin", 1), consts)
        if origin and not origin.startswith(("https://", "http://")):
            origin = None
        # Keras 3 names the file after the URL when fname is not given
        fname = string_value(_arg(call, "fname", 0), consts) or (
            origin.rsplit("/", 1)[-1] if origin and not _arg(call, "fname", 0) else "?"
        )
        subdir = string_value(_arg(call, "cache_subdir", 3), consts) or "datasets"
        urls = (origin,) if origin and fname != "?" else ()
        return Download(
            "keras",
            fname,
            qual,
            rel,
            line,
            f"keras/{subdir}",
            (fname,),
            urls=urls,
            sha256=("",) * len(urls),
            urls_from_script=True,
        )
    if qual.startswith("torchvision.datasets.") and _true(call, "download"):
        root = string_value(_arg(call, "root", 0), consts)
        replay = _literals(call, consts, skip=TORCHVISION_SKIP, first=1) if root else None
        return Download(
            "torchvision", parts[-1], qual, rel, line, "torchvision", (), root, replay=replay
        )
    if qual.startswith("sklearn.datasets.fetch_"):
        dataset = parts[-1]
        if dataset == "fetch_openml":
            data_id = _arg(call, "data_id", 99)
            by_id = "data_id=" + repr(data_id.value) if isinstance(data_id, ast.Constant) else "?"
            dataset += ":" + (string_value(_arg(call, "name", 0), consts) or by_id)
        replay = _literals(call, consts, skip={"data_home"})
        return Download("sklearn", dataset, qual, rel, line, "sklearn", replay=replay)
    if qual in ("tensorflow_datasets.load", "tensorflow_datasets.builder"):
        dataset = string_value(_arg(call, "name", 0), consts) or "?"
        replay = _literals(call, consts, keep=TFDS_KEEP, last=1)
        return Download(
            "tensorflow_datasets", dataset, qual, rel, line, "tensorflow_datasets", replay=replay
        )
    return None


# arguments that do not choose what is downloaded: left out of a replay (transforms are
# objects, and the replay picks the cache path itself)
TORCHVISION_SKIP = frozenset({"root", "transform", "target_transform", "transforms", "loader"})
TFDS_KEEP = frozenset({"name", "builder_kwargs"})  # the dataset, its config; not the split


def _literals(
    call: ast.Call,
    consts: dict[str, str],
    skip: frozenset[str] | set[str] = frozenset(),
    keep: frozenset[str] | None = None,
    first: int = 0,
    last: int | None = None,
) -> dict[str, Any] | None:
    """The call's arguments from position ``first`` (to ``last``) and its keywords (but
    ``skip``, or only ``keep``) as Python literals; None when one is not a literal (a replay
    runs the literal call only, never the script that computes it)."""
    chosen = call.args[first:last]
    keywords = [
        kw for kw in call.keywords if kw.arg not in skip and (keep is None or kw.arg in keep)
    ]
    if any(isinstance(a, ast.Starred) for a in chosen) or any(k.arg is None for k in keywords):
        return None  # *args / **kwargs: not known without running the script
    try:
        args = [_literal(a, consts) for a in chosen]
        kwargs = {str(k.arg): _literal(k.value, consts) for k in keywords}
    except ValueError:
        return None
    return {"args": args, "kwargs": kwargs}


def _literal(node: ast.expr, consts: dict[str, str]) -> Any:
    text = string_value(node, consts)
    if text is not None:
        return text
    try:
        value = ast.literal_eval(node)
        json.dumps(value)  # a set or bytes is no JSON: not replayable either
    except (TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc
    return value


def _arg(call: ast.Call, keyword: str, position: int) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _true(call: ast.Call, keyword: str) -> bool:
    for kw in call.keywords:
        if kw.arg == keyword:
            return not (isinstance(kw.value, ast.Constant) and not kw.value.value)
    return False
