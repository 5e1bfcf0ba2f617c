"""Notifications as a listener of the chain: ``started`` and the final status, per channel."""

from __future__ import annotations

from trainchain.stages import Stage
from trainchain.stages.context import RunListener, StageContext, StageResult


class NotifyListener(RunListener):
    """``started`` goes out once per run: at its start when the channels are known (a resumed
    run), else when fetch has read them from the commit's configuration (a new run)."""

    def run_started(self, ctx: StageContext) -> None:
        self._started_once(ctx)

    def stage_finished(self, ctx: StageContext, stage: Stage, result: StageResult) -> None:
        if stage == Stage.FETCH:
            self._started_once(ctx)

    def _started_once(self, ctx: StageContext) -> None:
        if not any(n.event == "started" for n in ctx.store.notifications(ctx.run.id)):
            notify(ctx, "started")

    def run_finished(self, ctx: StageContext, status: str) -> None:
        notify(ctx, status)


def notify(ctx: StageContext, event: str) -> None:
    """Send ``event`` on the run's channels, record every answer and say it in the log."""
    run = ctx.store.get_run(ctx.run.id)
    channels = (run.config or {}).get("notify") or []
    if not channels:
        return
    from trainchain.notify.base import dispatch
    from trainchain.notify.config import parse_notify
    from trainchain.reporting import build_report

    report = build_report(ctx.store, run)
    # Short timeouts: an unreachable channel must not hold the end of a run for long.
    results = dispatch(event, report, parse_notify(channels), retries=2, timeout=5)
    ctx.store.add_notifications(
        run.id,
        [
            {
                "channel": r.channel,
                "event": r.event,
                "ok": r.ok,
                "attempts": r.attempts,
                "error": r.error,
                "detail": r.detail,
            }
            for r in results  # no secrets in r
        ],
    )
    for r in results:
        ctx.say(f"notify {r.channel} {r.event}: {'sent' if r.ok else 'FAILED: ' + (r.error or '')}")
