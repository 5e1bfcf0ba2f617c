"""``keras-legacy``: Keras code that needs Keras 2 (TensorFlow 2.15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class KerasLegacyProfile(Profile):
    name = "keras-legacy"
    framework = "keras"

    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claims a project that trains with Keras AND uses a Keras 2-only API or pins
        TensorFlow/Keras below their Keras 3 releases; runs before ``keras``."""
        trained = project.trained.get("keras")
        signs = [*project.legacy_apis, *project.legacy_pins]
        if not trained or not signs:
            return None
        first = signs[0]
        where = f"{first.file}:{first.line}" if first.line else first.file
        return Evidence(
            f"trains a Keras model with Keras 2-only code: {first.symbol} ({where}); "
            "TensorFlow 2.15 with Keras 2",
            (*signs, *trained),
        )
