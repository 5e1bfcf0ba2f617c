"""Rendering of pipeline progress events: a live rich panel, plain lines, quiet, or nothing.

``live`` on a terminal keeps a panel under the log lines (stage, trial N of the budget, epoch
e/E with the metric, best so far against the target, elapsed, ETA) redrawn as events arrive;
off a terminal the same mode prints plain lines (one per epoch), with no escape codes, so CI
logs and pipes stay readable. ``--json`` prints nothing until the final JSON object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from trainchain.cli.progress import RunProgress, TrialProgress, duration
from trainchain.states import StageState, TrialState

STAGE_STYLE = {
    StageState.RUNNING: "yellow",
    StageState.SUCCEEDED: "green",
    StageState.FAILED: "red",
    StageState.SKIPPED: "dim",
}


class ProgressView:
    """Prints one line per meaningful event; on a terminal a live panel shows the trials."""

    def __init__(self, mode: str = "live", console: Console | None = None) -> None:
        self.mode = mode  # live | quiet | json
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.state = RunProgress()
        self._live: Live | None = None

    @property
    def best(self) -> float | None:
        return self.state.best

    def __call__(self, event: dict[str, Any]) -> None:
        if self.mode == "json":
            return
        self.state.update(event)
        handler = _HANDLERS.get(str(event.get("kind")))
        if handler is not None:
            handler(self, event)
        if self._live is not None:
            self._live.refresh()

    def close(self) -> None:
        """Stop the live panel (end of the run, a failure, Ctrl-C): the lines above stay."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    @property
    def is_live(self) -> bool:
        return self.mode == "live" and self.console.is_terminal

    def _line(self, text: str) -> None:
        self.console.print(text)

    def _show_panel(self) -> None:
        if self.is_live and self._live is None:
            self._live = Live(
                _Panel(self.state),
                console=self.console,
                refresh_per_second=4,  # elapsed and ETA tick between events
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()

    # -- events ------------------------------------------------------------------------------
    def _on_stage(self, ev: dict[str, Any]) -> None:
        state = ev["state"]
        if self.mode == "quiet" and state != StageState.FAILED:
            return
        style = STAGE_STYLE.get(state, "")
        extra = ""
        if state == StageState.SKIPPED:
            extra = f" ({(ev.get('result') or {}).get('reason', '')})"
        self._line(f"[{style}]● {ev['stage']:<8} {state}[/]{extra}")
        if state == StageState.FAILED:
            self.close()  # the summary at the end quotes the error once

    def _on_log(self, ev: dict[str, Any]) -> None:
        if self.mode != "quiet":
            self._line(f"  {escape(ev['message'])}")

    def _on_build(self, ev: dict[str, Any]) -> None:
        self._show_panel()

    def _on_trial_start(self, ev: dict[str, Any]) -> None:
        if self.mode == "quiet":
            return
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in ev["params"].items()) or "script defaults"
        self._line(f"  trial {ev['trial']}{self._of_budget()}: {escape(params)}")
        self._show_panel()

    def _on_epoch(self, ev: dict[str, Any]) -> None:
        if self.mode != "live" or self.is_live:
            return  # the live panel shows epochs; quiet shows none
        trial = self.state.active.get(int(ev["trial"]))
        if trial is not None:
            self._line(f"  {epoch_line(self.state, trial)}")

    def _on_trial_end(self, ev: dict[str, Any]) -> None:
        if not self.state.active:
            self.close()
        if self.mode == "quiet":
            return
        value = ev.get("value")
        shown = (
            f"{ev.get('metric')} = {value:.4f}"
            if value is not None
            else (ev.get("error") or "").splitlines()[0]
            if ev.get("error")
            else ""
        )
        style = {
            TrialState.COMPLETE: "green",
            TrialState.PRUNED: "dim",
            TrialState.FAILED: "red",
        }.get(ev["state"], "")
        best = ""
        if self.state.best is not None:
            best = f" · best {self.state.best:.4f} (trial {self.state.best_trial})"
        self._line(
            f"  [{style}]trial {ev['trial']} {ev['state']}[/] {escape(shown)}{best}"
            f" · {self.state.trials_done()} done, {duration(self.state.elapsed())} elapsed"
        )
        if ev.get("warning"):
            self._line(f"  [yellow]trial {ev['trial']} warning: {escape(ev['warning'])}[/]")

    def _on_restart(self, ev: dict[str, Any]) -> None:
        self._line(f"  [yellow]trial {ev['trial']}: {escape(ev['reason'])}[/]")

    def _on_done(self, ev: dict[str, Any]) -> None:
        self.close()

    def _of_budget(self) -> str:
        budget = self.state.plan.max_trials
        return f" of {budget}" if budget and self.state.stage == "tune" else ""


_HANDLERS: dict[str, Callable[[ProgressView, dict[str, Any]], None]] = {
    "stage": ProgressView._on_stage,
    "log": ProgressView._on_log,
    "build": ProgressView._on_build,
    "trial_start": ProgressView._on_trial_start,
    "epoch": ProgressView._on_epoch,
    "trial_end": ProgressView._on_trial_end,
    "restart": ProgressView._on_restart,
    "done": ProgressView._on_done,
}


def epoch_line(state: RunProgress, trial: TrialProgress) -> str:
    """``trial 3 epoch 4/10 val_accuracy 0.7912 · 12.3s/epoch · trial ETA 37s``."""
    if not trial.epoch:
        return f"trial {trial.number} starting ({duration(state.clock() - trial.started)})"
    total = f"/{trial.epochs}" if trial.epochs else ""
    parts = [f"trial {trial.number} epoch {trial.epoch}{total}"]
    if trial.value is not None:
        parts[0] += f" {trial.metric or state.metric_label()} {trial.value:.4f}"
    per_epoch = trial.seconds_per_epoch()
    if per_epoch is not None:
        parts.append(f"{per_epoch:.1f}s/epoch")
    if trial.eta() is not None:
        parts.append(f"trial ETA {duration(trial.eta())}")
    return " · ".join(parts)


def headline(state: RunProgress) -> str:
    """``tune · trial 3 of 20 · 1m23s elapsed · ETA ≤ 4m10s``."""
    parts = [state.stage or "starting"]
    trials = state.trials()
    if trials:
        numbers = ", ".join(str(t.number) for t in trials)
        budget = f" of {state.plan.max_trials}" if state.plan.max_trials else ""
        parts.append(f"trial {numbers}{budget}" if state.stage == "tune" else f"trial {numbers}")
    parts.append(f"{duration(state.elapsed())} elapsed")
    eta = state.eta_run()
    if eta is not None:
        parts.append(f"ETA ≤ {duration(eta)}")
    return " · ".join(parts)


def best_line(state: RunProgress) -> str | None:
    """``best val_accuracy 0.8123 (trial 1) · target 0.9``, once there is a plan."""
    if state.plan.target is None:
        return None
    best = f"{state.best:.4f} (trial {state.best_trial})" if state.best is not None else "–"
    return f"best {state.metric_label()} {best} · target {state.plan.target:g}"


class _Panel:
    """Rendered afresh on every refresh, so the clock moves between events."""

    def __init__(self, state: RunProgress) -> None:
        self.state = state
        self.spinner = Spinner("dots", style="cyan")

    def __rich__(self) -> Group:
        state = self.state
        self.spinner.update(text=Text(headline(state), style="bold"))
        rows: list[Any] = [self.spinner]
        best = best_line(state)
        if best is not None:
            rows.append(Text("  " + best))
        trials = state.trials()
        if state.building and not trials:
            rows.append(Text(f"  building environment: {state.building[:100]}", style="dim"))
        rows.extend(Text("  " + epoch_line(state, trial)) for trial in trials)
        return Group(*rows)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
