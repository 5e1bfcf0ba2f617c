"""``keras``: Keras 3 (or ``tf.keras``) models, run on TensorFlow CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class KerasProfile(Profile):
    name = "keras"
    framework = "keras"

    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claims a project whose training scope trains a Keras (or TensorFlow) model."""
        trained = project.trained.get("keras")
        if not trained:
            return None
        first = trained[0]
        return Evidence(
            f"trains with Keras: {first.why} ({first.file}:{first.line})", tuple(trained)
        )
