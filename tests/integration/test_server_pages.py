"""Run and model pages through the app: full precision in the JSON, rounded on the page, clear
errors for a missing model or version. (Chromium renders them in tests/browser/.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.browser.test_server_dashboard import seed
from tests.records import add_versions

from trainchain.pipeline import Pipeline
from trainchain.server.app import create_app
from trainchain.server.testing import make_client
from trainchain.store import Store, Trial

PRECISE = 0.5472221970558167


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'pages.db'}")


@pytest.fixture()
def client(store: Store) -> Any:
    with make_client(create_app(store, start_worker=False)) as c:
        yield c


def _precise_trial(store: Store, run_id: str) -> None:
    with store.session() as s:
        trial = s.query(Trial).filter_by(run_id=run_id, number=1).one()
        trial.value = PRECISE


def test_analysis_keeps_full_precision_and_the_page_rounds(client: Any, store: Store) -> None:
    run_id = seed(store)
    _precise_trial(store, run_id)
    data = client.get(f"/api/runs/{run_id}/analysis").json()
    assert [t["value"] for t in data["trials"]][:2] == [0.81, PRECISE]
    assert [t["best_so_far"] for t in data["trials"]] == [0.81, 0.81, 0.86, 0.93]
    assert [len(t["epochs"]) for t in data["trials"]] == [3, 3, 3, 3]
    assert data["importances"]["values"] == {}  # no Optuna study behind a seeded run
    assert "no Optuna study" in data["importances"]["reason"]
    page = client.get(f"/runs/{run_id}").text
    assert "0.5472" in page and "0.5472221970558167</td>" not in page
    live = client.get(f"/runs/{run_id}/live")
    assert live.status_code == 200 and 'data-status="running"' in live.text
    assert "<html" not in live.text  # a fragment for the page to swap in


def test_missing_model_and_version_are_clear_errors(client: Any, store: Store) -> None:
    missing = client.get("/models/nope")
    assert missing.status_code == 404 and "no model 'nope'" in missing.json()["error"]
    run_id = Pipeline(store).create_run("/src/digits")
    add_versions(
        store, "digits", run_id, {1: 0.9, 2: PRECISE}, champion=1, params=lambda v: {"lr": 0.1 * v}
    )
    wrong = client.get("/models/digits/compare?a=1&b=7")
    assert wrong.status_code == 400
    assert "no version 7; versions are 1, 2" in wrong.json()["error"]
    page = client.get("/models/digits/compare?a=1&b=2").text
    assert page.count('class="differs"') == 1 and "0.5472" in page
    model = client.get("/models/digits").text
    assert "moved by hand" in model  # champion v1 was set, not won by a run
