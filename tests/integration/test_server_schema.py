"""schemathesis against /openapi.json with auth on: no generated request gets a 5xx."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from trainchain.server.app import create_app
from trainchain.store import Store

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")


TOKEN = "schemathesis-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def api_schema(tmp_path: Path) -> Any:
    from schemathesis.python import asgi

    app = create_app(
        Store(f"sqlite:///{tmp_path / 'schema.db'}"),
        start_worker=False,
        token=TOKEN,
        allowed_hosts=[asgi.HOST],
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        return schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()  # type: ignore[untyped-decorator]
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_gets_a_server_error(case: Any) -> None:
    from schemathesis.checks import not_a_server_error

    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])
