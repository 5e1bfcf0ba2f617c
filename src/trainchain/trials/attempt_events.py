"""What an attempt's events say: its epochs, its model, a crash after training, and the
summary the restart policy reads (``events.jsonl`` as written by the agent)."""

from __future__ import annotations

from typing import Any

from trainchain.runtimes.base import Outcome
from trainchain.states import OutcomeKind
from trainchain.store import Trial
from trainchain.trials import metrics as M
from trainchain.trials.policy import AttemptSummary


def as_epoch(ev: dict[str, Any]) -> dict[str, Any] | None:
    """Keras epoch events, and SDK metrics logged with a step (PyTorch loops), as epochs."""
    if ev.get("type") == "epoch":
        return ev
    if ev.get("type") == "metric" and ev.get("step") is not None and M._is_number(ev.get("value")):
        return {"epoch": int(ev["step"]), "metrics": {str(ev["name"]): float(ev["value"])}}
    return None


def model_path(events: list[dict[str, Any]]) -> str | None:
    return next((ev.get("path") for ev in reversed(events) if ev.get("type") == "model"), None)


def trial_info(trial: Trial, events: list[dict[str, Any]], warning: str | None) -> dict[str, Any]:
    """A finished trial's info: what the agent applied and reported, and a warning."""
    return {
        **(trial.info or {}),
        "architecture": next(
            (ev for ev in reversed(events) if ev.get("type") == "architecture"), None
        ),
        "applied": [ev for ev in events if ev.get("type") in ("param", "prompt")],
        "adjusted": [ev for ev in events if ev.get("type") == "adjusted"],
        "warning": warning,
        **best_epoch_info(events),
    }


def best_epoch_info(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The agent's ``best``, ``early_stop`` and ``classes`` events of the last fit."""
    out: dict[str, Any] = {}
    for kind in ("best", "early_stop", "classes"):
        found = next((ev for ev in reversed(events) if ev.get("type") == kind), None)
        if found is not None:
            out[kind] = {k: v for k, v in found.items() if k not in ("type", "time", "ts")}
    return out


def crash_after_training(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The exception of a script that failed after its training finished, else None."""
    end = next((ev for ev in reversed(events) if ev.get("type") == "end"), None)
    if end is None or not end.get("after_training"):
        return None
    exc = end.get("exception")
    return dict(exc) if isinstance(exc, dict) else {"type": "error", "message": ""}


def crash_warning(exc: dict[str, Any]) -> str:
    where = f" at {exc.get('file')}:{exc.get('line')}" if exc.get("file") else ""
    return (
        f"the script failed after training finished{where}: {exc.get('type')}: "
        f"{exc.get('message')}; the trial kept training's metrics and model"
    )


def after_training(outcome: Outcome, events: list[dict[str, Any]]) -> Outcome:
    """A failed exit after training finished completes the trial, with a warning."""
    exc = crash_after_training(events)
    if outcome.kind != OutcomeKind.FAILED or exc is None:
        return outcome
    return Outcome(
        OutcomeKind.SUCCEEDED_WITH_ERROR,
        exit_code=outcome.exit_code,
        reason=crash_warning(exc),
    )


def metric_after_crash(
    number: int, wanted: str, exc: dict[str, Any], events: list[dict[str, Any]], tail: str
) -> str:
    reported = sorted({n for pairs in M.final_metrics(events).values() for n, _ in pairs})
    where = f"{exc.get('file')}:{exc.get('line')}" if exc.get("file") else "an unknown line"
    return (
        f"trial {number}: the {wanted} was not reported before the script failed after "
        f"training at {where} ({exc.get('type')}: {exc.get('message')}); it is probably "
        f"printed after that point. Fix the failure at {where}, or set metric: in "
        f"trainchain.yaml to one reported before it ({', '.join(reported) or 'none was'}). "
        f"Last lines of output:\n{tail}"
    )


def summarize(outcome: Outcome, events: list[dict[str, Any]]) -> AttemptSummary:
    end = next((ev for ev in reversed(events) if ev.get("type") == "end"), None)
    epochs = [int(ev["epoch"]) for ev in events if ev.get("type") == "epoch" and "epoch" in ev]
    exception = end.get("exception") if end else None
    reason = outcome.reason
    if outcome.kind == OutcomeKind.FAILED and exception:
        reason = f"{outcome.reason}: {exception.get('type')}: {exception.get('message')}"
    elif outcome.kind == OutcomeKind.FAILED and end and end.get("message"):
        reason = f"{outcome.reason}: {end.get('message')}"
    return AttemptSummary(outcome.kind, reason, exception, max(epochs) if epochs else None)


def batch_size(events: list[dict[str, Any]], params: dict[str, Any]) -> int:
    for ev in reversed(events):
        if ev.get("type") == "fit" and ev.get("batch_size"):
            return int(ev["batch_size"])
    return int(params.get("keras.batch_size") or 32)
