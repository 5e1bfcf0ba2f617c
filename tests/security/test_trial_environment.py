"""Trial environment (docs/security.md, "Trials"): pushed code never sees the server's
secrets, on any runtime; the allow-list lives in runtimes/trial_env.py."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from tests.contract.helpers import trial_spec

from trainchain.runtimes.base import Environment
from trainchain.runtimes.docker_container import container_environ
from trainchain.runtimes.local import LocalRuntime

SECRETS = {
    "TRAINCHAIN_API_TOKEN": "api-token-value-1",
    "GITHUB_WEBHOOK_SECRET": "hook-secret-value-2",
    "TRAINCHAIN_SMTP_URL": "smtp://u:smtp-password-3@mail",
    "TRAINCHAIN_DB_URL": "postgresql://u:db-password-4@db/tc",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-5",
}


@pytest.fixture()
def server_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("server_secrets")
def test_a_local_trial_cannot_read_the_servers_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINCHAIN_TRIAL_ENV", "SHARED_WITH_TRIALS")
    monkeypatch.setenv("SHARED_WITH_TRIALS", "shared-on-purpose")
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(
        "import os\nfor k, v in sorted(os.environ.items()):\n"
        "    print(k, '=', v)\nprint('accuracy: 0.5')\n"
    )
    trial = trial_spec(tmp_path, work)
    env = Environment(runtime="local", key="host", python=sys.executable)
    process = LocalRuntime().start(env, trial)
    outcome = process.wait(120)
    assert outcome is not None and outcome.exit_code == 0
    log = trial.log_path.read_text()
    assert "TRAINCHAIN_OUTPUT_DIR =" in log and "PATH =" in log  # the trial still works
    assert "SHARED_WITH_TRIALS = shared-on-purpose" in log  # the operator's choice
    for name, value in SECRETS.items():
        assert value not in log and f"{name} =" not in log


@pytest.mark.usefixtures("server_secrets")
def test_a_container_trial_gets_only_allow_listed_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINCHAIN_TRIAL_ENV", "SHARED_WITH_TRIALS")
    monkeypatch.setenv("SHARED_WITH_TRIALS", "shared-on-purpose")
    trial = trial_spec(tmp_path, tmp_path / "work", extra_env={"TRAINCHAIN_SEED": "7"})
    environ = container_environ(trial)
    assert environ["TRAINCHAIN_SEED"] == "7" and "TRAINCHAIN_PARAMS" in environ
    assert environ["SHARED_WITH_TRIALS"] == "shared-on-purpose"  # the operator's choice only
    assert not set(SECRETS) & set(environ)


@pytest.mark.parametrize(
    ("mirror", "passed"),
    [
        ("https://mirror.example/datasets", True),
        ("https://u:mirror-secret-6@mirror.example", False),
    ],
)
def test_a_local_trial_gets_the_dataset_mirror_only_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: str, passed: bool
) -> None:
    monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", mirror)
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(
        "import os\nprint('mirror', '=', os.environ.get('TRAINCHAIN_DATASETS_MIRROR'))\n"
    )
    trial = replace(trial_spec(tmp_path, work), datasets=tmp_path / "datasets")
    env = Environment(runtime="local", key="host", python=sys.executable)
    outcome = LocalRuntime().start(env, trial).wait(120)
    assert outcome is not None and outcome.exit_code == 0
    log = trial.log_path.read_text()
    assert (f"mirror = {mirror}" in log) is passed, log[-2000:]
    assert "mirror-secret-6" not in log
