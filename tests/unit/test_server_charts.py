"""Chart geometry of the dashboard: ticks people can read, scales, the target, hover text."""

from __future__ import annotations

import pytest

from trainchain.report import MetricSpec, RunReport, TrialReport
from trainchain.server import analysis
from trainchain.server.charts import (
    Dimension,
    Scale,
    Series,
    nice_ticks,
    num,
    parallel_chart,
    xy_chart,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.5472221970558167, "0.5472"),
        (12, "12"),
        (3.0, "3"),
        (None, "–"),
        (1e-05, "1e-05"),
        ("relu", "relu"),
        (True, "True"),
    ],
)
def test_numbers_are_rounded_for_people(value: object, shown: str) -> None:
    assert num(value) == shown


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0.8123, 0.9571, 5) == [0.85, 0.9, 0.95]
    assert nice_ticks(0, 10, 6) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(1, 1) == [1]


def test_log_scale_puts_decades_at_equal_distances() -> None:
    scale = Scale(1e-4, 1.0, 0.0, 400.0, log=True)
    assert [scale(v) for v in (1e-4, 1e-2, 1.0)] == [0.0, 200.0, 400.0]
    assert scale.ticks() == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def test_xy_chart_draws_the_target_above_lower_values_and_labels_points() -> None:
    chart = xy_chart(
        [Series("trials", "p", [(0, 0.5, "trial 0: 0.5"), (1, 0.7, "trial 1: 0.7")])],
        x_label="trial number",
        y_label="accuracy",
        target=0.9,
    )
    first, second = chart["series"][0]["points"]
    assert chart["target"]["at"] < second["y"] < first["y"]  # SVG y grows downwards
    assert first["x"] == chart["left"] and second["x"] == chart["right"]
    assert [t["label"] for t in chart["xticks"]] == ["0", "1"]
    assert chart["target"]["label"] == "target 0.9" and first["title"] == "trial 0: 0.5"
    assert xy_chart([], "x", "y")["empty"]


def test_parallel_coordinates_place_categories_and_log_values() -> None:
    chart = parallel_chart(
        [
            Dimension("lr", [1e-4, 1e-2], log=True),
            Dimension("opt", ["adam", "sgd"]),
            Dimension("acc", [0.5, 0.9]),
        ],
        titles=["a", "b"],
        shades=[0.0, 1.0],
    )
    assert [a["name"] for a in chart["axes"]] == ["lr", "opt", "acc"]
    assert [t["label"] for t in chart["axes"][1]["ticks"]] == ["adam", "sgd"]
    assert len(chart["lines"]) == 2 and chart["lines"][1]["opacity"] == 1.0


def _report(trials: list[TrialReport]) -> RunReport:
    return RunReport(
        run_id="r",
        status="running",
        source="s",
        commit=None,
        branch=None,
        profile=None,
        metric=MetricSpec("val_accuracy", "maximize", 0.9),
        baseline=None,
        best={"trial": 1, "value": 0.8},
        trials=trials,
        model=None,
        error=None,
    )


def test_history_keeps_the_best_so_far_and_counts_trials_without_a_value() -> None:
    trials = [
        TrialReport(0, "complete", 0.6, {}),
        TrialReport(1, "complete", 0.8, {"lr": 0.1}),
        TrialReport(2, "complete", 0.7, {"lr": 0.2}),
        TrialReport(3, "pruned", None, {"lr": 0.3}),
    ]
    chart = analysis.history(_report(trials))
    best = chart["series"][1]["points"]
    assert [(p["n"], p["value"]) for p in best] == [(0, 0.6), (1, 0.6), (1, 0.8), (2, 0.8)]
    assert chart["hidden"] == {"pruned": 1}


def test_intermediate_values_draw_every_trial_and_mark_pruned_ones() -> None:
    epochs = [
        {"epoch": e, "attempt": 1, "metrics": {"loss": 1.0, "val_accuracy": 0.1 * e}}
        for e in (1, 2, 3)
    ]
    trials = [
        TrialReport(0, "complete", 0.3, {}, epochs=epochs),
        TrialReport(1, "pruned", None, {}, epochs=epochs[:1]),
    ]
    chart = analysis.intermediate(_report(trials))
    assert [s["data"]["state"] for s in chart["series"]] == ["complete", "pruned"]
    assert [len(s["points"]) for s in chart["series"]] == [3, 1]
    assert chart["y_label"] == "val_accuracy"
