"""``generic``: the fallback; the project's own requirements make the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, EvidenceItem, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class GenericProfile(Profile):
    name = "generic"
    framework = "generic"

    def detect(self, project: ProjectFacts) -> Evidence:
        """Always claims (it is last in the list): an entrypoint exists but no Keras, PyTorch
        or scikit-learn model is trained, so the project's requirements are all it gets."""
        if project.requirements:
            req = project.requirements[0]
            files = sorted({r.file for r in project.requirements})
            return Evidence(
                f"no Keras, PyTorch or scikit-learn model is trained; installs {', '.join(files)}",
                (EvidenceItem(req.file, req.line, req.text, "the project's own requirements"),),
            )
        return Evidence(
            "no Keras, PyTorch or scikit-learn model is trained and no requirements.txt: "
            "plain Python",
            (
                EvidenceItem(
                    project.entrypoint,
                    None,
                    project.entrypoint,
                    "runs with the standard library only",
                ),
            ),
        )
