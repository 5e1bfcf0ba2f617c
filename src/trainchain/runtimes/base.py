"""The Runtime contract: where a trial's process runs (a local virtualenv or a container).

A runtime is used from one controller thread at a time per trial; ``TrialProcess`` methods may
be called from a watcher thread while another waits (``kill``/``stop`` must be safe to call
concurrently with ``wait``). Implementations must never touch the user's checkout: a trial runs
in ``TrialSpec.workdir``, a fresh copy made by the caller.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trainchain.states import OutcomeKind

LogSink = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class EnvSpec:
    """Everything that goes into an environment; its hash names the venv or image."""

    profile: str
    packages: tuple[str, ...]  # pinned requirements from the profile table
    project_requirements: tuple[str, ...] = ()  # the project's own, installed on top
    python: str = "3.11"

    def key(self) -> str:
        blob = json.dumps(
            [self.profile, self.packages, self.project_requirements, self.python], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Environment:
    """A provisioned environment: a venv's interpreter or an image tag."""

    runtime: str
    key: str
    python: str = ""  # interpreter path (local runtime)
    image: str = ""  # image tag (docker runtime)
    created: bool = False  # True when this call built it, False when it was reused
    # The EnvSpec's fields, for runtimes that build the environment again on other machines (ray).
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resources:
    memory: str | None = None  # "4g"
    cpus: float | None = None
    gpus: float | None = None  # ray: asked of Ray; docker: a device request; local: not used
    custom: dict[str, float] = field(default_factory=dict)  # Ray custom resources, e.g. {"a100": 1}


@dataclass(frozen=True)
class TrialSpec:
    """One attempt of one trial. Paths are on the controller's host."""

    run_id: str
    trial: int
    attempt: int
    workdir: Path  # fresh working copy of the commit; the script's cwd
    entrypoint: str  # relative to workdir
    args: tuple[str, ...] = ()
    params: dict[str, object] = field(default_factory=dict)
    output_dir: Path = Path()
    checkpoint_dir: Path = Path()
    events_path: Path = Path()
    log_path: Path = Path()  # stdout+stderr go here as they come
    # visible as ./NAME in workdir; an absolute NAME (``/root/input.txt``, a path of the
    # author's machine) is served at that path (local: the agent redirects it; Docker: a
    # mount), and a relative PATH is a file of the working copy
    data: dict[str, Path] = field(default_factory=dict)
    datasets: Path | None = None  # the dataset cache (downloads), shared by every trial
    extra_env: dict[str, str] = field(default_factory=dict)
    resources: Resources = Resources()
    # The GPUs this attempt was given (ids, as in CUDA_VISIBLE_DEVICES): set on a Ray node by
    # the host actor from Ray's assignment, () for none; None: the runtime's own choice (gpus)
    gpu_ids: tuple[str, ...] | None = None
    # frameworks an attempt started ahead imports before its release (``agent.warm``)
    preload: tuple[str, ...] = ()


def blank(trial: TrialSpec) -> TrialSpec:
    """What an attempt started ahead is made for: the attempt without what is only known at its
    start (its parameters and ``extra_env``: the seed)."""
    return replace(trial, params={}, extra_env={})


class TrialProcess(ABC):
    """A running attempt."""

    id: str  # pid or container id

    @abstractmethod
    def poll(self) -> Outcome | None:
        """Return the outcome if the attempt has ended, else None. Never blocks."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> Outcome | None:
        """Block until the attempt ends (return its outcome) or ``timeout`` passes (None)."""

    @abstractmethod
    def stop(self, reason: str) -> None:
        """Ask the attempt to end (SIGTERM, then SIGKILL after a grace period); outcome STOPPED."""

    @abstractmethod
    def kill(self, kind: OutcomeKind, reason: str) -> None:
        """End it at once (SIGKILL) and report ``kind`` (TIMEOUT, STOPPED...) as its outcome."""

    def release(self) -> bool:
        """Its agent wrote ``end`` ok: the training is over and only the interpreter's exit
        (atexit handlers, finalizers flushing what the script left open) remains. True when
        the runtime takes over waiting for that exit (``Runtime.settle``), so the controller
        can go on to the next trial; False (the default): the controller waits here."""
        return False


class Runtime(ABC):
    """Where trials run. Implementations: ``LocalRuntime``, ``DockerRuntime``, ``RayRuntime``."""

    name: str
    # True when ``prepare`` starts an attempt ahead (its working copy must then exist early)
    starts_ahead: bool = False
    # whether a trial may reach the internet (a run-time download it makes itself); when not,
    # the controller prefetches what it can into the dataset cache and stops on the rest
    trials_online: bool = True
    # True when ``replay_download`` runs a library's download with network for offline trials
    replays_downloads: bool = False
    datasets_mount: str | None = None  # where trials see the dataset cache (None: its own path)

    def replay_download(
        self, env: Environment, command: list[str], cache: Path, run_id: str
    ) -> tuple[int, str]:
        """Run ``command`` (``dataset_replay``: trainchain's replay of one detected download,
        never the user's script) for run ``run_id`` in ``env`` with network and ``cache``
        writable at the path the trials read it; return its exit code and output. What a
        controller of the run that died mid-replay left running is removed first."""
        raise NotImplementedError(f"the {self.name} runtime's trials download for themselves")

    @abstractmethod
    def provision(self, spec: EnvSpec, log: LogSink) -> Environment:
        """Build or reuse the environment for ``spec`` (keyed by ``spec.key()``).

        Called in job2 once per run; must be idempotent and safe when two controllers race.
        Raises ``EnvironmentBuildError`` naming the failing requirement and the tool's reason.
        """

    @abstractmethod
    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        """Start ``python -m trainchain.agent <entrypoint> [args]`` for one attempt."""

    def settle(self) -> None:
        """Wait until every attempt released (``TrialProcess.release``) has exited: before
        anything reads the trials' files (promote), and at ``close``. The default releases
        nothing, so has nothing to wait for."""
        return None

    def close(self) -> None:
        """Let go of what the runtime holds (attempts started ahead, connections); running
        attempts go on. The default holds nothing."""
        return None

    def prepare(self, env: Environment, trial: TrialSpec) -> None:
        """Get ready to start ``trial`` (whose working copy exists already) while something else
        runs; ``start`` with the same attempt (any params and ``extra_env``) is then quicker.
        Preparing an attempt that never starts costs resources, nothing else. The default does
        nothing."""
        return None

    def reap(self, process_id: str, run_id: str) -> bool:
        """Stop an attempt left running by a controller that died (found by its id).

        Returns True if something was stopped. Used by resume so a trial is never trained twice
        at once. The default knows nothing to stop.
        """
        return False

    def reattach(self, process_id: str, trial: TrialSpec) -> TrialProcess | None:
        """Follow again an attempt still running after its controller died (found by its id).

        Returns None when the runtime cannot re-attach (the default) or the attempt is gone;
        resume then reaps it and restarts the trial from its checkpoint.
        """
        return None

    def is_alive(self, process_id: str, run_id: str) -> bool | None:
        """Whether the attempt ``process_id`` of ``run_id`` still runs (the reviver's evidence
        that a controller died). None: this runtime cannot tell (the default)."""
        return None

    def follow_deaths(self, died: Callable[[str], None], stop: threading.Event) -> bool:
        """Call ``died(run_id)`` as soon as a trial of this runtime ends abnormally, until
        ``stop``; runs in a thread of its own. False (the default): no such event stream."""
        return False

    def abnormal_ends(self) -> list[str]:
        """One line per trial that ended abnormally and is still inspectable (for the log)."""
        return []

    def describe(self) -> str:
        return self.name
