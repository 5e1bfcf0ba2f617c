"""``sklearn``: scikit-learn estimators, and XGBoost/LightGBM/CatBoost ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class SklearnProfile(Profile):
    name = "sklearn"
    framework = "sklearn"

    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claims a project that fits (or builds) an estimator; XGBoost and LightGBM add their
        packages through the import table."""
        trained = project.trained.get("sklearn")
        if not trained:
            return None
        first = trained[0]
        return Evidence(
            f"trains an estimator: {first.why} ({first.file}:{first.line})", tuple(trained)
        )
