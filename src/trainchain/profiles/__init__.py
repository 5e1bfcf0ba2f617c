"""Environment profiles (repo2docker-style buildpacks) as plug-ins.

Each profile is one module owning its packages, image environment, knobs and build warnings
(``base.Profile``); ``registry`` finds them. ``detect`` runs the detector with the registered
profiles and ``search_space`` adds the chosen profile's knobs to the derived space. Import-light:
nothing here imports a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainchain.detection import Detection
from trainchain.detection import detect as _detect
from trainchain.profiles.base import Evidence, EvidenceItem, Profile, package_name
from trainchain.profiles.registry import (
    env_packages,
    get_profile,
    import_pins,
    profile_names,
    profile_packages,
    profiles,
    register,
    unregister,
)
from trainchain.space import Spec, derive_space

__all__ = [
    "Evidence",
    "EvidenceItem",
    "Profile",
    "detect",
    "env_packages",
    "framework_packages",
    "get_profile",
    "import_pins",
    "package_name",
    "profile_names",
    "profile_packages",
    "profiles",
    "register",
    "search_space",
    "unregister",
]


def detect(
    path: Path,
    entrypoint: str | None = None,
    declared_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Detection:
    """Detect the project at ``path`` with every registered profile (see ``detection.detect``)."""
    return _detect(Path(path), profiles(), entrypoint, declared_params)


def search_space(detection: Detection) -> dict[str, Spec]:
    """The derived search space plus the knobs of the profile that claimed the project."""
    return derive_space(detection, get_profile(detection.profile).knobs)


def framework_packages() -> set[str]:
    """Package names a project's own requirement on is replaced by a profile's pins."""
    return set().union(*(p.owned_packages() for p in profiles()))
