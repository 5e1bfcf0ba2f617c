"""``pytorch``: PyTorch models, plain or with Lightning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class PyTorchProfile(Profile):
    name = "pytorch"
    framework = "pytorch"

    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claims a project that trains a ``torch`` model (nn.Module, optimizer, Lightning)."""
        trained = project.trained.get("pytorch")
        if not trained:
            return None
        first = trained[0]
        return Evidence(
            f"trains with PyTorch: {first.why} ({first.file}:{first.line})", tuple(trained)
        )
