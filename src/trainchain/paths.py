"""Where trainchain keeps its state: ``TRAINCHAIN_HOME`` (default ``~/.trainchain``)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Created 0700: it holds the database, the API token, logs and models."""
    path = Path(os.environ.get("TRAINCHAIN_HOME") or Path.home() / ".trainchain").expanduser()
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def db_url() -> str:
    """``TRAINCHAIN_DB_URL`` or SQLite under the home."""
    return os.environ.get("TRAINCHAIN_DB_URL") or f"sqlite:///{home() / 'trainchain.db'}"


def envs_dir() -> Path:
    """Virtualenvs, shareable between homes with ``TRAINCHAIN_ENVS_DIR``."""
    shared = os.environ.get("TRAINCHAIN_ENVS_DIR")
    if shared:
        path = Path(shared).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return _sub("envs")


# each library's download cache, relative to the dataset cache, and the variable that sets it
DATASET_CACHE_ENV = {
    "KERAS_HOME": "keras",
    "SCIKIT_LEARN_DATA": "sklearn",
    "TFDS_DATA_DIR": "tensorflow_datasets",
    "TORCH_HOME": "torch",
}


def datasets_dir() -> Path:
    """The dataset cache every trial reads downloads from, once per machine:
    ``TRAINCHAIN_DATASETS_DIR``, else ``TRAINCHAIN_HOME/datasets``."""
    shared = os.environ.get("TRAINCHAIN_DATASETS_DIR")
    if shared:
        path = Path(shared).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return _sub("datasets")


def runs_dir() -> Path:
    """Runs (trial outputs, checkpoints, logs); ``TRAINCHAIN_STORAGE`` puts them on storage every
    machine of a cluster mounts at the same path (the ray runtime needs it beyond one machine)."""
    shared = os.environ.get("TRAINCHAIN_STORAGE")
    if shared:
        path = Path(shared).expanduser() / "runs"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return _sub("runs")


def models_dir() -> Path:
    return _sub("models")


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
