"""Runtimes: where trials run. ``get_runtime(name)`` is the factory (like Optuna's get_storage)."""

from __future__ import annotations

import logging

from trainchain.errors import ConfigError, RuntimeUnavailableError
from trainchain.extras import MissingExtraError
from trainchain.runtimes.base import Environment, EnvSpec, Outcome, Runtime, TrialSpec

__all__ = [
    "EnvSpec",
    "Environment",
    "Outcome",
    "Runtime",
    "TrialSpec",
    "get_runtime",
]
log = logging.getLogger(__name__)


def get_runtime(name: str) -> Runtime:
    """``local``, ``docker``, ``ray`` (a Ray cluster: ``TRAINCHAIN_RAY_ADDRESS``), or ``auto``
    (Docker when the engine answers, else local)."""
    if name == "local":
        from trainchain.runtimes.local import LocalRuntime

        return LocalRuntime()
    if name == "docker":
        from trainchain.extras import require

        require("docker", "--runtime docker")
        from trainchain.runtimes.docker import DockerRuntime

        return DockerRuntime()
    if name == "ray":
        from trainchain.extras import require

        require("ray", "--runtime ray")
        from trainchain.runtimes.ray import RayRuntime

        return RayRuntime()
    if name == "auto":
        try:
            runtime = get_runtime("docker")
        except (RuntimeUnavailableError, MissingExtraError) as exc:
            log.warning("runtime auto: Docker is not available (%s); using local", exc)
            return get_runtime("local")
        log.warning("runtime auto: using Docker")
        return runtime
    raise ConfigError(f"unknown runtime {name!r}: choose local, docker, ray or auto (--runtime)")
