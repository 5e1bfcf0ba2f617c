"""``sklearn``: scikit-learn estimators, and XGBoost/LightGBM/CatBoost ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.profiles.base import Evidence, Profile

if TYPE_CHECKING:
    from trainchain.detection.project import ProjectFacts


class SklearnProfile(Profile):
    name = "sklearn"
    framework = "sklearn"
    description = "scikit-learn"
    priority = 40
    pins = ("scikit-learn==1.9.1", "numpy==2.4.6", "scipy==1.17.1", "joblib==1.6.0")
    replaces = ("scikit-learn", "sklearn", "numpy")
    import_pins = {
        "sklearn": "scikit-learn==1.9.1",
        "xgboost": "xgboost==3.2.0",
        "lightgbm": "lightgbm==4.7.0",
        "catboost": "catboost==1.2.10",
    }

    def detect(self, project: ProjectFacts) -> Evidence | None:
        """Claims a project that fits (or builds) an estimator; XGBoost and LightGBM add their
        packages through the import pins."""
        trained = project.trained.get("sklearn")
        if not trained:
            return None
        first = trained[0]
        return Evidence(
            f"trains an estimator: {first.why} ({first.file}:{first.line})", tuple(trained)
        )


PROFILE = SklearnProfile()
