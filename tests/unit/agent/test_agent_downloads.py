"""Two local trials whose Keras downloads the same dataset file at once: the agent's lock makes
one download it and the other wait and read it; the file is whole (agent.download_lock)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.dataset_server import serve

from conftest import agent_env

pytestmark = pytest.mark.timeout(600)

# the second trial asks only once the first is mid-download (the test says when: GO exists)
GET_FILE = """
import os, sys, time
import keras
go = os.environ.get("GO")
while go and not os.path.exists(go):
    time.sleep(0.05)
target = os.path.join(os.environ["KERAS_HOME"], "datasets", "tiny.bin")
print("before", os.path.exists(target))
path = keras.utils.get_file("tiny.bin", origin=sys.argv[1])
print("got", path, len(open(path, "rb").read()))
"""


def test_two_trials_downloading_one_file_fetch_it_once(staged_agent: Path, tmp_path: Path) -> None:
    pytest.importorskip("keras")
    (tmp_path / "site").mkdir()
    payload = bytes(range(256)) * 4096  # 1 MiB
    (tmp_path / "site" / "tiny.bin").write_bytes(payload)
    cache = tmp_path / "cache" / "keras"
    cache.mkdir(parents=True)
    go = tmp_path / "go"
    with serve(tmp_path / "site", delay=3.0) as http:
        procs = []
        for index in range(2):
            workdir = tmp_path / f"trial{index}"
            workdir.mkdir()
            (workdir / "train.py").write_text(GET_FILE)
            env = agent_env(staged_agent, workdir, None)
            env.update(KERAS_HOME=str(cache), GO=str(go) if index else "")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "trainchain.agent", "train.py", http.url + "/tiny.bin"],
                    cwd=workdir,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 300
        while not http.requests["/tiny.bin"] and time.monotonic() < deadline:
            time.sleep(0.05)
        go.touch()  # trial 0 is downloading (a slow link): now trial 1 asks too
        outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert f"got {cache / 'datasets' / 'tiny.bin'} {len(payload)}" in out, out
    assert "before False" in outputs[1][0]  # trial 1 found no file and asked to download ...
    assert http.requests["/tiny.bin"] == 1  # ... yet only one download happened
    assert (cache / "datasets" / "tiny.bin").read_bytes() == payload
    assert not list((cache / "datasets").glob("*.part"))
