"""``generic``: the fallback; the project's own requirements make the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, EvidenceItem, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class GenericProfile(Profile):
    name = "generic"
    framework = "generic"
    description = "the project's own requirements only"
    priority = 1000  # the fallback: asked last, always claims
    import_pins = {  # common libraries, whichever profile trains
        "pandas": "pandas==3.1.1",
        "matplotlib": "matplotlib==3.11.2",
        "PIL": "pillow==13.0.0",
        "scipy": "scipy==1.17.1",
        "joblib": "joblib==1.6.0",
    }

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


PROFILE = GenericProfile()
