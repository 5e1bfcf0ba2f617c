"""What a notification says, shared by every channel: headline, facts, plain-text body.

Pure functions of ``(event, RunReport)`` so each channel only decides the format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from trainchain.report import RunReport, TrialReport

TEST_RUN_PREFIX = "notify-test-"  # run ids of the synthetic report sent by `notify test`

_VERB = {
    "started": "started",
    "succeeded": "reached the target",
    "target_not_reached": "did not reach the target",
    "failed": "failed",
}


def is_test(report: RunReport) -> bool:
    return report.run_id.startswith(TEST_RUN_PREFIX)


def fmt(value: Any) -> str:
    """Numbers short and readable (0.9123, 1.2e-05, 12); anything else as str."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def project_name(report: RunReport) -> str:
    """``https://github.com/acme/digits.git`` -> ``digits``; a path -> its last part."""
    tail = re.split(r"[/:\\]", report.source.rstrip("/\\"))[-1]
    return tail.removesuffix(".git") or report.source


def where(report: RunReport) -> str:
    label = project_name(report)
    if report.commit:
        label += f"@{report.commit[:7]}"
    if report.branch:
        label += f" ({report.branch})"
    return label


def best_value(report: RunReport) -> float | None:
    value = (report.best or {}).get("value")
    return float(value) if isinstance(value, int | float) else None


def comparison(report: RunReport) -> str:
    """``val_accuracy 0.912 >= target 0.9`` (or ``< target`` / no value yet)."""
    spec = report.metric
    value = best_value(report)
    op = ">=" if spec.goal == "maximize" else "<="
    if value is None:
        return f"{spec.name}: no value yet (target {op} {fmt(spec.target)})"
    hit = value >= spec.target if spec.goal == "maximize" else value <= spec.target
    shown_op = op if hit else ("<" if spec.goal == "maximize" else ">")
    return f"{spec.name} {fmt(value)} {shown_op} target {fmt(spec.target)}"


def headline(event: str, report: RunReport) -> str:
    """One line: ``digits@1a2b3c4 reached the target: val_accuracy 0.93 >= target 0.9``."""
    text = f"{where(report)} {_VERB.get(event, event)}"
    if event in ("succeeded", "target_not_reached"):
        text += f": {comparison(report)}"
    elif event == "failed":
        text += f" in {report.failed_stage or 'an unknown stage'}"
    prefix = "[TEST] " if is_test(report) else ""
    return prefix + text


def facts(event: str, report: RunReport) -> list[tuple[str, str]]:
    """Labelled rows shown by every channel, in reading order."""
    rows: list[tuple[str, str]] = []
    if is_test(report):
        rows.append(("Test", "this is a test notification sent by `trainchain notify test`"))
    rows += [("Run", report.run_id), ("Source", report.source)]
    if report.commit:
        rows.append(("Commit", report.commit + (f" on {report.branch}" if report.branch else "")))
    if event == "failed":
        rows.append(("Failed stage", report.failed_stage or "unknown"))
        rows.append(("Reason", report.error or "no reason recorded"))
    if event != "started":
        goal = "maximize" if report.metric.goal == "maximize" else "minimize"
        rows.append(
            ("Metric", f"{report.metric.name} ({goal}, target {fmt(report.metric.target)})")
        )
        rows.append(("Result", comparison(report)))
        if report.best:
            trial = report.best.get("trial")
            rows.append(("Best trial", f"#{trial}" if trial is not None else "-"))
            rows.append(("Best parameters", params_text(report.best.get("params") or {})))
        if report.baseline and report.baseline.get("value") is not None:
            rows.append(("Baseline", fmt(report.baseline["value"])))
        rows.append(("Trials", trial_counts(report.trials)))
        if report.model:
            champion = "yes, now the champion" if report.became_champion else "no, champion kept"
            rows.append(("Model", f"{report.model.name} v{report.model.version}"))
            rows.append(("Champion", champion))
    if event != "started":
        rows += [("Warning", text) for text in warnings(report)]
    if event == "target_not_reached":
        rows.append(("Tried", "; ".join(tried(report.trials)) or "baseline only"))
    if report.profile:
        rows.append(("Profile", report.profile))
    return rows


def warnings(report: RunReport) -> list[str]:
    """Trials that completed although the script failed after training (once per message)."""
    seen: dict[str, list[int]] = {}
    for t in report.trials:
        if t.warning:
            seen.setdefault(t.warning, []).append(t.number)
    return [
        f"trial{'s' if len(n) > 1 else ''} {', '.join(f'#{x}' for x in n)}: {text}"
        for text, n in seen.items()
    ]


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in sorted(params.items())) or "script defaults"


def trial_counts(trials: Sequence[TrialReport]) -> str:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    detail = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    return f"{len(trials)}" + (f" ({detail})" if detail else "")


def tried(trials: Sequence[TrialReport]) -> list[str]:
    """Per parameter, the range or the set of values the trials used."""
    values: dict[str, list[Any]] = {}
    for trial in trials:
        for name, value in trial.params.items():
            values.setdefault(name, []).append(value)
    out = []
    for name, vals in sorted(values.items()):
        numbers = [v for v in vals if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) == len(vals) and len(set(numbers)) > 1:
            out.append(f"{name} {fmt(min(numbers))}..{fmt(max(numbers))}")
        else:
            distinct = list(dict.fromkeys(fmt(v) for v in vals))
            out.append(f"{name} in {{{', '.join(distinct)}}}")
    return out


def text_body(event: str, report: RunReport) -> str:
    """The readable plain-text version: headline, facts, then one line per trial."""
    rows = facts(event, report)
    width = max(len(label) for label, _ in rows)
    lines = [headline(event, report), ""]
    lines += [f"{label + ':':<{width + 1}} {value}" for label, value in rows]
    scored = [t for t in report.trials if t.value is not None or t.error]
    if scored and event != "started":
        lines += ["", "Trials:"]
        for t in scored:
            value = fmt(t.value) if t.value is not None else "-"
            note = f"  ({t.error})" if t.error and t.value is None else ""
            note += "  (warning: failed after training)" if t.warning else ""
            lines.append(f"  #{t.number:<3} {t.state:<9} {value:>8}  {params_text(t.params)}{note}")
    lines += ["", "-- trainchain"]
    return "\n".join(lines) + "\n"


def short_description(event: str, report: RunReport, limit: int = 140) -> str:
    """A one-line summary within ``limit`` characters (GitHub's status description)."""
    test = "[TEST] " if is_test(report) else ""
    if event == "started":
        text = "training and tuning started"
    elif event == "failed":
        text = f"failed in {report.failed_stage or 'unknown stage'}: {report.error or 'no reason'}"
    else:
        text = comparison(report)
        if report.model:
            text += f"; {report.model.name} v{report.model.version}"
            text += " (champion)" if report.became_champion else ""
    text = test + " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
