"""Environment profiles (repo2docker-style buildpacks) and their package table.

``PROFILES`` is the order in which profiles are asked; the first whose ``detect`` answers wins,
so the specific ``keras-legacy`` comes before ``keras`` and ``generic`` is last. Import-light:
nothing here imports a framework.
"""

from __future__ import annotations

from trainchain.errors import ConfigError
from trainchain.profiles.base import Evidence, EvidenceItem, Profile
from trainchain.profiles.generic import GenericProfile
from trainchain.profiles.keras import KerasProfile
from trainchain.profiles.keras_legacy import KerasLegacyProfile
from trainchain.profiles.pytorch import PyTorchProfile
from trainchain.profiles.sklearn import SklearnProfile

PROFILES: tuple[Profile, ...] = (
    KerasLegacyProfile(),
    KerasProfile(),
    PyTorchProfile(),
    SklearnProfile(),
    GenericProfile(),
)

__all__ = ["PROFILES", "Evidence", "EvidenceItem", "Profile", "get_profile"]


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (as in ``profile:`` of trainchain.yaml)."""
    for profile in PROFILES:
        if profile.name == name:
            return profile
    raise ConfigError(
        f"unknown profile {name!r}: choose one of {', '.join(p.name for p in PROFILES)} "
        "(profile: in trainchain.yaml)"
    )
