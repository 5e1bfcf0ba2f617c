"""What an attempt's container is made with (``DockerRuntime.start`` and its spares alike).

Mounts (host -> container):

- ``TrialSpec.workdir`` -> ``/code``, **read-write**: it is already a disposable copy made for
  this attempt, and many scripts write next to themselves (``model.h5``, ``plots/``);
- ``TrialSpec.data[NAME]`` -> ``/code/NAME`` read-only (an absolute NAME, a path of the
  author's machine such as ``/root/input.txt``, under ``/trainchain/data/``, redirected by the
  agent through ``TRAINCHAIN_PATH_MAP``);
- the dataset cache ``TrialSpec.datasets`` -> ``/trainchain/datasets`` read-only (the agent
  gives Keras, which ignores a cache it cannot write, a writable shadow of symlinks), with
  ``KERAS_HOME`` & co. pointing into it;
- output -> ``/output``, checkpoints -> ``/checkpoints``, the events file's directory ->
  ``/trainchain/events`` (all writable); the staged agent -> ``/opt/trainchain/agent`` read-only
  (shadowing the copy baked into the image, so the controller's agent is the one that runs).

The container runs as the calling uid:gid (files on the host stay the user's; never root: a
server running as root gives its trials ``TRIAL_UID``, owner of their writable directories),
with no network, every capability dropped, no-new-privileges, the memory/CPU limits of
``TrialSpec.resources`` (defaults in ``DEFAULT_LIMITS``) and a pids limit, docker's init as
PID 1 (signals reach the script) and the labels ``trainchain.run``/``trainchain.trial``/
``trainchain.attempt``. Nothing outside the trial's directories and its read-only data is
mounted, and never the Docker socket.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from trainchain.agent import contract
from trainchain.runtimes import gpus
from trainchain.runtimes.base import Environment, TrialSpec
from trainchain.runtimes.staging import agent_dir
from trainchain.settings import operator_settings

CODE, OUTPUT, CHECKPOINTS = "/code", "/output", "/checkpoints"
EVENTS_DIR, AGENT_DIR = "/trainchain/events", "/opt/trainchain/agent"
# Defaults when the operator sets no resources: a runaway trial must not take the machine.
DEFAULT_LIMITS = {
    "memory": operator_settings().trial_memory,
    "pids": operator_settings().trial_pids,
}
TRIAL_UID = operator_settings().trial_uid  # nobody, when the server is root
DATA_DIR = "/trainchain/data"  # data whose name is an absolute path of the author's machine
DATASETS = "/trainchain/datasets"  # the machine's dataset cache (run-time downloads)
LABEL_RUN, LABEL_TRIAL, LABEL_ATTEMPT = "trainchain.run", "trainchain.trial", "trainchain.attempt"


def prepare_dirs(trial: TrialSpec) -> None:
    """The attempt's writable directories, and the mount points of its data in the working copy
    (a mount point made by dockerd would belong to root)."""
    for directory in (trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
        directory.mkdir(parents=True, exist_ok=True)
    trial.log_path.parent.mkdir(parents=True, exist_ok=True)
    for name, src in trial.data.items():
        if os.path.isabs(name):
            continue  # outside /code: the container's own filesystem
        point = trial.workdir / name
        if _host_source(trial, src).is_dir():
            point.mkdir(parents=True, exist_ok=True)
        elif not point.exists():
            point.parent.mkdir(parents=True, exist_ok=True)
            point.touch()


def create_args(env: Environment, trial: TrialSpec) -> dict[str, Any]:
    """What ``containers.create`` gets for an attempt, but its command."""
    return {
        "image": env.image,
        "init": True,
        "name": container_name(trial),
        "labels": {
            LABEL_RUN: trial.run_id,
            LABEL_TRIAL: str(trial.trial),
            LABEL_ATTEMPT: str(trial.attempt),
        },
        "environment": container_environ(trial),
        "mounts": trial_mounts(trial),
        "working_dir": CODE,
        "user": _run_as(trial),
        "network_mode": "none",
        "device_requests": gpus.device_requests(trial),
        **_limits(trial),
    }


def container_environ(trial: TrialSpec) -> dict[str, str]:
    """The trial's environment with the paths as the container sees them (allow-listed:
    ``trial_env``)."""
    from trainchain.runtimes.trial_env import operator_names, restrict

    environ = {
        "PYTHONPATH": AGENT_DIR,
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        contract.CODE: CODE,
        **contract.attempt_environ(
            trial.params,
            OUTPUT,
            CHECKPOINTS,
            f"{EVENTS_DIR}/{trial.events_path.name}",
            trial.run_id,
            trial.trial,
            trial.attempt,
        ),
        "HOME": "/tmp/home",  # the calling uid has no home in the image
    }
    if trial.resources.cpus:
        threads = str(max(1, int(trial.resources.cpus)))
        environ.update(OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads)
    shared = operator_names()  # host variables the operator chose to share with trials
    environ.update({k: v for k, v in os.environ.items() if k in shared})
    if trial.datasets is not None:
        environ.update(contract.dataset_environ(DATASETS))
    environ = restrict(environ)
    path_map = {  # paths of the author's machine: the agent redirects them to their mounts
        name: _data_target(name, index)
        for index, name in enumerate(trial.data)
        if os.path.isabs(name)
    }
    environ.update(contract.path_map_environ(path_map))
    if gpus.device_ids(trial) != []:  # a container numbers its GPUs from 0: the host's ids lie
        environ.pop(gpus.VISIBLE, None)
    environ.update(trial.extra_env)  # set by trainchain's own code for this attempt
    return environ


def trial_mounts(trial: TrialSpec) -> list[Any]:
    """Bind mounts as a list: one host directory may appear at several targets (events in the
    output directory, say), which a ``volumes`` dict keyed by host path would silently drop."""
    from docker.types import Mount

    from trainchain.runtimes.data_roots import check_mount

    def bind(source: Path, target: str, read_only: bool = False) -> Any:
        return Mount(target, str(check_mount(source)), type="bind", read_only=read_only)

    mounts = [
        bind(trial.workdir, CODE),
        bind(trial.output_dir, OUTPUT),
        bind(trial.checkpoint_dir, CHECKPOINTS),
        bind(trial.events_path.parent, EVENTS_DIR),
        bind(agent_dir(), AGENT_DIR, read_only=True),
    ]
    mounts += [
        bind(_host_source(trial, src), _data_target(name, index), read_only=True)
        for index, (name, src) in enumerate(trial.data.items())
    ]
    if trial.datasets is not None:
        # read-only: pushed code must not change what other projects train on; the agent gives
        # Keras (which ignores a cache it cannot write) a writable shadow of it
        trial.datasets.mkdir(parents=True, exist_ok=True)
        mounts.append(bind(trial.datasets, DATASETS, read_only=True))
    return mounts


def _data_target(name: str, index: int) -> str:
    """Where data NAME is mounted: ``/code/NAME``; an absolute NAME (``/root/input.txt``) under
    ``/trainchain/data`` (the trial's uid may not even enter ``/root``), redirected by the agent."""
    return f"{DATA_DIR}/{index}" if os.path.isabs(name) else f"{CODE}/{name}"


def _host_source(trial: TrialSpec, src: Path) -> Path:
    """A data source on the host: a relative one is a file of the working copy."""
    return src if src.is_absolute() else trial.workdir / src


def _limits(trial: TrialSpec) -> dict[str, Any]:
    """Resource limits (the trial's, else the defaults) and the hardening every container gets."""
    memory = trial.resources.memory or DEFAULT_LIMITS["memory"]
    cpus = trial.resources.cpus or float(os.cpu_count() or 1)
    return {
        # no swap beyond the limit: an OOM is an OOM, not a crawl
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(cpus * 1e9),
        "pids_limit": int(DEFAULT_LIMITS["pids"]),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "privileged": False,
    }


def _run_as(trial: TrialSpec) -> str:
    """``uid:gid`` of the trial: the caller's, or ``TRIAL_UID`` when the caller is root (which
    then hands it the attempt's writable directories)."""
    if os.getuid() != 0:
        return f"{os.getuid()}:{os.getgid()}"
    for top in (trial.workdir, trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
        _chown_tree(top, TRIAL_UID)
    return f"{TRIAL_UID}:{TRIAL_UID}"


def _chown_tree(top: Path, uid: int) -> None:
    """``chown -R`` without following symlinks (a link must not hand over its target)."""
    os.chown(top, uid, uid, follow_symlinks=False)
    for root, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def container_name(trial: TrialSpec) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in trial.run_id)[:40]
    return f"trainchain-{safe}-t{trial.trial}-a{trial.attempt}-{secrets.token_hex(3)}"
