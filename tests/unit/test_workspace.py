"""An attempt's working tree shares the commit's files: nothing is copied, nothing leaks back."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trainchain.trials.workspace import _NO_REFLINK, fresh_copy


def _tree(root: Path) -> Path:
    (root / "cnn_dataset" / "cats").mkdir(parents=True)
    for i in range(20):
        (root / "cnn_dataset" / "cats" / f"cat.{i}.jpg").write_bytes(bytes([i]) * 4096)
    (root / "train.py").write_text("print('accuracy: 0.5')\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "__pycache__").mkdir()
    (root / "latest").symlink_to("cnn_dataset/cats")
    return root


def test_the_tree_is_shared_file_by_file_and_nothing_is_copied(tmp_path: Path) -> None:
    snapshot = _tree(tmp_path / "snapshot")
    work = fresh_copy(snapshot, tmp_path / "work-1")
    names = sorted(p.relative_to(work).as_posix() for p in work.rglob("*"))
    assert ".git" not in names and "__pycache__" not in names
    assert os.readlink(work / "latest") == "cnn_dataset/cats"
    for path in snapshot.rglob("*.jpg"):
        mine = work / path.relative_to(snapshot)
        assert mine.read_bytes() == path.read_bytes()
        shared = path.stat()
        if shared.st_dev in _NO_REFLINK:  # hard links: one inode, made read-only
            assert mine.stat().st_ino == shared.st_ino
            assert not shared.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_a_new_attempt_replaces_the_leftovers_of_the_previous_one(tmp_path: Path) -> None:
    snapshot = _tree(tmp_path / "snapshot")
    work = fresh_copy(snapshot, tmp_path / "work-1")
    (work / "cnn_dataset" / "cats" / "cat.0.jpg").unlink()
    (work / "cnn_dataset" / "extra.txt").write_text("left over")
    again = fresh_copy(snapshot, tmp_path / "work-1")
    assert (again / "cnn_dataset" / "cats" / "cat.0.jpg").exists()
    assert not (again / "cnn_dataset" / "extra.txt").exists()
    assert (snapshot / "cnn_dataset" / "cats" / "cat.0.jpg").exists()


def test_files_native_code_rewrites_in_place_are_copied(tmp_path: Path) -> None:
    snapshot = _tree(tmp_path / "snapshot")
    (snapshot / "cnn-cat-dog-model.h5").write_bytes(b"HDF5 weights")
    (snapshot / "ckpt").mkdir()
    (snapshot / "ckpt" / "model.data-00000-of-00001").write_bytes(b"tf")
    for attempt in (1, 2):  # the first attempt shares, later ones only link: both copy these
        work = fresh_copy(snapshot, tmp_path / f"work-{attempt}")
        for rel in ("cnn-cat-dog-model.h5", "ckpt/model.data-00000-of-00001"):
            mine, shared = (work / rel).stat(), (snapshot / rel).stat()
            assert mine.st_ino != shared.st_ino and mine.st_nlink == 1
            assert mine.st_mode & stat.S_IWUSR and shared.st_mode & stat.S_IWUSR
            assert (work / rel).read_bytes() == (snapshot / rel).read_bytes()
