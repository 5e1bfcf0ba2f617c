"""Operator settings: every ``TRAINCHAIN_*`` variable the controller and server read, in one class.

These configure the machine trainchain runs on (where state lives, which database, resource
limits of trials, retention), so they come from the operator's environment only; a
repository's ``trainchain.yaml`` never sets them. The table in ``docs/settings.md`` is written
from this class (``tests/unit/test_settings.py`` keeps the two equal). Variables the
controller *sets* for a trial (``TRAINCHAIN_PARAMS``, ``TRAINCHAIN_OUTPUT_DIR``, ...) are the
trial's contract, not settings, and are not here.

Read on every call (tests and ``trainchain run --ray-address`` change the environment at run
time); parsed once per distinct set of ``TRAINCHAIN_*`` values.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trainchain.errors import ConfigError

PREFIX = "TRAINCHAIN_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    # -- where state lives -------------------------------------------------------------------
    home: Path = Field(
        default_factory=lambda: Path.home() / ".trainchain",
        description="Database, runs, models, the API token (created 0700).",
    )
    db_url: str | None = Field(
        None, description="SQLAlchemy URL of the database; default SQLite under the home."
    )
    envs_dir: Path | None = Field(
        None, description="Virtualenvs, shareable between homes; default `HOME/envs`."
    )
    datasets_dir: Path | None = Field(
        None, description="Cache of datasets scripts download, one per machine; `HOME/datasets`."
    )
    storage: Path | None = Field(
        None, description="Run directories on storage every cluster node mounts at this path."
    )
    # -- server ------------------------------------------------------------------------------
    api_token: str | None = Field(
        None, description="The server's API token; default the one saved under the home."
    )
    keep_runs: int | None = Field(
        None, description="Keep the files, venvs and images of this many newest runs (server)."
    )
    # -- trials ------------------------------------------------------------------------------
    data_roots: str = Field(
        "", description="Colon-separated directories `data:` paths must be inside."
    )
    trial_memory: str = Field("8g", description="Memory limit of a trial container.")
    trial_pids: str = Field("1024", description="Process limit of a trial container.")
    trial_uid: int = Field(65534, description="User of trial containers when the server is root.")
    log_cap_bytes: int | None = Field(
        None, description="Bound of one attempt's log (default 64 MiB); the middle is dropped."
    )
    offline: bool = Field(False, description="No network: skip the download probe of datasets.")
    ray_address: str | None = Field(
        None, description="Ray cluster of the ray runtime: `auto`, `local` or `ray://host:port`."
    )
    ray_containers: bool = Field(False, description="Ray runtime: trials in containers on nodes.")
    ray_idle_seconds: float = Field(10.0, description="Ray runtime: idle time before a host ends.")
    datasets_mirror: str | None = Field(
        None,
        description="HTTP server holding a copy of a dataset cache (and of library downloads: "
        "LIBRARY/HOST/PATH), fetched from first.",
    )
    uv: str | None = Field(
        None, description="The uv binary for venvs and images, or `off` to use pip."
    )
    # -- image builds (docker runtime) -------------------------------------------------------
    base_image: str | None = Field(
        None, description="`FROM` of the images trials run in; default `python:3.11-slim`."
    )
    ca_certs: Path | None = Field(
        None, description="Directory of CA certificates an image build trusts (a TLS proxy)."
    )
    pip_index_url: str | None = Field(None, description="Package index of image builds.")
    wheels: Path | None = Field(None, description="Directory of local wheels image builds use.")
    build_cache: str = Field(
        "trainchain-build-cache",
        description="Docker volume keeping uv's cache across image builds; `off`: none.",
    )

    @field_validator("keep_runs", mode="before")
    @classmethod
    def _whole_count(cls, raw: Any) -> Any:
        try:
            value = int(str(raw).strip()) if raw is not None else None
        except ValueError:
            value = -1
        if value is not None and value < 1:
            raise ValueError(
                "give a whole number of runs, 1 or more (the environments of that many newest "
                "runs are kept), or unset it to keep everything"
            )
        return value


def operator_settings() -> Settings:
    """The settings in the environment now; ``ConfigError`` naming the variable if one is bad."""
    current = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))
    return _parse((*current, ("HOME", os.environ.get("HOME", ""))))  # HOME: the default home


@functools.lru_cache(maxsize=8)
def _parse(_environ_key: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = PREFIX + str(error["loc"][0]).upper()
            reason = str(error["msg"])
            fix = "" if reason.startswith("Value error, ") else "; correct it or unset it"
            problems.append(
                f"{name}={os.environ.get(name, '')!r}: {reason.removeprefix('Value error, ')}{fix}"
            )
        raise ConfigError("; ".join(problems)) from None


def settings_table() -> str:
    """The Markdown table of every setting (``docs/settings.md`` holds it)."""
    rows = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default in (None, "") else f"`{field.default}`"
        if name == "home":
            default = "`~/.trainchain`"
        rows.append(f"| `{PREFIX}{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows) + "\n"
