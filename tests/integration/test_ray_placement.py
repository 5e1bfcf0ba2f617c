"""Where the ray runtime places an attempt, on the session's real cluster plus a third node that
has a (fake) GPU and a custom resource: GPUs and custom resources are asked of Ray, the attempt
sees exactly the GPU Ray gave it (and none when it asked for none), a request no node can meet
fails at once naming it, and with containers on the nodes (the operator's
``TRAINCHAIN_RAY_CONTAINERS``) the attempt runs in the hash-tagged image on its node's engine,
which must be able to give a container the GPU (this machine's cannot: one clear error)."""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.helpers import build_options, trial_spec
from tests.ray_cluster import Cluster, Node

from trainchain.errors import ConfigError
from trainchain.runtimes.base import EnvSpec, Resources, TrialSpec
from trainchain.runtimes.ray import RayRuntime
from trainchain.states import OutcomeKind

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.timeout(600)]
GPU_ID = "1"
NODE_LINE = re.compile(r"^\[trainchain\] attempt on Ray node (\w+)", re.MULTILINE)
SCRIPT = """\
import os, pathlib
out = pathlib.Path(os.environ["TRAINCHAIN_OUTPUT_DIR"])
seen = {
    "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"),
    "container": os.path.exists("/.dockerenv"),
    "cwd": os.getcwd(),
}
(out / "seen.txt").write_text(repr(seen))
print("accuracy=0.5", flush=True)
"""


@pytest.fixture(scope="module")
def gpu_node(ray_cluster: Cluster) -> Iterator[Node]:
    """A third one-CPU worker with one GPU (Ray schedules it; no CUDA needed) and two units of a
    custom resource ``accel``; removed afterwards so other tests see their two workers. As on a
    machine whose operator gives Ray only its second GPU, the node's ``ray start`` runs with
    ``CUDA_VISIBLE_DEVICES=1``: Ray's id for that GPU is "1", and every Ray worker of the node
    (a CPU-only host actor too) inherits the variable."""
    node = ray_cluster.start_worker(
        "gpu",
        extra=("--num-gpus", "1", "--resources", '{"accel": 2}'),
        environ={"CUDA_VISIBLE_DEVICES": GPU_ID},
    )
    try:
        yield node
    finally:
        node.stop()
        ray_cluster.workers.remove(node)


def _run(
    runtime: RayRuntime, tmp_path: Path, resources: Resources, env_spec: EnvSpec | None = None
) -> tuple[TrialSpec, dict[str, object], str]:
    workdir = tmp_path / "work"
    workdir.mkdir(parents=True)
    (workdir / "train.py").write_text(SCRIPT)
    spec = trial_spec(
        tmp_path, workdir, run_id=f"place-{uuid.uuid4().hex[:8]}", resources=resources
    )
    env = runtime.provision(env_spec or EnvSpec("generic", ()), lambda _line: None)
    outcome = runtime.start(env, spec).wait(300)
    log = spec.log_path.read_text() if spec.log_path.exists() else ""
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, (outcome, log)
    seen = eval((spec.output_dir / "seen.txt").read_text())  # noqa: S307 - our own repr
    match = NODE_LINE.search(log)
    assert match, log
    return spec, seen, match.group(1)


def test_gpus_and_custom_resources_place_the_attempt_on_the_node_that_has_them(
    ray_cluster: Cluster, gpu_node: Node, tmp_path: Path
) -> None:
    runtime = RayRuntime(ray_cluster.address)
    spec, seen, node = _run(runtime, tmp_path / "gpu", Resources(cpus=1, gpus=1))
    assert ray_cluster.node_of(node) is gpu_node
    assert seen["gpus"] == GPU_ID  # the GPU Ray gave the attempt reaches the script
    assert f", GPU {GPU_ID})" in spec.log_path.read_text()  # and the attempt's log names it
    _, seen, node = _run(runtime, tmp_path / "custom", Resources(cpus=1, custom={"accel": 1}))
    assert ray_cluster.node_of(node) is gpu_node
    # no GPU asked, none given: not the node's GPU its Ray worker inherited (Ray 2.60 leaves
    # the variable alone for a zero-GPU actor)
    assert seen["gpus"] == ""


@pytest.mark.parametrize(
    ("resources", "named"),
    [
        (Resources(cpus=1, gpus=2), "2 GPU"),
        (Resources(cpus=1, custom={"tpu": 1}), "1 tpu"),
        (Resources(cpus=4), "4 CPU"),
    ],
)
def test_a_request_no_node_can_meet_fails_at_once_naming_it(
    ray_cluster: Cluster, gpu_node: Node, tmp_path: Path, resources: Resources, named: str
) -> None:
    runtime = RayRuntime(ray_cluster.address)
    env = runtime.provision(EnvSpec("generic", ()), lambda _line: None)
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "train.py").write_text(SCRIPT)
    spec = trial_spec(tmp_path, workdir, run_id="never", resources=resources)
    began = time.monotonic()
    with pytest.raises(ConfigError, match=f"asks for .*{named}.* no live Ray node") as caught:
        runtime.start(env, spec)
    assert time.monotonic() - began < 60, "it must not wait for a node that never comes"
    assert "resources:" in caught.value.message


def test_containers_on_the_nodes_run_the_attempt_in_the_hash_tagged_image(
    ray_cluster: Cluster, tmp_path: Path
) -> None:
    options = build_options()  # skips (or fails in CI) without an engine or the base image
    assert os.environ.get("TRAINCHAIN_BASE_IMAGE", options.base_image) == options.base_image
    runtime = RayRuntime(ray_cluster.address, containers=True)
    assert "containers" in runtime.describe()
    env = runtime.provision(EnvSpec("generic", ()), lambda _line: None)
    assert env.image.startswith("trainchain/generic:"), env
    spec, seen, node = _run(runtime, tmp_path, Resources(cpus=1))
    assert seen["container"] is True and seen["cwd"] == "/code", seen
    assert ray_cluster.node_of(node) in ray_cluster.workers
    import docker

    # the attempt's container is gone with its attempt
    with contextlib.closing(docker.from_env()) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = client.containers.list(
                all=True, filters={"label": f"trainchain.run={spec.run_id}"}
            )
            if not left:
                break
            time.sleep(0.5)
        assert left == []


def test_a_gpu_attempt_in_a_container_asks_the_engine_for_ray_s_gpu(
    ray_cluster: Cluster, gpu_node: Node, tmp_path: Path
) -> None:
    """The container of a GPU attempt requests the device Ray gave its host; this machine's
    engine has no NVIDIA runtime, so the attempt fails with the error that says so."""
    build_options()  # skips (or fails in CI) without an engine or the base image
    import docker

    with contextlib.closing(docker.from_env()) as client:
        if "nvidia" in (client.info().get("Runtimes") or {}):
            pytest.skip("this engine can give containers GPUs: nothing to refuse")
    runtime = RayRuntime(ray_cluster.address, containers=True)
    env = runtime.provision(EnvSpec("generic", ()), lambda _line: None)
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "train.py").write_text(SCRIPT)
    spec = trial_spec(
        tmp_path, workdir, run_id=f"gpu-{uuid.uuid4().hex[:8]}", resources=Resources(gpus=1)
    )
    outcome = runtime.start(env, spec).wait(300)
    log = spec.log_path.read_text()
    assert outcome is not None and outcome.kind is OutcomeKind.FAILED, (outcome, log)
    match = NODE_LINE.search(log)
    assert match and ray_cluster.node_of(match.group(1)) is gpu_node, log
    assert f"asks for GPU(s) {GPU_ID} (resources.gpus: 1)" in outcome.reason
    assert "could not select device driver" in outcome.reason  # the engine's own words
    assert "nvidia-container-toolkit" in outcome.reason and "drop `gpus:`" in outcome.reason
    assert "cannot give a container GPUs" in log
