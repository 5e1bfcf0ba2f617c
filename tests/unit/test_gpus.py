"""Which GPUs an attempt gets (runtimes/gpus.py): the device requests a container makes and the
``CUDA_VISIBLE_DEVICES`` a venv attempt sees. The real engine's refusal is in
tests/integration/test_docker_runtime.py, Ray's assignment in test_ray_placement.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.contract.helpers import trial_spec

from trainchain.errors import ConfigError
from trainchain.runtimes import gpus
from trainchain.runtimes.base import Resources, TrialSpec
from trainchain.runtimes.docker_container import container_environ
from trainchain.runtimes.local import trial_environ


def _trial(tmp_path: Path, **overrides: object) -> TrialSpec:
    return trial_spec(tmp_path, tmp_path / "work", run_id="r1", **overrides)


def _requests(trial: TrialSpec, environ: dict[str, str]) -> list[tuple[int, list[str]]]:
    found = gpus.device_requests(trial, environ)
    for request in found:
        assert request.capabilities == [["gpu"]]
    return [(request.count, request.device_ids) for request in found]


def test_ray_s_ids_become_the_container_s_devices_and_none_means_none(tmp_path: Path) -> None:
    given = _trial(tmp_path, resources=Resources(gpus=2), gpu_ids=("1", "3"))
    assert _requests(given, {"CUDA_VISIBLE_DEVICES": "0"}) == [(0, ["1", "3"])]
    uuid = _trial(tmp_path, resources=Resources(gpus=1), gpu_ids=("GPU-5f1c",))
    assert _requests(uuid, {}) == [(0, ["GPU-5f1c"])]
    # a CPU attempt on a GPU node: no device, whatever the machine lists
    assert _requests(_trial(tmp_path, gpu_ids=()), {"CUDA_VISIBLE_DEVICES": "0,1"}) == []


def test_docker_gpus_ask_for_a_count_or_the_operator_s_listed_devices(tmp_path: Path) -> None:
    assert _requests(_trial(tmp_path), {}) == []
    assert _requests(_trial(tmp_path, resources=Resources(gpus=0)), {}) == []
    # fractions round up: a container has whole devices
    assert _requests(_trial(tmp_path, resources=Resources(gpus=1.5)), {}) == [(2, [])]
    listed = {"CUDA_VISIBLE_DEVICES": "2, 3,"}
    assert _requests(_trial(tmp_path, resources=Resources(gpus=1)), listed) == [(0, ["2"])]
    assert _requests(_trial(tmp_path, resources=Resources(gpus=2)), listed) == [(0, ["2", "3"])]
    with pytest.raises(ConfigError) as caught:
        gpus.device_requests(_trial(tmp_path, resources=Resources(gpus=3)), listed)
    message = caught.value.message
    assert "resources.gpus is 3" in message and "CUDA_VISIBLE_DEVICES='2, 3,'" in message
    assert "lists 2 GPU(s)" in message and "lower `gpus:`" in message


def test_a_venv_attempt_sees_exactly_the_gpus_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # the node's (or operator's) GPUs
    agent, out = tmp_path / "agent", tmp_path / "out"

    def seen(trial: TrialSpec) -> str | None:
        return trial_environ(trial, agent, out, out, out / "events.jsonl").get(
            "CUDA_VISIBLE_DEVICES"
        )

    assert seen(_trial(tmp_path, gpu_ids=("1",))) == "1"
    assert seen(_trial(tmp_path, gpu_ids=("0", "1"))) == "0,1"
    assert seen(_trial(tmp_path, gpu_ids=())) == ""  # asked for none: it sees none
    assert seen(_trial(tmp_path)) == "0,1"  # local runtime: the operator's choice


def test_a_container_with_devices_drops_the_host_s_numbering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the operator shares CUDA_VISIBLE_DEVICES with trials; inside a container with devices
    # the GPUs are numbered from 0, so the host's ids would hide them
    monkeypatch.setenv("TRAINCHAIN_TRIAL_ENV", "CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with_gpu = container_environ(_trial(tmp_path, resources=Resources(gpus=1)))
    assert "CUDA_VISIBLE_DEVICES" not in with_gpu
    assert container_environ(_trial(tmp_path))["CUDA_VISIBLE_DEVICES"] == "3"


def test_a_toolkit_that_cannot_reach_the_driver_is_told_apart(tmp_path: Path) -> None:
    # what dockerd answers when the toolkit's hook runs on a machine whose driver is not loaded
    # (the engine without the toolkit is in tests/integration/test_docker_runtime.py)
    hook = RuntimeError(
        "failed to create task for container: OCI runtime create failed: nvidia-container-cli: "
        "initialization error: nvml error: driver not loaded: unknown"
    )
    assert gpus.refused(hook) and not gpus.refused(RuntimeError("no space left on device"))
    trial = _trial(tmp_path, resources=Resources(gpus=1), gpu_ids=("0",))
    message = gpus.no_gpu_support(trial, "unix:///var/run/docker.sock", hook).message
    assert "asks for GPU(s) 0 (resources.gpus: 1)" in message
    assert "driver not loaded" in message and "nvidia-smi -L" in message
    assert "install the NVIDIA Container Toolkit" not in message
