"""``keras-legacy``: Keras code that needs Keras 2 (TensorFlow 2.15); Keras's knobs apply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence
from trainchain.profiles.keras import KerasProfile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class KerasLegacyProfile(KerasProfile):
    name = "keras-legacy"
    framework = "keras"
    description = "TensorFlow 2.15 (CPU) with Keras 2, for code that uses Keras 2-only APIs"
    priority = 10  # before keras: the same code, with signs of Keras 2
    pins = (
        "tensorflow-cpu==2.15.1",
        "keras==2.15.0",
        "Keras-Preprocessing==1.1.2",
        "numpy==1.26.4",
        "pillow==10.4.0",
        "scipy==1.13.1",
    )
    replaces = (*KerasProfile.replaces, "keras-preprocessing")
    image_env = {"TF_CPP_MIN_LOG_LEVEL": "2"}

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


PROFILE = KerasLegacyProfile()
