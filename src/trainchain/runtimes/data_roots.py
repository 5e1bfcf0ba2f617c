"""What a trial may see of the host: data under the operator's allowed roots, never a system
directory or the Docker socket (which is root on the host)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trainchain.errors import ConfigError
from trainchain.settings import operator_settings

ROOTS_ENV = "TRAINCHAIN_DATA_ROOTS"  # operator: colon-separated directories data may come from
SYSTEM_DIRS = ("/proc", "/sys", "/dev", "/run", "/var/run", "/boot", "/etc")


def _sockets() -> list[Path]:
    found = [Path("/var/run/docker.sock"), Path("/run/docker.sock")]
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        found.append(Path(host.removeprefix("unix://")))
    return [p.resolve() for p in found]


def check_mount(source: Path) -> Path:
    """The resolved path of a directory a container may mount, else ``ConfigError``."""
    resolved = source.resolve()
    text = str(resolved)
    bad = (
        resolved == Path("/")
        or any(text == d or text.startswith(d + "/") for d in SYSTEM_DIRS)
        or any(sock == resolved or sock.is_relative_to(resolved) for sock in _sockets())
        or (resolved.exists() and stat.S_ISSOCK(resolved.stat().st_mode))
    )
    if bad:
        raise ConfigError(
            f"{source} ({resolved}) is a system directory or holds the Docker socket; a trial "
            "never mounts it: give the data's own directory"
        )
    return resolved


def check_data(name: str, path: Path) -> Path:
    """``path`` for ``data: {name: path}`` if it is inside an allowed root (when the operator
    set ``TRAINCHAIN_DATA_ROOTS``) and mountable."""
    resolved = check_mount(path)
    roots = [Path(r).resolve() for r in operator_settings().data_roots.split(":") if r.strip()]
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise ConfigError(
            f"data {name}={path}: {resolved} is outside the allowed data roots "
            f"({', '.join(map(str, roots))}); move the data there or ask the operator to "
            f"add its directory to ${ROOTS_ENV}"
        )
    return resolved
