"""Optional export of runs to experiment trackers (MLflow).

Import-light on purpose: ``TrackingConfig`` needs only pydantic, and ``export_run`` imports
the store and MLflow only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainchain.tracking.config import TrackingConfig
from trainchain.tracking.errors import TrackingError

if TYPE_CHECKING:
    from trainchain.store import Store
    from trainchain.tracking.mlflow_export import ExportResult

__all__ = ["TrackingConfig", "TrackingError", "export_run"]


def export_run(store: Store, run_id: str, config: TrackingConfig) -> ExportResult:
    """Export run ``run_id`` to MLflow (see ``trainchain.tracking.mlflow_export.export_run``)."""
    from trainchain.tracking.mlflow_export import export_run as _export

    return _export(store, run_id, config)
