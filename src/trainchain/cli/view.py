"""Rendering of pipeline progress events: a live rich view, quiet, or nothing (--json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

STAGE_STYLE = {"running": "yellow", "succeeded": "green", "failed": "red", "skipped": "dim"}


class ProgressView:
    """Prints one line per meaningful event; epochs update a transient status line."""

    def __init__(self, mode: str = "live", console: Console | None = None) -> None:
        self.mode = mode  # live | quiet | json
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.best: float | None = None
        self._status: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.mode == "json":
            return
        handler: Callable[[dict[str, Any]], None] | None = getattr(
            self, f"_on_{event.get('kind')}", None
        )
        if handler:
            handler(event)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _line(self, text: str) -> None:
        self.console.print(text)

    def _on_stage(self, ev: dict[str, Any]) -> None:
        state = ev["state"]
        if self.mode == "quiet" and state != "failed":
            return
        style = STAGE_STYLE.get(state, "")
        extra = ""
        if state == "skipped":
            extra = f" ({(ev.get('result') or {}).get('reason', '')})"
        self._line(f"[{style}]● {ev['stage']:<8} {state}[/]{extra}")
        if state == "failed":
            self.close()  # the summary at the end quotes the error once

    def _on_log(self, ev: dict[str, Any]) -> None:
        if self.mode != "quiet":
            self._line(f"  {escape(ev['message'])}")

    def _on_build(self, ev: dict[str, Any]) -> None:
        if self.mode == "live":
            self._status_text(f"building environment: {escape(ev['line'][:100])}")

    def _on_trial_start(self, ev: dict[str, Any]) -> None:
        if self.mode == "quiet":
            return
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in ev["params"].items()) or "script defaults"
        self._line(f"  trial {ev['trial']}: {escape(params)}")

    def _on_epoch(self, ev: dict[str, Any]) -> None:
        if self.mode != "live":
            return
        metrics = "  ".join(f"{k}={v:.4f}" for k, v in ev["metrics"].items())
        best = f"  best so far {self.best:.4f}" if self.best is not None else ""
        self._status_text(f"trial {ev['trial']} epoch {ev['epoch']}: {metrics}{best}")

    def _on_trial_end(self, ev: dict[str, Any]) -> None:
        self.close()
        value = ev.get("value")
        if value is not None and (self.best is None or value > self.best):
            self.best = value
        if self.mode == "quiet":
            return
        shown = (
            f"{ev.get('metric')} = {value:.4f}"
            if value is not None
            else (ev.get("error") or "").splitlines()[0]
            if ev.get("error")
            else ""
        )
        style = {"complete": "green", "pruned": "dim", "failed": "red"}.get(ev["state"], "")
        self._line(f"  [{style}]trial {ev['trial']} {ev['state']}[/] {escape(shown)}")

    def _on_restart(self, ev: dict[str, Any]) -> None:
        self.close()
        self._line(f"  [yellow]trial {ev['trial']}: {escape(ev['reason'])}[/]")

    def _status_text(self, text: str) -> None:
        if not self.console.is_terminal:
            return
        if self._status is None:
            self._status = self.console.status(text)
            self._status.start()
        else:
            self._status.update(text)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
