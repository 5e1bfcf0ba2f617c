"""Operator settings: one class reads every TRAINCHAIN_* variable; docs/settings.md lists them."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainchain import paths
from trainchain.errors import ConfigError
from trainchain.settings import operator_settings, settings_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_docs_list_every_setting() -> None:
    assert settings_table() in DOCS.read_text(), "regenerate the table in docs/settings.md"


def test_environment_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRAINCHAIN_HOME", str(tmp_path / "a"))
    assert paths.home() == tmp_path / "a"
    monkeypatch.setenv("TRAINCHAIN_HOME", str(tmp_path / "b"))
    monkeypatch.setenv("TRAINCHAIN_DB_URL", "")  # empty counts as unset
    assert paths.home() == tmp_path / "b"
    assert paths.db_url() == f"sqlite:///{tmp_path / 'b' / 'trainchain.db'}"
    monkeypatch.setenv("TRAINCHAIN_OFFLINE", "yes")
    monkeypatch.setenv("TRAINCHAIN_TRIAL_UID", "1234")
    settings = operator_settings()
    assert settings.offline and settings.trial_uid == 1234 and settings.trial_memory == "8g"


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINCHAIN_TRIAL_UID", "nobody")
    with pytest.raises(ConfigError, match="TRAINCHAIN_TRIAL_UID='nobody': .*integer.*unset it"):
        operator_settings()
