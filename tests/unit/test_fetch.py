import subprocess
from pathlib import Path

import pytest

from trainchain.errors import SourceError
from trainchain.stages.fetch import fetch


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "train.py").write_text("EPOCHS = 1\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "one")
    (root / "train.py").write_text("EPOCHS = 2\n")
    git(root, "commit", "-qam", "two")
    return root


def test_a_ref_is_checked_out_and_the_checkout_is_untouched(repo: Path, tmp_path: Path) -> None:
    first = git(repo, "rev-parse", "HEAD~1")
    result = fetch(str(repo), first[:10], tmp_path / "snap")
    assert result.commit == first and result.kind == "git"
    assert (tmp_path / "snap" / "train.py").read_text() == "EPOCHS = 1\n"
    assert (repo / "train.py").read_text() == "EPOCHS = 2\n"
    assert not (tmp_path / "snap" / ".git").exists()
    branch = fetch(str(repo), "main", tmp_path / "snap2")
    assert branch.branch == "main" and branch.commit == git(repo, "rev-parse", "HEAD")


def test_a_directory_is_copied_as_it_is_and_marked_dirty(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("EPOCHS = 3\n")
    result = fetch(str(repo), None, tmp_path / "snap")
    assert result.commit and result.commit.endswith("-dirty") and result.kind == "directory"
    assert (tmp_path / "snap" / "train.py").read_text() == "EPOCHS = 3\n"


def test_fetch_is_idempotent(repo: Path, tmp_path: Path) -> None:
    fetch(str(repo), None, tmp_path / "snap")
    (tmp_path / "snap" / "leftover").write_text("x")
    fetch(str(repo), None, tmp_path / "snap")
    assert not (tmp_path / "snap" / "leftover").exists()


def test_errors_name_the_source_and_the_fix(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found .*git ls-remote"):
        fetch(str(repo), "nope", tmp_path / "a")
    with pytest.raises(SourceError, match="not a git repository; drop --ref"):
        fetch(str(tmp_path), "main", tmp_path / "b")
    with pytest.raises(SourceError, match="is a file"):
        fetch(str(repo / "train.py"), None, tmp_path / "c")
