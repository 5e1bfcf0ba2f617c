"""The Profile contract: one environment recipe that recognises the code it can train.

Like repo2docker's buildpacks, every profile answers ``detect(project)``; the registry
(``trainchain.profiles.registry``) asks them in ``priority`` order and the first that answers
wins, ``generic`` last. A profile owns everything about its framework: the pinned packages of
its environment, the pins of imports from its ecosystem, the project requirements its pins
replace, its image's environment variables, the facts and knobs it tunes, and the warnings of
its image builds. Profiles are stateless singletons: ``detect`` must not mutate the project it
is given and may be called from several threads at once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from trainchain.detection.evidence import Evidence, EvidenceItem
from trainchain.detection.project import ProjectFacts

if TYPE_CHECKING:
    from trainchain.detection.result import Detection

__all__ = ["Evidence", "EvidenceItem", "Profile", "package_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def package_name(requirement: str) -> str:
    """``'tensorflow-cpu==2.21.0'`` -> ``'tensorflow-cpu'`` (normalised, lower case)."""
    match = _NAME.match(requirement.strip())
    return match.group(0).lower().replace("_", "-") if match else requirement.strip().lower()


class Profile(ABC):
    """An environment profile: ``name`` as in ``profile:`` of trainchain.yaml."""

    name: ClassVar[str]
    framework: ClassVar[str]
    description: ClassVar[str]
    priority: ClassVar[int] = 50  # asked in ascending order; the fallback is last (1000)
    pins: ClassVar[tuple[str, ...]] = ()  # the environment's packages, pinned with ==
    # the framework's package names: a project's own requirement on any profile's is dropped
    # (the chosen profile pins its framework; another framework's would only weigh)
    replaces: ClassVar[tuple[str, ...]] = ()
    # top-level import -> pin added when a project of any profile imports it
    import_pins: ClassVar[Mapping[str, str]] = {}
    image_env: ClassVar[Mapping[str, str]] = {}  # ENV of the profile's image
    knob_names: ClassVar[tuple[str, ...]] = ()  # parameters the agent adds for this framework

    @abstractmethod
    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claim ``project`` or pass.

        Runs in job2 after the entrypoint is chosen, once per profile in priority order, on
        the facts of the training scope (the entrypoint and the project modules it imports).
        Returns ``Evidence`` (reason and file/line items) when this profile should train the
        project, else ``None`` so the next profile is asked. Must be pure: no I/O, no imports.
        """

    def facts(self, project: ProjectFacts) -> dict[str, Any]:
        """What this profile reads for its knobs, kept as ``Detection.framework_facts``
        (JSON values). Runs once, on the project this profile claimed."""
        return {}

    def knobs(self, detection: Detection, roles: set[str | None]) -> dict[str, dict[str, Any]]:
        """Search-space entries for the knobs the agent adds (names in ``knob_names``);
        ``roles`` are those the script's own parameters already play (see ``space.py``)."""
        return {}

    def build_warnings(self, wheels: Sequence[str]) -> list[str]:
        """Lines printed before this profile's image is built (``wheels``: the local wheel
        files given with ``--wheels``)."""
        return []

    def owned_packages(self) -> set[str]:
        """``replaces``, normalised."""
        return {package_name(r) for r in self.replaces}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
