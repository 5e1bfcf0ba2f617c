"""The dashboard in real Chromium against a real uvicorn server and real rows in the DB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.services import require, require_chromium

from trainchain import paths
from trainchain.pipeline import Pipeline
from trainchain.server.app import create_app
from trainchain.server.testing import live_server
from trainchain.store import Attempt, EpochMetric, StageRun, Store, Trial

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
STATES = {
    "fetch": "succeeded",
    "detect": "succeeded",
    "train": "succeeded",
    "tune": "running",
    "promote": "pending",
    "monitor": "pending",
}


WARNING = "the script failed after training finished at train.py:31: OSError: no model.h5"


def seed(store: Store) -> str:
    run_id = Pipeline(store).create_run(
        "https://github.com/acme/digits.git", ref="abc1234def", branch="main", trigger="webhook"
    )
    store.update_run(
        run_id,
        status="running",
        profile="keras",
        metric_name="val_accuracy",
        config={"metric": "val_accuracy", "goal": "maximize", "target": 0.95},
        detection={"evidence": ["train.py:3 import keras"]},
        started_at=dt.datetime(2026, 1, 1, 12, 0),
    )
    with store.session() as s:
        for stage, state in STATES.items():
            s.add(StageRun(run_id=run_id, stage=stage, state=state))
        for number, value in enumerate((0.81, 0.88, 0.86, 0.93)):
            crashed = number == 2  # the script failed after training: complete, with a warning
            trial = Trial(
                run_id=run_id,
                number=number,
                state="complete",
                value=value,
                metric_name="val_accuracy",
                params={"epochs": 3 + number},
                info={"warning": WARNING} if crashed else {},
            )
            s.add(trial)
            s.flush()
            s.add(
                Attempt(
                    trial_id=trial.id,
                    number=1,
                    outcome="succeeded_with_error" if crashed else "succeeded",
                )
            )
            for epoch in range(1, 4):
                s.add(
                    EpochMetric(
                        trial_id=trial.id,
                        attempt=1,
                        epoch=epoch,
                        metrics={"val_accuracy": value - 0.01 * (3 - epoch)},
                    )
                )
    return run_id


@pytest.mark.browser
def test_dashboard_renders_stage_boxes_and_trial_chart(tmp_path: Path) -> None:
    require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install playwright)")
    store = Store(f"sqlite:///{tmp_path / 'ui.db'}")
    run_id = seed(store)
    log = paths.runs_dir() / run_id / "trials" / "003" / "attempt-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("Epoch 3/3 - val_accuracy: 0.9300\n")
    ARTIFACTS.mkdir(exist_ok=True)
    app = create_app(store, start_worker=False)
    with live_server(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{base}/")  # no session yet: the login form
        page.fill("input[name=token]", app.state.token)
        page.click("button[type=submit]")
        row = page.locator(f"tr.run-row[data-run='{run_id}']")
        boxes = row.locator(".stage")
        assert boxes.count() == 6
        seen = {
            boxes.nth(i).get_attribute("data-stage"): boxes.nth(i).get_attribute("data-state")
            for i in range(6)
        }
        assert seen == STATES
        colour = row.locator(".stage[data-stage='train']").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        assert colour == "rgb(76, 175, 80)"  # succeeded is green: the stylesheet was served
        page.screenshot(path=str(ARTIFACTS / "dashboard-runs.png"), full_page=True)
        page.click(f"a[href='/runs/{run_id}']")
        page.wait_for_selector("svg#history")
        assert page.locator("#history .trial-point circle.point").count() == 4
        assert page.locator("#history .target line").count() == 1
        assert page.locator("svg#history").bounding_box()["width"] > 100  # type: ignore[index]
        assert page.locator("#trials tr.trial-row").count() == 4
        warning = page.locator("#trials tr.trial-warning")
        assert warning.count() == 1 and WARNING in warning.inner_text()
        colour = warning.locator(".status-warning").evaluate("e => getComputedStyle(e).color")
        assert colour == "rgb(178, 106, 0)"  # shown as a warning, not as a failure
        assert "keras" in page.content() and "train.py:3 import keras" in page.content()
        curves = page.locator("#intermediate g.series")
        assert curves.count() == 4 and curves.locator("circle.point").count() == 12
        page.wait_for_function(
            "document.getElementById('logs').textContent.includes('val_accuracy: 0.9300')"
        )  # the live log arrived over server-sent events
        page.screenshot(path=str(ARTIFACTS / "dashboard-run.png"), full_page=True)
        page.goto(f"{base}/models")
        assert "No models registered yet" in page.content()
        browser.close()
