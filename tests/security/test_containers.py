"""Containers hardened by default (docs/security.md, "Trials"): never root, no capabilities,
no-new-privileges, pids/memory/CPU limits, no system directory or Docker socket mounted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.helpers import build_options, trial_spec

from trainchain.errors import ConfigError
from trainchain.runtimes.base import Environment, EnvSpec
from trainchain.runtimes.data_roots import check_data
from trainchain.runtimes.docker import DockerRuntime

PROBE = """
import os, pathlib
status = pathlib.Path('/proc/self/status').read_text()
fields = dict(line.split(':', 1) for line in status.splitlines())
pids = pathlib.Path('/sys/fs/cgroup/pids.max')
print('uid', os.getuid())
print('capeff', fields['CapEff'].strip())
print('nonewprivs', fields['NoNewPrivs'].strip())
print('pidsmax', pids.read_text().strip() if pids.exists() else 'unknown')
"""


@pytest.fixture(scope="module")
def docker_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DockerRuntime, Environment]]:
    saved = dict(os.environ)
    os.environ["TRAINCHAIN_HOME"] = str(tmp_path_factory.mktemp("home-docker"))
    options = build_options()  # skips locally / fails in CI without an engine
    os.environ["TRAINCHAIN_BASE_IMAGE"] = options.base_image
    runtime = DockerRuntime()
    try:
        yield runtime, runtime.provision(EnvSpec(profile="generic", packages=()), print)
    finally:
        runtime.close()
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.docker
@pytest.mark.timeout(600)
@pytest.mark.parametrize("ahead", [False, True], ids=["cold", "spare"])
def test_a_trial_container_is_unprivileged_and_limited(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path, ahead: bool
) -> None:
    runtime, env = docker_env
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(PROBE)
    spec = trial_spec(tmp_path, work, run_id="hardening")
    if ahead:  # started ahead as a spare, then released: the same hardening
        runtime.prepare(env, spec)
        assert runtime._spares[-1].wait_ready(120)
        spare_id = runtime._spares[-1].container.id
    process = runtime.start(env, spec)
    assert not ahead or process.id == spare_id
    outcome = process.wait(240)
    log = spec.log_path.read_text()
    assert outcome is not None and outcome.exit_code == 0, log
    seen = dict(line.split(" ", 1) for line in log.splitlines() if " " in line)
    assert seen["uid"] != "0"
    assert int(seen["capeff"], 16) == 0 and seen["nonewprivs"] == "1"
    assert seen["pidsmax"] != "max"


@pytest.mark.parametrize("path", ["/var/run", "/run/docker.sock", "/", "/etc", "/proc/1"])
def test_data_never_mounts_system_directories_or_the_docker_socket(path: str) -> None:
    with pytest.raises(ConfigError):
        check_data("data", Path(path))


def test_data_stays_inside_the_operators_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, other = tmp_path / "datasets", tmp_path / "elsewhere"
    allowed.mkdir()
    other.mkdir()
    monkeypatch.setenv("TRAINCHAIN_DATA_ROOTS", str(allowed))
    assert check_data("d", allowed) == allowed.resolve()
    with pytest.raises(ConfigError) as refused:
        check_data("d", other)
    assert "TRAINCHAIN_DATA_ROOTS" in refused.value.message


def test_the_dataset_cache_is_read_only_in_a_trial_container(tmp_path: Path) -> None:
    """Pushed code must not change what other projects' trials read from the machine's
    dataset cache (the agent gives Keras a writable shadow instead)."""
    from trainchain.runtimes.docker_container import DATASETS, trial_mounts

    workdir = tmp_path / "code"
    workdir.mkdir()
    spec = trial_spec(tmp_path, workdir, datasets=tmp_path / "datasets")
    cache = [m for m in trial_mounts(spec) if m["Target"] == DATASETS]
    assert len(cache) == 1 and cache[0]["ReadOnly"] is True
