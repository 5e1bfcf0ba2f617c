"""job2 — detect + provision: read the code, choose a profile, build or reuse its environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainchain.errors import DetectionError
from trainchain.profiles.table import env_packages, package_name, profile_packages
from trainchain.runtimes.base import EnvSpec

# A project's pins for these are replaced by the profile's (the profile was chosen for them).
FRAMEWORK_PACKAGES = {
    "tensorflow",
    "tensorflow-cpu",
    "tensorflow-gpu",
    "keras",
    "tf-keras",
    "torch",
    "scikit-learn",
    "sklearn",
    "keras-preprocessing",
    "numpy",
}


@dataclass(frozen=True)
class DetectResult:
    profile: str
    entrypoint: str
    detection: dict[str, Any]
    env_spec: EnvSpec
    space: dict[str, dict[str, Any]] = field(default_factory=dict)


def detect_project(
    snapshot: Path,
    entrypoint: str | None,
    profile: str | None,
    declared: dict[str, Any],
    source: str = "the repository",
) -> DetectResult:
    """Run the detector over the fetched commit and derive the environment and search space."""
    from trainchain import space as search_space
    from trainchain.detection import detect

    try:
        detection = detect(snapshot, entrypoint=entrypoint, declared_params=declared or None)
    except DetectionError as exc:  # speak of the user's repository, not our snapshot of it
        raise DetectionError(exc.message.replace(str(snapshot), source)) from exc
    info = detection.to_dict()
    chosen = profile or info["profile"]
    profile_packages(chosen)  # an unknown forced profile fails here, with the choices
    spec = EnvSpec(
        profile=chosen,
        packages=env_packages(chosen, tuple(info.get("imports") or ())),
        project_requirements=project_requirements(info.get("requirements") or []),
    )
    space = search_space.derive_space(detection)
    if declared:
        space = {**space, **search_space.space_from_config(declared)}
    return DetectResult(chosen, info["entrypoint"], info, spec, space)


def project_requirements(requirements: list[str]) -> tuple[str, ...]:
    """The project's own requirements, minus the framework the profile already pins."""
    keep = []
    for line in requirements:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if package_name(line) in FRAMEWORK_PACKAGES:
            continue
        keep.append(line)
    return tuple(keep)
