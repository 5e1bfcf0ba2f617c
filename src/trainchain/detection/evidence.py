"""Evidence: the observations behind a decision, and what a profile must answer to claim code.

These types belong to detection; profiles (``trainchain.profiles``) import them, never the
other way round. ``Claimant`` is the part of a profile the detector calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
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


class Claimant(Protocol):
    """What the detector asks of a profile, in the order the registry gives."""

    @property
    def name(self) -> str: ...

    @property
    def framework(self) -> str: ...

    def detect(self, project: ProjectFacts) -> Evidence | None: ...

    def facts(self, project: ProjectFacts) -> dict[str, Any]: ...
