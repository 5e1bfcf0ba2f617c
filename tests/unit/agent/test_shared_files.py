"""The agent's copy-on-write for files shared with the commit (hard links)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainchain.agent import shared_files


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    commit, work = tmp_path / "commit", tmp_path / "work"
    commit.mkdir()
    work.mkdir()
    (commit / "a.txt").write_text("original")
    os.chmod(commit / "a.txt", 0o444)
    os.link(commit / "a.txt", work / "a.txt")
    monkeypatch.setattr(shared_files, "_root", os.path.realpath(work))
    return commit / "a.txt", work / "a.txt"


def test_a_shared_file_is_copied_before_an_update(shared: tuple[Path, Path]) -> None:
    original, mine = shared
    assert shared_files.make_private(str(mine)) is True
    assert mine.stat().st_ino != original.stat().st_ino and mine.stat().st_nlink == 1
    assert mine.read_text() == "original" and mine.stat().st_mode & 0o200
    assert shared_files.make_private(mine) is False  # private now: nothing to do


def test_truncation_needs_no_copy_and_outside_files_are_left_alone(
    shared: tuple[Path, Path], tmp_path: Path
) -> None:
    original, mine = shared
    assert shared_files.make_private(mine, truncate=True) is True
    assert mine.read_text() == "" and original.read_text() == "original"
    os.link(original, tmp_path / "elsewhere.txt")  # linked, but outside the working tree
    assert shared_files.make_private(tmp_path / "elsewhere.txt") is False
    assert shared_files.make_private(3) is False and shared_files.make_private(None) is False
