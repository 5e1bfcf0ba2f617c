"""The Profile contract: one environment recipe that recognises the code it can train.

Like repo2docker's buildpacks, every profile answers ``detect(project)``; the ordered list in
``trainchain.profiles`` asks them in turn and the first that answers wins, ``generic`` last.
Profiles are stateless singletons: ``detect`` must not mutate the project it is given and may
be called from several threads at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the detector imports profiles, never the other way round at run time
    from trainchain.detection.project import ProjectFacts


@dataclass(frozen=True)
class EvidenceItem:
    """One observation behind a decision: where it is and why it matters."""

    file: str  # relative to the project root, POSIX separators
    line: int | None  # 1-based; for notebooks, the line in the code cells joined in order
    symbol: str  # what was seen: "keras.layers.Conv2D", "fit_generator", "tensorflow<2.16"
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "symbol": self.symbol, "why": self.why}


@dataclass(frozen=True)
class Evidence:
    """What a profile returns when it claims a project: a one-line reason and its items."""

    reason: str
    items: tuple[EvidenceItem, ...] = field(default_factory=tuple)


class Profile(ABC):
    """An environment profile: ``name`` as in ``table.json`` and the ``framework`` it trains."""

    name: str
    framework: str

    @abstractmethod
    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claim ``project`` or pass.

        Runs in job2 after the entrypoint is chosen, once per profile in list order, on the
        facts of the training scope (the entrypoint and the project modules it imports).
        Returns ``Evidence`` (reason and file/line items) when this profile should train the
        project, else ``None`` so the next profile is asked. Must be pure: no I/O, no imports.
        """

    def packages(self, imports: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The pinned packages of this profile's environment plus pins for extra imports."""
        from trainchain.profiles.table import env_packages

        return env_packages(self.name, imports)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
