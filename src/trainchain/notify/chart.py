"""An inline SVG chart of the metric per trial with the target line (no external resources).

Embedded in the HTML part of emails; standalone SVG 1.1, so it also renders in a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from trainchain.report import MetricSpec, TrialReport
from trainchain.states import TrialState

_QUOTES = {'"': "&quot;", "'": "&#x27;"}  # escape() alone leaves quotes: attribute values need them
WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 36
_COLORS = {"complete": "#1f77b4", "pruned": "#9e9e9e"}


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def trial_chart(trials: Sequence[TrialReport], metric: MetricSpec) -> str:
    """SVG: one dot per trial with a value, the best-so-far line and the dashed target."""
    points = sorted((t.number, float(t.value), t.state) for t in trials if t.value is not None)
    title = f"{metric.name} per trial (target {metric.target:.4g}, {metric.goal})"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title, _QUOTES)}" '
        'font-family="Helvetica,Arial,sans-serif" font-size="11">'
    )
    parts = [
        head,
        f'<text x="{LEFT}" y="16" font-size="13">{escape(title)}</text>',
        f'<text x="{WIDTH - RIGHT}" y="16" text-anchor="end">'
        '<tspan fill="#1f77b4">\u25cf trial</tspan>  <tspan fill="#9e9e9e">\u25cf pruned</tspan>  '
        '<tspan fill="#2ca02c">\u2014 best so far</tspan></text>',
    ]
    if not points:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT // 2}">no trial produced a value</text></svg>')
        return "".join(parts)

    values = [v for _, v, _ in points] + [metric.target]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    numbers = [n for n, _, _ in points]
    first, last = min(numbers), max(numbers)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(n: float) -> float:
        return LEFT + (plot_w / 2 if last == first else (n - first) / (last - first) * plot_w)

    def y(v: float) -> float:
        return TOP + (high - v) / (high - low) * plot_h

    bottom = TOP + plot_h
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="#ffffff" stroke="#cccccc"/>'
    )
    for tick in _ticks(low, high):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#eeeeee"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:.3g}</text>'
        )
    every = max(1, len(numbers) // 12)
    for n in numbers[::every]:
        parts.append(f'<text x="{x(n):.1f}" y="{bottom + 14}" text-anchor="middle">{n}</text>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">trial</text>'
    )

    # best so far, as a step line: what the search had achieved after each trial
    better = max if metric.goal == "maximize" else min
    best: float | None = None
    steps: list[str] = []
    for n, v, state in points:
        if state != TrialState.COMPLETE:  # a pruned trial's value is intermediate, as in Optuna
            continue
        if best is not None:
            steps.append(f"{x(n):.1f},{y(best):.1f}")
        best = v if best is None else better(best, v)
        steps.append(f"{x(n):.1f},{y(best):.1f}")
    parts.append(
        f'<polyline class="best" points="{" ".join(steps)}" fill="none" '
        'stroke="#2ca02c" stroke-width="1.5"/>'
    )

    ty = y(metric.target)
    parts.append(
        f'<line class="target" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" '
        'stroke="#d62728" stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{LEFT + 4}" y="{ty - 4:.1f}" fill="#d62728">'
        f"target {metric.target:.4g}</text>"
    )
    for n, v, state in points:
        color = _COLORS.get(state, "#ff7f0e")
        parts.append(
            f'<circle class="trial" cx="{x(n):.1f}" cy="{y(v):.1f}" r="4" fill="{color}">'
            f"<title>trial {n}: {v:.4g} ({escape(state)})</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
