"""Skip-or-fail for tests that need a real service.

Locally a missing service skips with a reason; in CI (``TRAINCHAIN_REQUIRE_SERVICES=1``) the same
condition fails the test, so nothing CI must run is silently skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when ``condition`` is false."""
    if condition:
        return
    if os.environ.get("TRAINCHAIN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


def require_docker() -> None:
    try:
        import docker

        with contextlib.closing(docker.from_env(timeout=5)) as client:
            client.ping()
        ok, why = True, ""
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        ok, why = False, str(exc)
    require(ok, f"no Docker engine answers ({why}); start dockerd")


def require_ray() -> None:
    """The ``ray`` package and its ``ray`` command (``pip install 'trainchain[ray]'``)."""
    import importlib.util
    import sys

    found = importlib.util.find_spec("ray") is not None
    command = Path(sys.executable).parent / "ray"
    require(
        found and (command.exists() or shutil.which("ray") is not None),
        "ray is not installed: pip install 'trainchain[ray]'",
    )


def require_chromium() -> None:
    require(
        shutil.which("chromium") is not None, "chromium is not installed (apt-get install chromium)"
    )


def require_shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    require(path.exists(), f"shared data folder {path} is absent")
    return path
