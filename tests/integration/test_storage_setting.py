"""``storage:``, the operator's shared directory for a run's files (docs/cluster.md): from
``--storage`` or the project's settings, a path or a ``file://`` URL; bucket URLs are refused
with the way to mount them; never from a trainchain.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli import run_json, trainchain, write_project

from trainchain import paths
from trainchain.config import check_operator_settings
from trainchain.errors import ConfigError
from trainchain.server.api import run_logs
from trainchain.store import Store

SCRIPT = "print('accuracy: 0.9', flush=True)\n"


@pytest.mark.parametrize("url", ["s3://bucket/trainchain", "gs://bucket/runs", "az://c/p"])
def test_a_bucket_url_is_refused_with_the_way_to_mount_it(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="mount the bucket") as caught:
        check_operator_settings({"storage": url})
    assert url in caught.value.message
    monkeypatch.setenv("TRAINCHAIN_STORAGE", url)
    with pytest.raises(ConfigError, match="TRAINCHAIN_STORAGE"):
        paths.runs_dir()


def test_a_relative_path_is_refused_and_a_file_url_is_a_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an absolute path"):
        check_operator_settings({"storage": "shared/runs"})
    assert paths.run_dir("r1", f"file://{tmp_path}") == tmp_path / "runs" / "r1"


def test_a_run_with_storage_keeps_its_files_there_and_they_are_found_again(
    tmp_path: Path,
) -> None:
    project = write_project(
        tmp_path / "project", {"train.py": SCRIPT, "trainchain.yaml": "entrypoint: train.py\n"}
    )
    shared = tmp_path / "shared"
    proc, report = run_json(str(project), "--no-tune", "--storage", f"file://{shared}")
    assert proc.returncode == 0, proc.stderr
    run_id = report["run_id"]
    run_dir = shared / "runs" / run_id
    assert (run_dir / "trials" / "000" / "attempt-1.log").exists()
    assert not (paths.runs_dir() / run_id).exists()  # nothing under the home's runs
    assert "accuracy: 0.9" in run_logs(Store(), run_id)  # the server reads it from there
    shown = trainchain("runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr


def test_storage_in_a_trainchain_yaml_is_refused(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "project",
        {"train.py": SCRIPT, "trainchain.yaml": f"storage: {tmp_path / 'shared'}\n"},
    )
    proc = trainchain("run", str(project), "--no-tune")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "'storage' is not read from trainchain.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr
