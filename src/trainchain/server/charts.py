"""Chart geometry for the dashboard's server-side SVG: scales, "nice" ticks, points, lines.

The templates draw what these functions compute (``templates/_charts.html``), so a chart is
plain SVG with axes, tick labels, units and a ``<title>`` per point for hover values: no
JavaScript library to vendor, pin and audit, and a page that renders without scripts. Values
keep full precision in ``data-value`` attributes and the JSON API; labels are rounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT = 640, 260
MARGIN = {"left": 64, "right": 36, "top": 18, "bottom": 44}


def num(value: Any, digits: int = 4) -> str:
    """A number for people: 4 significant digits (0.5472), ints as ints, '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.{digits}g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 x 10^k) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten inside [low, high] (both > 0), with the ends when there are few."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks = [10.0**k for k in range(first, last + 1) if low <= 10.0**k <= high]
    return ticks if len(ticks) >= 2 else [low, high]


@dataclass(frozen=True)
class Scale:
    """Maps data values in [low, high] to pixels in [start, end] (linear or log)."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        low, high, v = self.low, self.high, value
        if self.log:
            low, high, v = math.log10(low), math.log10(high), math.log10(max(value, self.low))
        span = (high - low) or 1.0
        return round(self.start + (self.end - self.start) * (v - low) / span, 1)

    def ticks(self, count: int = 5) -> list[float]:
        return (
            log_ticks(self.low, self.high) if self.log else nice_ticks(self.low, self.high, count)
        )


def padded(values: list[float], integer: bool = False) -> tuple[float, float]:
    """A range around the values, widened when they are all equal."""
    low, high = min(values), max(values)
    if high == low:
        pad = 1.0 if integer else (abs(low) * 0.05 or 0.05)
        return low - pad, high + pad
    if integer:
        return low, high
    pad = (high - low) * 0.05
    return low - pad, high + pad


@dataclass
class Series:
    name: str
    css: str  # class of the line and its points (state of a trial, best-so-far...)
    points: Sequence[tuple[float, float, str]]  # x, y, hover text
    line: bool = True
    markers: bool = True
    data: dict[str, Any] = field(default_factory=dict)  # data-* attributes of the group


def xy_chart(
    series: list[Series],
    x_label: str,
    y_label: str,
    target: float | None = None,
    x_integer: bool = True,
    x_names: dict[int, str] | None = None,
) -> dict[str, Any]:
    """Everything the ``xy`` macro draws; an empty chart when there is no point.

    ``x_names`` labels integer x positions with words (commits) instead of numbers.
    """
    xs = [x for s in series for x, _, _ in s.points]
    ys = [y for s in series for _, y, _ in s.points] + ([target] if target is not None else [])
    box = _box()
    chart: dict[str, Any] = {**box, "x_label": x_label, "y_label": y_label, "series": []}
    if not xs:
        chart.update(xticks=[], yticks=[], target=None, empty=True)
        return chart
    x_low, x_high = padded(xs, integer=x_integer)
    y_low, y_high = padded(ys)
    sx = Scale(x_low, x_high, box["left"], box["right"])
    sy = Scale(y_low, y_high, box["bottom"], box["top"])
    xticks = [t for t in sx.ticks(6) if not x_integer or float(t).is_integer()]
    chart["xticks"] = [{"at": sx(t), "label": num(t)} for t in xticks]
    if x_names is not None:
        chart["xticks"] = [{"at": sx(x), "label": label} for x, label in sorted(x_names.items())]
    chart["yticks"] = [{"at": sy(t), "label": num(t)} for t in sy.ticks(5)]
    chart["target"] = (
        {"at": sy(target), "label": f"target {num(target)}", "value": target}
        if target is not None
        else None
    )
    for s in series:
        points = [
            {"x": sx(x), "y": sy(y), "title": title, "value": y, "n": x} for x, y, title in s.points
        ]
        chart["series"].append(
            {
                "name": s.name,
                "css": s.css,
                "line": s.line and len(points) > 1,
                "markers": s.markers,
                "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
                "points": points,
                "data": s.data,
            }
        )
    chart["empty"] = False
    return chart


def bar_chart(bars: list[tuple[str, float]], x_label: str) -> dict[str, Any]:
    """Horizontal bars (parameter importances), longest first, values in [0, 1]."""
    row, label_width = 26, 150
    height = MARGIN["top"] + MARGIN["bottom"] + row * max(1, len(bars))
    left, right = label_width, WIDTH - MARGIN["right"]
    scale = Scale(0.0, max([1.0, *(v for _, v in bars)]), left, right)
    return {
        "width": WIDTH,
        "height": height,
        "left": left,
        "right": right,
        "bottom": height - MARGIN["bottom"],
        "x_label": x_label,
        "xticks": [{"at": scale(t), "label": num(t)} for t in nice_ticks(0.0, scale.high, 6)],
        "bars": [
            {
                "name": name,
                "y": MARGIN["top"] + i * row + 4,
                "h": row - 8,
                "w": round(scale(value) - left, 1),
                "value": value,
                "label": num(value, 3),
            }
            for i, (name, value) in enumerate(bars)
        ],
    }


def _box() -> dict[str, Any]:
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": MARGIN["left"],
        "right": WIDTH - MARGIN["right"],
        "top": MARGIN["top"],
        "bottom": HEIGHT - MARGIN["bottom"],
    }


@dataclass(frozen=True)
class Dimension:
    """One vertical axis of a parallel-coordinates chart."""

    name: str
    values: list[Any]  # one per line, None when the trial lacks it
    log: bool = False
    choices: list[Any] | None = None  # categorical: positions in this order


def parallel_chart(
    dimensions: list[Dimension], titles: list[str], shades: list[float]
) -> dict[str, Any]:
    """Parallel coordinates: one axis per dimension, one polyline per trial.

    ``shades`` (0..1, one per line) colour the lines from worst to best objective.
    """
    box = _box()
    height = HEIGHT + 20
    top, bottom = box["top"] + 14, height - MARGIN["bottom"]
    count = max(1, len(dimensions) - 1)
    xs = [
        box["left"] + (box["right"] - box["left"] - 40) * i / count for i in range(len(dimensions))
    ]
    axes, positions = [], []
    for x, dim in zip(xs, dimensions, strict=True):
        place, ticks = _dimension_scale(dim, bottom, top)
        axes.append({"x": round(x, 1), "name": dim.name, "ticks": ticks})
        positions.append(place)
    lines = []
    for row, (title, shade) in enumerate(zip(titles, shades, strict=True)):
        points = [
            (round(x, 1), place(dim.values[row]))
            for x, dim, place in zip(xs, dimensions, positions, strict=True)
            if dim.values[row] is not None
        ]
        lines.append(
            {
                "polyline": " ".join(f"{x},{y}" for x, y in points),
                "title": title,
                "opacity": round(0.25 + 0.75 * shade, 2),
                "width": round(1 + 2 * shade, 1),
            }
        )
    return {
        "width": WIDTH,
        "height": height,
        "top": top,
        "bottom": bottom,
        "axes": axes,
        "lines": lines,
        "empty": not lines or len(dimensions) < 2,
    }


def _dimension_scale(dim: Dimension, bottom: float, top: float) -> tuple[Any, list[dict[str, Any]]]:
    present = [v for v in dim.values if v is not None]
    if dim.choices is not None or any(isinstance(v, str | bool) for v in present):
        choices = dim.choices or sorted({str(v) for v in present})
        keys = [str(c) for c in choices]
        step = (bottom - top) / max(1, len(keys) - 1)
        spot = {
            k: round(bottom - step * i, 1) if len(keys) > 1 else (bottom + top) / 2
            for i, k in enumerate(keys)
        }
        return (lambda v: spot.get(str(v), bottom)), [{"at": spot[k], "label": k} for k in keys]
    numbers = [float(v) for v in present] or [0.0]
    log = dim.log and min(numbers) > 0
    low, high = (min(numbers), max(numbers)) if log else padded(numbers)
    if log and low == high:
        low, high = low / 2, high * 2
    scale = Scale(low, high, bottom, top, log=log)
    return (lambda v: scale(float(v))), [{"at": scale(t), "label": num(t)} for t in scale.ticks(4)]
