"""``pytorch``: PyTorch models, plain or with Lightning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class PyTorchProfile(Profile):
    name = "pytorch"
    framework = "pytorch"
    description = "PyTorch (CPU build)"
    priority = 30
    pins = ("torch==2.13.0", "numpy==2.4.6")
    replaces = ("torch", "numpy")
    import_pins = {
        "lightning": "lightning==2.6.6",
        "pytorch_lightning": "lightning==2.6.6",
        "torchvision": "torchvision==0.28.0",
    }

    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claims a project that trains a ``torch`` model (nn.Module, optimizer, Lightning)."""
        trained = project.trained.get("pytorch")
        if not trained:
            return None
        first = trained[0]
        return Evidence(
            f"trains with PyTorch: {first.why} ({first.file}:{first.line})", tuple(trained)
        )

    def build_warnings(self, wheels: Sequence[str]) -> list[str]:
        """PyPI's torch for Linux is the CUDA build: say how to give the CPU wheel."""
        if any(name.startswith("torch-") and name.endswith(".whl") for name in wheels):
            return []
        return [
            "warning: no --wheels given: PyPI's torch for Linux is the CUDA build (GBs of "
            "nvidia-* packages); pass the CPU wheel's directory with --wheels DIR"
        ]


PROFILE = PyTorchProfile()
