"""Registry and files (docs/security.md, "Files"): model names are one safe path component,
the registry copy never follows a link out of the trial's output, state is private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from trainchain import paths
from trainchain.config import load_config
from trainchain.errors import ConfigError
from trainchain.pipeline import Pipeline
from trainchain.stages.promote import Candidate, model_name, register
from trainchain.store import Store


def candidate(out: Path, run_id: str) -> Candidate:
    return Candidate(
        run_id=run_id,
        trial=1,
        value=0.9,
        metric_name="accuracy",
        goal="maximize",
        params={},
        metrics={},
        curves=[],
        model_path=str(out / "model.txt"),
        output_dir=out,
        commit="abc",
        branch="main",
        profile="generic",
        data={},
    )


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "/abs", ""])
def test_a_model_name_cannot_leave_the_registry(tmp_path: Path, name: str) -> None:
    store = Store(f"sqlite:///{tmp_path / 'files.db'}")
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.txt").write_text("weights")
    run_id = Pipeline(store).create_run(str(tmp_path))
    with pytest.raises(ConfigError):
        register(store, name, candidate(out, run_id), tmp_path / "models")
    assert not (tmp_path / "x").exists() and store.model_versions(name) == []


def test_a_repository_cannot_name_its_model_with_a_path(tmp_path: Path) -> None:
    (tmp_path / "trainchain.yaml").write_text("name: ../../x\n")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path, repository=True)
    assert "name" in refused.value.message
    assert model_name("https://example.org/a/..") not in ("..", "")


def test_registry_copy_never_follows_a_link_out_of_the_output(tmp_path: Path) -> None:
    secret = tmp_path / "server-secret.txt"
    secret.write_text("do-not-copy")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "model.txt").write_text("weights")
    (out / "stolen.txt").symlink_to(secret)
    (out / "sub" / "stolen-dir").symlink_to(tmp_path, target_is_directory=True)
    (out / "inner.txt").symlink_to(out / "model.txt")  # inside the output: fine
    store = Store(f"sqlite:///{tmp_path / 'files.db'}")
    run_id = Pipeline(store).create_run(str(tmp_path))
    result = register(store, "forest", candidate(out, run_id), tmp_path / "models")
    copied = Path(result.path).parent
    assert (copied / "model.txt").read_text() == "weights"
    assert (copied / "inner.txt").read_text() == "weights"
    assert not (copied / "stolen.txt").exists() and not (copied / "sub" / "stolen-dir").exists()
    for path in copied.rglob("*"):
        assert not path.is_file() or b"do-not-copy" not in path.read_bytes()


def test_home_is_0700_and_the_database_0600(trainchain_home: Path) -> None:
    assert not trainchain_home.exists()
    store = Store()
    with store.session():
        pass
    assert stat.S_IMODE(paths.home().stat().st_mode) == 0o700
    assert stat.S_IMODE((paths.home() / "trainchain.db").stat().st_mode) == 0o600
