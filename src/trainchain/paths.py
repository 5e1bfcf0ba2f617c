"""Where trainchain keeps its state: ``TRAINCHAIN_HOME`` (default ``~/.trainchain``)."""

from __future__ import annotations

from pathlib import Path

from trainchain.agent.contract import DATASET_CACHES
from trainchain.settings import operator_settings


def home() -> Path:
    """Created 0700: it holds the database, the API token, logs and models."""
    path = operator_settings().home.expanduser()
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def db_url() -> str:
    """``TRAINCHAIN_DB_URL`` or SQLite under the home."""
    return operator_settings().db_url or f"sqlite:///{home() / 'trainchain.db'}"


def envs_dir() -> Path:
    """Virtualenvs, shareable between homes with ``TRAINCHAIN_ENVS_DIR``."""
    shared = operator_settings().envs_dir
    if shared:
        path = shared.expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return _sub("envs")


# each library's download cache, relative to the dataset cache, and the variable that sets it
DATASET_CACHE_ENV = DATASET_CACHES  # the agent's contract (trainchain.agent.contract)


def datasets_dir() -> Path:
    """The dataset cache every trial reads downloads from, once per machine:
    ``TRAINCHAIN_DATASETS_DIR``, else ``TRAINCHAIN_HOME/datasets``."""
    shared = operator_settings().datasets_dir
    if shared:
        path = shared.expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return _sub("datasets")


def runs_dir(storage: str | None = None) -> Path:
    """Runs (trial outputs, checkpoints, logs): under ``storage`` (a project's operator setting
    ``storage:``), else ``TRAINCHAIN_STORAGE``, else the home. Shared storage is a path every
    machine of a cluster mounts at the same place (the ray runtime needs it beyond one machine).
    """
    configured = operator_settings().storage
    shared = storage or (str(configured) if configured else None)
    if shared:
        path = storage_path(shared, "storage" if storage else "TRAINCHAIN_STORAGE") / "runs"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return _sub("runs")


def run_dir(run_id: str, storage: str | None = None) -> Path:
    """One run's directory (``storage``: the run's own ``storage:`` setting, if any)."""
    return runs_dir(storage) / run_id


def storage_of(options: dict[str, object] | None) -> str | None:
    """A run's own ``storage:`` from the operator's options for it (project settings, API
    options, ``--storage``), else None. Never from a trainchain.yaml: the run's directory is
    chosen before the file is read."""
    value = (options or {}).get("storage")
    return str(value) if value else None


def storage_path(value: str, setting: str = "storage") -> Path:
    """A storage setting as a local path: a path or a ``file://`` URL. Other URLs (``s3://``,
    ``gs://``...) are refused: the training process writes checkpoints with ordinary file
    calls, so a bucket must be mounted (docs/cluster.md)."""
    from trainchain.errors import ConfigError

    text = value.strip()
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"{setting} {value!r}: {scheme}:// URLs are not written to directly (training "
            "scripts save checkpoints with plain file calls); mount the bucket on every machine "
            "(mountpoint-s3, gcsfuse, blobfuse2, s3fs) and give the mount's path, see "
            "docs/cluster.md"
        )
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise ConfigError(
            f"{setting} {value!r} is not an absolute path: give the shared directory's full "
            "path (the same on every machine)"
        )
    return path


def models_dir() -> Path:
    return _sub("models")


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
