"""Ray runtime pieces that need no cluster (the cluster tests: tests/integration/test_ray_cluster.py
and the contract suite)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainchain.errors import ConfigError
from trainchain.runtimes.ray import memory_bytes
from trainchain.runtimes.ray_node import SUPERVISOR, listing_digest, pack


def test_memory_sizes_become_bytes_and_a_bad_one_names_the_setting() -> None:
    assert memory_bytes("512m") == 512 << 20
    assert memory_bytes("4g") == 4 << 30
    assert memory_bytes("1.5GiB") == int(1.5 * (1 << 30))
    assert memory_bytes(None) is None
    with pytest.raises(ConfigError, match="resources.memory 'lots'"):
        memory_bytes("lots")


def test_the_snapshot_digest_follows_content_and_the_pack_holds_every_file(
    tmp_path: Path,
) -> None:
    import io
    import tarfile

    (tmp_path / "pkg").mkdir()
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "pkg" / "m.py").write_text("X = 1\n")
    first = listing_digest(tmp_path)
    assert listing_digest(tmp_path) == first
    (tmp_path / "pkg" / "m.py").write_text("X = 22\n")
    assert listing_digest(tmp_path) != first
    with tarfile.open(fileobj=io.BytesIO(pack(tmp_path)), mode="r:gz") as tar:
        assert set(tar.getnames()) == {"pkg", "pkg/m.py", "train.py"}


def test_the_node_supervisor_reports_the_exit_and_kills_the_training_when_its_parent_dies(
    tmp_path: Path,
) -> None:
    me = str(os.getpid())
    ok = subprocess.run([sys.executable, "-c", SUPERVISOR, me, sys.executable, "-c", "exit(3)"])
    assert ok.returncode == 3
    marker, pid_file = tmp_path / "alive", tmp_path / "pid"
    # A middle process starts the supervisor and exits: the supervisor's parent is gone.
    child = (
        "import os, pathlib, time\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
        f"while True: pathlib.Path({str(marker)!r}).touch(); time.sleep(0.1)\n"
    )
    middle = (
        "import os, subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {SUPERVISOR!r}, str(os.getpid()), "
        f"sys.executable, '-c', {child!r}], start_new_session=True)\n"
        "import time; time.sleep(3)\n"
    )
    subprocess.run([sys.executable, "-c", middle], check=True)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # a busy machine starts the training late; its parent is gone
        assert pid_file.exists(), "the training never started"
        time.sleep(1.5)  # the supervisor looks four times a second
        marker.unlink(missing_ok=True)
        time.sleep(0.5)
        assert not marker.exists(), "the training outlived its supervisor's parent"
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_the_host_pool_reuses_a_host_per_shape_and_offers_it_to_a_waiting_attempt() -> None:
    from trainchain.runtimes.base import Resources
    from trainchain.runtimes.ray_pool import Host, Pool, host_options, shape

    one = shape(host_options(Resources(cpus=1)))
    gpu = shape(host_options(Resources(cpus=1, gpus=1, memory="1g", custom={"accel": 1})))
    assert one != gpu and '"num_gpus": 1.0' in gpu and '"accel": 1.0' in gpu
    pool = Pool()
    assert pool.take(one, fresh_for=10) is None
    first = Host("host-a", actor=object())
    pool.give_back(one, first)
    assert pool.take(gpu, fresh_for=10) is None  # another shape: not this host
    pool.give_back(one, first)
    assert pool.take(one, fresh_for=10) is first  # reused
    pool.give_back(one, first)
    time.sleep(0.05)
    assert pool.take(one, fresh_for=0.01) is None  # idle too long: it is about to leave
    waiter = pool.wait_for(one)
    second = Host("host-b", actor=object())
    pool.give_back(one, second)  # an attempt waits for a host of this shape: offered to it
    assert waiter.event.is_set() and waiter.offered is second
    assert pool.take(one, fresh_for=10) is None
    pool.withdraw(waiter)  # not used after all: back to the pool
    assert pool.take(one, fresh_for=10) is second
