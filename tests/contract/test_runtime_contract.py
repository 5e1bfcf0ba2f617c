"""The Runtime contract, written once and run against every runtime (after Optuna's storage suite).

Each case runs a real trial (``python -m trainchain.agent train.py``) of a tiny pure-Python
script in the ``generic`` environment: a virtualenv for ``local``, an image for ``docker``, a
virtualenv built on the chosen node of a real multi-node cluster for ``ray``. The lifecycle
cases (``LIFECYCLE``: outcomes, logs, stop/kill, liveness) also run against the scripted fake
of ``tests/fake_runtime.py`` that the chain's unit tests use, playing the same script.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.helpers import build_options, metric_events, read_events, trial_spec
from tests.fake_runtime import Act, ScriptedRuntime, metric
from tests.services import require
from trainchain.runtimes import get_runtime
from trainchain.runtimes.base import (
    Environment,
    EnvSpec,
    Outcome,
    Resources,
    Runtime,
    TrialProcess,
    TrialSpec,
)
from trainchain.states import OutcomeKind
from trainchain.trials.workspace import _NO_REFLINK as NO_REFLINK
from trainchain.trials.workspace import fresh_copy

pytestmark = pytest.mark.timeout(300)

SCRIPT = '''\
"""Contract script: pure Python; CONTRACT_MODE chooses how it ends."""
import json, os, pathlib, signal, sys, time

SCALE = 1  # a module-level constant: the agent rewrites it from the parameters

mode = os.environ.get("CONTRACT_MODE", "ok")
out = pathlib.Path(os.environ["TRAINCHAIN_OUTPUT_DIR"])
ckpt = pathlib.Path(os.environ["TRAINCHAIN_CHECKPOINT_DIR"])
params = json.loads(os.environ.get("TRAINCHAIN_PARAMS", "{}"))
print(f"scale={SCALE} params={json.dumps(params, sort_keys=True)}", flush=True)
(ckpt / "state.json").write_text(json.dumps({"step": 1}))
if mode == "scribble":  # a script that rewrites the data shipped in its repository
    pathlib.Path("data/input.txt").write_text("scribbled")
    with open("data/input.txt", "a") as fh:
        fh.write("+more")
    with open("data/more.bin", "r+b") as fh:
        fh.write(b"XX")
    fd = os.open("data/raw.bin", os.O_RDWR)
    os.write(fd, b"YY")
    os.close(fd)
    os.remove("data/gone.txt")
    pathlib.Path("data/new.txt").write_text("new")
pathlib.Path("written_next_to_script.txt").write_text("the working directory is writable")
if os.path.isdir("data"):
    (out / "data_seen.txt").write_text(pathlib.Path("data/input.txt").read_text())
    try:
        pathlib.Path("data/intruder.txt").write_text("x")
        (out / "data_writable.txt").write_text("yes")
    except OSError:
        pass
if mode == "fail":
    print("failing on purpose", flush=True)
    sys.exit(3)
if mode == "signal":
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "oom":
    hog = []
    while True:
        hog.append(b"\\x01" * (16 << 20))  # touched pages: they count against the limit
if mode == "slow":
    for i in range(1200):
        print(f"tick {i}", flush=True)
        time.sleep(0.2)
(out / "model.json").write_text(json.dumps({"scale": SCALE}))
(out / "metrics.json").write_text(json.dumps({"accuracy": 0.25 * SCALE}))
print(f"accuracy={0.25 * SCALE}", flush=True)
'''

Provisioned = tuple[Runtime, Environment]
RUNTIMES = [
    pytest.param("local"),
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("ray", marks=pytest.mark.ray),
]
LIFECYCLE = [*RUNTIMES, pytest.param("fake")]


def scripted(trial: TrialSpec) -> Act:
    """SCRIPT's behaviour, played by the fake runtime."""
    mode = trial.extra_env.get("CONTRACT_MODE", "ok")
    scale = trial.params.get("SCALE", 1)
    assert isinstance(scale, int)
    head = (f"scale={scale} params={json.dumps(trial.params, sort_keys=True)}",)
    state = {"state.json": json.dumps({"step": 1})}
    if mode == "fail":
        failure = Outcome(OutcomeKind.FAILED, 3)
        return Act((*head, "failing on purpose"), checkpoints=state, ends=failure)
    if mode == "signal":
        killed = Outcome(OutcomeKind.KILLED, signal=signal.SIGKILL)
        return Act(head, checkpoints=state, ends=killed)
    if mode == "slow":
        return Act(head, checkpoints=state, ends=None, tick=0.2)
    return Act(
        (*head, f"accuracy={0.25 * scale}"),
        events=(metric("accuracy", 0.25 * scale),),
        outputs={"model.json": json.dumps({"scale": scale})},
        checkpoints=state,
    )


@pytest.fixture(scope="module", params=RUNTIMES)
def provisioned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Runtime, Environment]]:
    name: str = request.param
    if name == "fake":
        fake = ScriptedRuntime(scripted)
        yield fake, fake.provision(EnvSpec(profile="generic", packages=()), lambda line: None)
        return
    module = f"trainchain.runtimes.{name}"
    require(importlib.util.find_spec(module) is not None, f"{module} is not written yet")
    saved = dict(os.environ)
    os.environ["TRAINCHAIN_HOME"] = str(tmp_path_factory.mktemp(f"home-{name}"))
    if name == "docker":
        options = build_options()  # skips (or fails in CI) without an engine or base image
        os.environ["TRAINCHAIN_BASE_IMAGE"] = options.base_image
    if name == "ray":  # skips (or fails in CI) without ray; starts the session's cluster
        cluster = request.getfixturevalue("ray_cluster")
        os.environ["TRAINCHAIN_RAY_ADDRESS"] = cluster.address
    try:
        runtime = get_runtime(name)
        env = runtime.provision(EnvSpec(profile="generic", packages=()), lambda line: None)
        yield runtime, env
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _start(
    provisioned: Provisioned, tmp_path: Path, mode: str = "ok", **overrides: object
) -> tuple[TrialSpec, TrialProcess]:
    runtime, env = provisioned
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "train.py").write_text(SCRIPT)
    extra_env = {"CONTRACT_MODE": mode}
    spec = trial_spec(
        tmp_path,
        workdir,
        run_id=f"contract-{uuid.uuid4().hex[:8]}",
        extra_env=extra_env,
        **overrides,
    )
    return spec, runtime.start(env, spec)


def owner(provisioned: Provisioned) -> int:
    """Who owns a trial's files: the caller, except that a root caller's containers run as
    ``TRIAL_UID`` (a trial is never root)."""
    from trainchain.runtimes.docker_container import TRIAL_UID

    root_container = provisioned[0].name == "docker" and os.getuid() == 0
    return TRIAL_UID if root_container else os.getuid()


def _log(spec: TrialSpec) -> str:
    return spec.log_path.read_text() if spec.log_path.exists() else ""


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_params_applied_and_metrics_captured(provisioned: Provisioned, tmp_path: Path) -> None:
    spec, proc = _start(provisioned, tmp_path, params={"SCALE": 2})
    outcome = proc.wait(240)
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, _log(spec)
    assert "scale=2" in _log(spec)
    assert '"SCALE": 2' in _log(spec)  # TRAINCHAIN_PARAMS reached the process
    assert metric_events(spec.events_path)["accuracy"] == pytest.approx(0.5)


def test_output_checkpoint_and_workdir_written(provisioned: Provisioned, tmp_path: Path) -> None:
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "input.txt").write_text("digits v1")
    spec, proc = _start(provisioned, tmp_path, data={"data": data})
    outcome = proc.wait(240)
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, _log(spec)
    assert (spec.output_dir / "model.json").read_text() == '{"scale": 1}'
    assert (spec.checkpoint_dir / "state.json").exists()
    if provisioned[0].name != "ray":  # on ray the script's cwd is a copy on its node
        assert (spec.workdir / "written_next_to_script.txt").exists()
    assert (spec.output_dir / "data_seen.txt").read_text() == "digits v1"
    for path in (spec.output_dir / "model.json", spec.checkpoint_dir / "state.json"):
        assert path.stat().st_uid == owner(provisioned)  # the caller's, never root's
    if provisioned[0].name == "docker":  # data is mounted read-only in containers
        assert not (spec.output_dir / "data_writable.txt").exists()
        assert not (data / "intruder.txt").exists()


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_nonzero_exit_is_failed(provisioned: Provisioned, tmp_path: Path) -> None:
    spec, proc = _start(provisioned, tmp_path, mode="fail")
    outcome = proc.wait(240)
    assert outcome is not None, _log(spec)
    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.FAILED, 3), _log(spec)
    assert "failing on purpose" in _log(spec)


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_killed_by_signal(provisioned: Provisioned, tmp_path: Path) -> None:
    spec, proc = _start(provisioned, tmp_path, mode="signal")
    outcome = proc.wait(240)
    assert outcome is not None, _log(spec)
    assert outcome.kind is OutcomeKind.KILLED, (outcome, _log(spec))
    assert outcome.signal == signal.SIGKILL


# Containers only: the local runtime sets no per-trial memory limit to exceed (documented).
@pytest.mark.parametrize("provisioned", [RUNTIMES[1]], indirect=True)
def test_real_oom_under_memory_limit(provisioned: Provisioned, tmp_path: Path) -> None:
    spec, proc = _start(provisioned, tmp_path, mode="oom", resources=Resources(memory="96m"))
    outcome = proc.wait(240)
    assert outcome is not None, _log(spec)
    assert outcome.kind is OutcomeKind.OOM, (outcome, _log(spec))


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_log_streams_while_running_and_timeout_kill(
    provisioned: Provisioned, tmp_path: Path
) -> None:
    spec, proc = _start(provisioned, tmp_path, mode="slow")
    sizes: list[int] = []
    deadline = time.monotonic() + 120
    while len(sizes) < 2 and time.monotonic() < deadline:
        text = _log(spec)
        if "tick" in text and (not sizes or len(text) > sizes[-1]):
            sizes.append(len(text))
        time.sleep(0.5)
    assert proc.poll() is None, "the slow trial should still be running"
    assert len(sizes) == 2 and sizes[1] > sizes[0], f"log did not grow while running: {sizes}"
    proc.kill(OutcomeKind.TIMEOUT, "trial_timeout of 5s exceeded")
    outcome = proc.wait(60)
    assert outcome is not None and outcome.kind is OutcomeKind.TIMEOUT
    assert outcome.reason == "trial_timeout of 5s exceeded"


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_stop_reports_stopped(provisioned: Provisioned, tmp_path: Path) -> None:
    spec, proc = _start(provisioned, tmp_path, mode="slow")
    deadline = time.monotonic() + 120
    while "tick" not in _log(spec) and time.monotonic() < deadline:
        time.sleep(0.3)
    proc.stop("pruned at epoch 1")
    outcome = proc.wait(60)
    assert outcome is not None and outcome.kind is OutcomeKind.STOPPED
    assert outcome.reason == "pruned at epoch 1"


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_cleanup_leaves_nothing_running(provisioned: Provisioned, tmp_path: Path) -> None:
    runtime, _ = provisioned
    spec, proc = _start(provisioned, tmp_path, mode="fail")
    assert proc.wait(240) is not None
    if runtime.name == "docker":
        assert runtime.find_trial_containers(spec.run_id) == []  # type: ignore[attr-defined]
    elif runtime.name == "ray":  # the attempt's actor is killed (asynchronously, by the GCS)
        deadline = time.monotonic() + 30
        while runtime.find_trial_actors(spec.run_id) and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.2)
        assert runtime.find_trial_actors(spec.run_id) == []  # type: ignore[attr-defined]
    elif runtime.name == "local":
        with pytest.raises(ProcessLookupError):
            os.kill(int(proc.id), 0)
    assert runtime.is_alive(proc.id, spec.run_id) is False


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_is_alive_follows_the_attempt(provisioned: Provisioned, tmp_path: Path) -> None:
    """The reviver's evidence: alive while it runs, not once it ended; never another run's."""
    runtime, _ = provisioned
    spec, proc = _start(provisioned, tmp_path, mode="slow")
    deadline = time.monotonic() + 120
    while "tick" not in _log(spec) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert runtime.is_alive(proc.id, spec.run_id) is True
    assert runtime.is_alive(proc.id, "another-run") is not True
    proc.kill(OutcomeKind.STOPPED, "done with it")
    assert proc.wait(60) is not None
    deadline = time.monotonic() + 30  # ray forgets a killed actor asynchronously
    while runtime.is_alive(proc.id, spec.run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runtime.is_alive(proc.id, spec.run_id) is False


@pytest.mark.parametrize("provisioned", LIFECYCLE, indirect=True)
def test_events_file_inside_the_output_dir(provisioned: Provisioned, tmp_path: Path) -> None:
    out = tmp_path / "output"
    spec, proc = _start(provisioned, tmp_path, output_dir=out, events_path=out / "events.jsonl")
    outcome = proc.wait(240)
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, _log(spec)
    assert (out / "model.json").exists()
    assert metric_events(out / "events.jsonl")["accuracy"] == pytest.approx(0.25)


def test_repository_data_is_shared_and_a_write_stays_in_its_attempt(
    provisioned: Provisioned, tmp_path: Path
) -> None:
    runtime, env = provisioned
    snapshot = tmp_path / "snapshot"
    (snapshot / "data").mkdir(parents=True)
    (snapshot / "train.py").write_text(SCRIPT)
    originals = {
        "input.txt": b"digits v1",
        "more.bin": b"0123",
        "raw.bin": b"abcd",
        "gone.txt": b"keep me",
    }
    for name, content in originals.items():
        (snapshot / "data" / name).write_bytes(content)
    seen = {}
    for attempt, mode in ((1, "scribble"), (2, "ok")):
        work = fresh_copy(snapshot, tmp_path / f"work-{attempt}")
        for name in originals:  # shared with the commit, not copied (a reflink where it can)
            shared, mine = (snapshot / "data" / name).stat(), (work / "data" / name).stat()
            assert shared.st_ino == mine.st_ino or shared.st_dev not in NO_REFLINK
        spec = trial_spec(
            tmp_path,
            work,
            attempt=attempt,
            run_id=f"contract-{uuid.uuid4().hex[:8]}",
            output_dir=tmp_path / f"output-{attempt}",
            events_path=tmp_path / f"events-{attempt}" / "events.jsonl",
            log_path=tmp_path / f"logs-{attempt}" / "trial.log",
            extra_env={"CONTRACT_MODE": mode},
        )
        outcome = runtime.start(env, spec).wait(240)
        assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, _log(spec)
        seen[attempt] = (spec.output_dir / "data_seen.txt").read_text()
    assert seen == {1: "scribbled+more", 2: "digits v1"}  # attempt 1 wrote; 2 saw the commit
    work1 = tmp_path / "work-1" / "data"
    if runtime.name != "ray":  # on ray the attempt's tree (and its writes) is on its node
        assert (work1 / "more.bin").read_bytes() == b"XX23"
        assert (work1 / "raw.bin").read_bytes() == b"YYcd"
        assert not (work1 / "gone.txt").exists() and (work1 / "new.txt").exists()
    for tree in (snapshot, tmp_path / "work-2"):
        for name, content in originals.items():
            assert (tree / "data" / name).read_bytes() == content, (tree, name)
        assert not (tree / "data" / "new.txt").exists()


AUTHOR_PATHS_SCRIPT = '''\
"""Reads a path of its author's machine and a dataset from the download cache."""
import os, pathlib, sys

sys.stdin = open("/nonexistent-author/input.txt")
value = input()
cached = pathlib.Path(os.environ["KERAS_HOME"], "datasets", "tiny.npz").read_text()
out = pathlib.Path(os.environ["TRAINCHAIN_OUTPUT_DIR"])
(out / "seen.txt").write_text(f"{value} {cached} {os.environ['TRAINCHAIN_SEED']}")
print("accuracy=0.5", flush=True)
'''


def test_author_paths_and_the_dataset_cache_reach_the_script(
    provisioned: Provisioned, tmp_path: Path
) -> None:
    """An absolute data name (a path of the author's machine) mapped to a file of the working
    copy, and the dataset cache with KERAS_HOME & co. pointing into it, on every runtime."""
    runtime, env = provisioned
    spec = _author_paths_spec(tmp_path, "42", "cached-bytes", extra_env={"TRAINCHAIN_SEED": "1234"})
    outcome = runtime.start(env, spec).wait(240)
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, _log(spec)
    assert (spec.output_dir / "seen.txt").read_text() == "42 cached-bytes 1234"


def test_a_prepared_attempt_behaves_like_a_cold_one(
    provisioned: Provisioned, tmp_path: Path
) -> None:
    """``prepare`` (before the params exist), then ``start``: the same attempt as a cold start,
    with its data, author paths, dataset cache, params and environment (docker: a spare)."""
    runtime, env = provisioned
    # "decimal": a module the agent does not import, imported ahead as a framework would be
    blank = _author_paths_spec(tmp_path, "7", "ahead", preload=("decimal",))
    runtime.prepare(env, blank)
    spare_ids = []
    for spare in getattr(runtime, "_spares", []):  # started ahead: docker's container, a process
        if runtime.name == "docker":
            assert spare.wait_ready(120)
        spare_ids.append(spare.container.id if runtime.name == "docker" else str(spare.proc.pid))
    spec = dataclasses.replace(blank, params={"SCALE": 3}, extra_env={"TRAINCHAIN_SEED": "99"})
    proc = runtime.start(env, spec)
    outcome = proc.wait(240)
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, _log(spec)
    assert (spec.output_dir / "seen.txt").read_text() == "7 ahead 99"
    assert spare_ids == ([proc.id] if runtime.name in ("docker", "local") else [])
    warm = [e["imported"] for e in read_events(spec.events_path) if e["type"] == "warm"]
    assert warm == ([["decimal"]] if spare_ids else [])


def _author_paths_spec(
    tmp_path: Path, answer: str, cached: str, **fields: str | dict[str, str] | tuple[str, ...]
) -> TrialSpec:
    """AUTHOR_PATHS_SCRIPT's attempt: ``answer`` in the file an author path names, ``cached``
    in a Keras dataset of the cache."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "train.py").write_text(AUTHOR_PATHS_SCRIPT)
    (workdir / "input.txt").write_text(answer + "\n")
    cache = tmp_path / "datasets"
    (cache / "keras" / "datasets").mkdir(parents=True)
    (cache / "keras" / "datasets" / "tiny.npz").write_text(cached)
    return trial_spec(
        tmp_path, workdir, run_id=f"contract-{uuid.uuid4().hex[:8]}",
        data={"/nonexistent-author/input.txt": Path("input.txt")}, datasets=cache, **fields,
    )  # fmt: skip
