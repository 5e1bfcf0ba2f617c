"""The MLflow export as a listener of the chain: after promote, when ``tracking:`` is set.

A failed export is recorded in promote's result (``tracking``) and never fails a trained run.
"""

from __future__ import annotations

from typing import Any

from trainchain.errors import TrainchainError
from trainchain.stages import Stage
from trainchain.stages.context import RunListener, StageContext, StageResult


class TrackingListener(RunListener):
    def stage_finished(self, ctx: StageContext, stage: Stage, result: StageResult) -> None:
        if stage == Stage.PROMOTE:
            result.result["tracking"] = export(ctx)


def export(ctx: StageContext) -> dict[str, Any] | None:
    config = ctx.config
    if not config.tracking.enabled:
        return None
    from trainchain.tracking import export_run

    try:
        exported = export_run(ctx.store, ctx.run.id, config.tracking)
    except TrainchainError as exc:
        ctx.say(f"MLflow export failed: {exc.message}")
        return {"ok": False, "error": exc.message}
    ctx.say(f"exported to MLflow experiment {exported.experiment} ({len(exported.runs)} runs)")
    return {"ok": True, "experiment": exported.experiment, "model_version": exported.model_version}
