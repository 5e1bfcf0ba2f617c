"""The ``tracking:`` section of trainchain.yaml: an optional export of runs to MLflow."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrackingConfig(BaseModel):
    """Where (and under which names) a finished run is exported to MLflow.

    Export is off while ``mlflow_uri`` is unset, so an empty ``tracking: {}`` is valid.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mlflow_uri: str | None = Field(
        None,
        description="MLflow tracking and registry URI, e.g. sqlite:////srv/mlflow.db or "
        "http://mlflow:5000; unset disables the export",
    )
    experiment: str | None = Field(
        None,
        description="MLflow experiment that receives one run per trial (default: the model name)",
    )
    registered_model: str | None = Field(
        None, description="MLflow registered model for the best trial (default: the model name)"
    )
    artifact_location: str | None = Field(
        None,
        description="artifact root used when the experiment is created (default: an "
        "'mlartifacts' folder next to a SQLite database, else the server's default)",
    )

    @property
    def enabled(self) -> bool:
        """True when a tracking URI is configured."""
        return bool(self.mlflow_uri)
