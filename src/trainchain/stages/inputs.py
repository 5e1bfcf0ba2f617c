"""job2's last check: everything the script reads is there before anything trains.

- An input the repository lacks (``detection.inputs``) must be given with ``--data NAME=PATH``
  or ``data:`` in trainchain.yaml; an absolute path whose file the repository holds
  (``/root/input.txt`` next to ``input.txt``) is mapped to that file without asking. Absolute
  names are not symlinks in the working copy: the agent redirects them (``TRAINCHAIN_PATH_MAP``,
  local runtime) or Docker mounts them at that path.
- A run-time download (``detection.downloads``) is read from the machine's dataset cache
  (``paths.datasets_dir()``): every trial's ``KERAS_HOME``, ``SCIKIT_LEARN_DATA``,
  ``TFDS_DATA_DIR`` and ``TORCH_HOME`` point into it, so a dataset is fetched once per
  machine. One whose files and URLs are known is fetched here by the controller
  (``trainchain.datasets``); any other is left to the first trial, which a runtime whose trials
  have no network (Docker) cannot do: there the detected call, when its arguments are literals,
  is replayed once in the trial's image with network (``replay_downloads``, after the build,
  ``trainchain.dataset_replay``). What cannot be fetched stops the run, naming the files to put
  there.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainchain import dataset_replay, datasets, paths
from trainchain.errors import DetectionError
from trainchain.settings import operator_settings

CACHE_ENV = paths.DATASET_CACHE_ENV
# where each library downloads from: reachable means it may fetch into the cache itself
_HOSTS = {
    "keras": "storage.googleapis.com",
    "tensorflow_datasets": "storage.googleapis.com",
    "sklearn": "openml.org",
    "torchvision": "download.pytorch.org",
}
PROBE_SECONDS = 3.0
# libraries whose downloads the agent redirects to TRAINCHAIN_DATASETS_MIRROR (library_downloads)
MIRRORED = frozenset({"sklearn", "torchvision"})


class MissingInputError(DetectionError):
    """The script reads something this machine cannot give it (exit 2, before training)."""


@dataclass(frozen=True)
class InputsPlan:
    """What the trials get so the script finds its inputs."""

    data: dict[str, str] = field(default_factory=dict)  # NAME -> PATH beyond --data
    notes: list[str] = field(default_factory=list)  # what was mapped, for the run's log
    # downloads the runtime replays once the image is built (``replay_downloads``)
    replays: list[dict[str, Any]] = field(default_factory=list)


def plan_inputs(
    detection: dict[str, Any],
    data: dict[str, str],
    cache: Path,
    offline: bool | None = None,
    trials_online: bool = True,
    say: Callable[[str], None] = lambda message: None,
    replays: bool = False,
) -> InputsPlan:
    """The data mapping and cache environment of the trials, after prefetching the downloads
    whose sources are known; ``MissingInputError`` when an input or a download is missing.
    ``offline=None`` tries (prefetch) or probes the download hosts; ``trials_online`` says
    whether trials may fetch what the controller cannot; ``replays`` that the runtime replays a
    library's download for trials without network (the plan's ``replays``)."""
    mapped: dict[str, str] = {}  # beyond ``data``: what detection maps by itself
    notes: list[str] = []
    missing: list[str] = []
    for item in detection.get("inputs") or []:
        path = str(item["path"])
        if _covered(path, str(item["name"]), data):
            continue
        if item.get("repo_file"):
            mapped[path] = str(item["repo_file"])
            notes.append(
                f"{path} ({item['file']}:{item['line']}) is read from the "
                f"repository's {item['repo_file']}"
            )
            continue
        missing.append(
            f"  - {path} ({item['kind']}, {item['call']} at {item['file']}:"
            f"{item['line']}): {item['hint']}"
        )
    downloads = detection.get("downloads") or []
    replayed: list[dict[str, Any]] = []
    for item in downloads:
        if _replayable(item, offline, trials_online, replays):
            replayed.append(item)
            problem = None
        else:
            problem = _download_problem(item, cache, offline, trials_online, say)
        if problem:
            missing.append(problem)
        if item.get("library") == "torchvision" and item.get("root"):
            root = str(item["root"])
            if not _covered(root, root.split("/", 1)[0], data):
                (cache / "torchvision").mkdir(parents=True, exist_ok=True)
                mapped[root] = str(cache / "torchvision")
                notes.append(
                    f"torchvision root {root!r} is the dataset cache {cache / 'torchvision'}"
                )
    if missing:
        raise MissingInputError(
            "the script reads inputs that this machine cannot give it; nothing was trained:\n"
            + "\n".join(missing)
        )
    for item in downloads:
        notes.append(
            f"{item['call']} ({item['file']}:{item['line']}) reads the dataset cache "
            f"{cache / str(item['cache'])}"
        )
    return InputsPlan(mapped, notes, replayed)


def _replayable(
    item: dict[str, Any], offline: bool | None, trials_online: bool, replays: bool
) -> bool:
    """A download the runtime replays: trials without network, a runtime that can, a call
    with literal arguments and no URL of its own, and a machine not declared offline."""
    if trials_online or not replays or datasets.known_files(item):
        return False
    forced = offline if offline is not None else _offline_set()
    return not forced and dataset_replay.replay_spec(item, "") is not None


def replay_downloads(
    plan: InputsPlan,
    replay: Callable[[list[str]], tuple[int, str]],
    cache: Path,
    container_cache: str,
    say: Callable[[str], None] = lambda message: None,
) -> None:
    """Replay each of ``plan.replays`` (``replay(command)`` runs it with network and the cache
    writable at ``container_cache``); ``MissingInputError`` naming the calls that failed."""
    problems = []
    for item in plan.replays:
        spec = dataset_replay.replay_spec(item, container_cache)
        if spec is None:  # not planned so (``_replayable``)
            continue
        say(f"dataset {item['dataset']!r}: replaying {dataset_replay.describe(spec)} with network")
        code, output = replay(dataset_replay.replay_command(spec))
        if code == 0:
            done = output.strip().splitlines()
            say(f"dataset {item['dataset']!r}: {done[-1] if done else 'fetched'}")
            continue
        last = next((ln for ln in reversed(output.strip().splitlines()) if ln.strip()), "")
        where = cache / str(item["cache"])
        problems.append(
            f"  - {item['call']} ({item['file']}:{item['line']}) downloads {item['dataset']!r} "
            f"at run time; the controller could not fetch it into the dataset cache {where} "
            f"(replaying {dataset_replay.describe(spec)} with network: exit {code}: "
            f"{last or 'no output'}); fill the dataset cache {where} with what "
            f"{item['library']} saves there (run the script once where it is online with "
            f"{_env_hint(str(item['library']), cache)}, or once with --runtime local)"
        )
    if problems:
        raise MissingInputError(
            "the script reads inputs that this machine cannot give it; nothing was trained:\n"
            + "\n".join(problems)
        )


def _covered(path: str, name: str, data: dict[str, str]) -> bool:
    clean = os.path.normpath(path).rstrip("/")
    for key in data:
        key = os.path.normpath(key).rstrip("/")
        if key in (clean, name) or clean.startswith(key + "/"):
            return True
    return False


def _download_problem(
    item: dict[str, Any],
    cache: Path,
    offline: bool | None,
    trials_online: bool,
    say: Callable[[str], None],
) -> str | None:
    """Why a download cannot happen (None: cached, prefetched, or left to an online trial)."""
    where = cache / str(item["cache"])
    files = [str(f) for f in item.get("files") or []]
    if files and all((where / f).exists() for f in files):
        return None
    if not files and where.is_dir() and any(where.iterdir()):
        return None  # the library keeps its own layout there; something is cached
    library = str(item["library"])
    forced = offline if offline is not None else _offline_set()
    if not forced and datasets.known_files(item):
        return datasets.prefetch(item, cache, say)
    if not forced and trials_online and not _offline(library, offline):
        return None  # the first trial fetches it into the cache; the others read it
    reason = (
        f"this machine cannot reach {_HOSTS.get(library, 'its host')}"
        if forced or trials_online
        else "the trials have no network and trainchain knows no URL to prefetch it from"
    )
    head = (
        f"  - {item['call']} ({item['file']}:{item['line']}) downloads {item['dataset']!r} "
        f"at run time and {reason}"
    )
    if files:
        urls = [str(u) for u in item.get("urls") or []]
        listed = "\n".join(
            f"      {where / f}" + (f"  <- {urls[i]}" if i < len(urls) else "")
            for i, f in enumerate(files)
        )
        return f"{head}; put these files in the dataset cache:\n{listed}"
    local = "" if forced or trials_online else ", or once with --runtime local"
    return (
        f"{head}; fill the dataset cache {where} with what {library} saves there (run the "
        f"script once where it is online with {_env_hint(library, cache)}{local})"
    )


def _env_hint(library: str, cache: Path) -> str:
    if library == "torchvision":
        return f"root={cache / 'torchvision'}"
    var = {"sklearn": "SCIKIT_LEARN_DATA", "tensorflow_datasets": "TFDS_DATA_DIR"}.get(library)
    return f"{var}={cache / CACHE_ENV[var]}" if var else f"KERAS_HOME={cache / 'keras'}"


def _offline_set() -> bool:
    """The operator said this machine has no internet (no fetch, no probe is tried)."""
    return operator_settings().offline


def _offline(library: str, forced: bool | None) -> bool:
    if forced is not None:
        return forced
    if _offline_set():
        return True
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return False  # downloads go through the proxy; a direct probe says nothing
    if library in MIRRORED and operator_settings().datasets_mirror:
        return False  # the agent reads this library's downloads from the operator's mirror
    host = _HOSTS.get(library)
    if host is None:
        return False
    try:
        with socket.create_connection((host, 443), timeout=PROBE_SECONDS):
            return False
    except OSError:
        return True
