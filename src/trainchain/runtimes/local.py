"""LocalRuntime: trials as subprocesses in a cached virtualenv per environment hash."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from trainchain import paths
from trainchain.agent import contract
from trainchain.runtimes.base import (
    Environment,
    EnvSpec,
    LogSink,
    Outcome,
    Runtime,
    TrialProcess,
    TrialSpec,
    blank,
)
from trainchain.runtimes.installer import (
    InstallFailed,
    build_with_pip,
    build_with_uv,
    compile_in_background,
    find_uv,
    is_unsatisfiable,
    pip_failure,
    uv_failure,
)
from trainchain.runtimes.local_spare import LocalSpare, discard_all
from trainchain.runtimes.staging import agent_dir
from trainchain.settings import operator_settings
from trainchain.states import OutcomeKind

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 10.0
# a released attempt exits in about a second (TensorFlow's teardown); one still there after
# this long hangs (a thread the script never joins) and is stopped, with a warning
EXIT_WAIT_SECONDS = 60.0


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class LocalRuntime(Runtime):
    """Runs each attempt as ``<venv>/bin/python -m trainchain.agent`` on this machine."""

    name = "local"

    starts_ahead = True

    def __init__(self, home: Path | None = None) -> None:
        self.envs = home or paths.envs_dir()
        self._spares: list[LocalSpare] = []  # started ahead by ``prepare``, one per attempt
        self._spares_lock = threading.Lock()  # parallel trials prepare and start from threads
        self._released: list[LocalProcess] = []  # training over, interpreter still exiting
        # released attempts are waited for, and spares nobody used killed, with the runtime
        # (``close``), or when it is collected, or at the interpreter's exit
        self._finalizer = weakref.finalize(self, _let_go, self._released, self._spares)

    def provision(self, spec: EnvSpec, log: LogSink) -> Environment:
        key = spec.key()
        target = self.envs / key
        python = target / "bin" / "python"
        with _file_lock(self.envs / f".{key}.lock"):
            if (target / ".complete").exists():
                log(f"environment {key} ({spec.profile}) reused: {target}")
                return Environment(runtime=self.name, key=key, python=str(python))
            shutil.rmtree(target, ignore_errors=True)  # a half-built one from a killed build
            log(f"creating environment {key} ({spec.profile}) in {target}")
            packages = [*spec.packages, *spec.project_requirements]
            installer = _build(target, packages, log)
            (target / ".complete").write_text(" ".join(packages) + "\n")
            if installer == "uv" and not os.environ.get("UV_COMPILE_BYTECODE"):
                compile_in_background(target)  # pip (or uv told to) compiled as it installed
        return Environment(runtime=self.name, key=key, python=str(python), created=True)

    def reap(self, process_id: str, run_id: str) -> bool:
        """Kill an orphaned attempt: only if its environment shows it belongs to ``run_id``."""
        if trial_process(process_id, run_id) is None:
            return False  # gone, or the pid was reused by something else
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(process_id), signal.SIGKILL)
        return True

    def is_alive(self, process_id: str, run_id: str) -> bool | None:
        """True while ``process_id`` is a trial process of ``run_id`` (a reused pid does not
        count); None for an id that is no pid (another runtime's attempt)."""
        if not process_id.isdigit():
            return None
        return trial_process(process_id, run_id) is not None

    def prepare(self, env: Environment, trial: TrialSpec) -> None:
        """Start the interpreter of an attempt that comes next, importing the script's
        frameworks while the current trial trains (``local_spare``)."""
        with self._spares_lock:
            if not trial.preload or any(s.matches(trial) for s in self._spares):
                return
            python = env.python or sys.executable
            spare = LocalSpare(python, trial, self._environ(blank(trial)), list(trial.preload))
            self._spares.append(spare)

    def settle(self) -> None:
        with self._spares_lock:
            taken, self._released[:] = list(self._released), []
        _wait_exits(taken)

    def close(self) -> None:
        """Wait for the released attempts' exits; kill the spares nobody used (running
        attempts go on)."""
        self._finalizer()

    def _release(self, process: LocalProcess) -> None:
        with self._spares_lock:
            self._released.append(process)

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        environ = self._environ(trial)
        with self._spares_lock:
            spare = next((s for s in self._spares if s.matches(trial)), None)
            if spare is not None:
                self._spares.remove(spare)
        if spare is not None:
            args = [trial.entrypoint, *trial.args]
            proc = spare.release(self.command(env, trial), args, environ)
            if proc is not None:
                log.debug("trial %s attempt %s: warm start", trial.trial, trial.attempt)
                return LocalProcess(proc, spare.log_file, self._release)
        log_file = open(trial.log_path, "ab", buffering=0)  # noqa: SIM115 - owned by the process
        try:
            proc = subprocess.Popen(
                self.command(env, trial),
                cwd=trial.workdir,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill reaches its children too
            )
        except BaseException:
            log_file.close()  # no process took ownership of it
            raise
        return LocalProcess(proc, log_file, self._release)

    def _environ(self, trial: TrialSpec) -> dict[str, str]:
        """Make the attempt's links and directories; its environment."""
        path_map: dict[str, str] = {}
        for name, given in trial.data.items():
            source = given if given.is_absolute() else trial.workdir / given
            if os.path.isabs(name):  # the author's absolute path: the agent redirects it
                path_map[name] = str(source)
                continue
            link = trial.workdir / name
            if link.is_symlink() or link.exists():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(source).resolve(), target_is_directory=Path(source).is_dir())
        for directory in (trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        trial.log_path.parent.mkdir(parents=True, exist_ok=True)
        environ = trial_environ(
            trial, agent_dir(), trial.output_dir, trial.checkpoint_dir, trial.events_path
        )
        environ.update(contract.path_map_environ(path_map))
        if trial.datasets is not None:
            environ.update(contract.dataset_environ(str(trial.datasets), _mirror_for_trials()))
        return environ

    def command(self, env: Environment, trial: TrialSpec) -> list[str]:
        """The attempt's command line (the Ray node runtime wraps it in a supervisor)."""
        return [
            env.python or sys.executable,
            "-m",
            "trainchain.agent",
            trial.entrypoint,
            *trial.args,
        ]


def trial_environ(
    trial: TrialSpec, agent: Path, output_dir: Path, checkpoint_dir: Path, events: Path
) -> dict[str, str]:
    """The environment of a trial (paths as the training process sees them): allow-listed
    host variables only, never the server's secrets (``trial_env``)."""
    from trainchain.runtimes.trial_env import host_environ, restrict

    environ = host_environ()
    environ.update(
        PYTHONPATH=str(agent),
        PYTHONUNBUFFERED="1",
        TF_CPP_MIN_LOG_LEVEL=environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    )
    environ.update(
        contract.attempt_environ(
            trial.params,
            str(output_dir),
            str(checkpoint_dir),
            str(events),
            trial.run_id,
            trial.trial,
            trial.attempt,
        )
    )
    if trial.resources.cpus:
        threads = str(max(1, int(trial.resources.cpus)))
        environ.update(OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads)
    environ = restrict(environ)
    if trial.gpu_ids is not None:  # exactly the GPUs Ray gave the attempt ("": none)
        environ["CUDA_VISIBLE_DEVICES"] = ",".join(trial.gpu_ids)
    environ.update(trial.extra_env)  # set by trainchain's own code for this attempt
    return environ


class LocalProcess(TrialProcess):
    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        log_file: object,
        on_release: Callable[[LocalProcess], None] | None = None,
    ) -> None:
        self.proc = proc
        self.id = str(proc.pid)
        self._log_file = log_file
        self._on_release = on_release
        self._forced: tuple[OutcomeKind, str] | None = None
        self._lock = threading.Lock()

    def release(self) -> bool:
        """The interpreter's exit (about 1 s with TensorFlow loaded) overlaps the next trial;
        the runtime's ``settle`` waits for it."""
        if self._on_release is None or self._forced:
            return False
        self._close_log()  # the process writes through its own descriptor
        self._on_release(self)
        return True

    def exited(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for a released attempt to exit (then stop it); say so
        when its exit was not clean: its trial keeps the result its agent reported."""
        try:
            code = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            log.warning(
                "trial process %s was still running %gs after its training ended (a thread "
                "the script never joins?); stopping it",
                self.id,
                limit,
            )
            self.stop("still running after its training ended")
            code = self.proc.wait()
        if code:
            log.warning(
                "trial process %s exited with %s after its training ended; the trial keeps "
                "its result",
                self.id,
                f"code {code}" if code > 0 else f"signal {-code}",
            )

    def poll(self) -> Outcome | None:
        code = self.proc.poll()
        return None if code is None else self._outcome(code)

    def wait(self, timeout: float | None = None) -> Outcome | None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self._outcome(code)

    def stop(self, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (OutcomeKind.STOPPED, reason)
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)

    def kill(self, kind: OutcomeKind, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (kind, reason)
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def _close_log(self) -> None:
        close = getattr(self._log_file, "close", None)
        if close:
            close()

    def _outcome(self, code: int) -> Outcome:
        self._close_log()
        if self._forced:
            kind, reason = self._forced
            return Outcome(kind, exit_code=code, reason=reason)
        if code == 0:
            return Outcome(OutcomeKind.SUCCEEDED, exit_code=0)
        if code < 0:
            sig = -code
            name = (
                signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            )
            return Outcome(OutcomeKind.KILLED, signal=sig, reason=f"killed by {name}")
        return Outcome(OutcomeKind.FAILED, exit_code=code, reason=f"exited with code {code}")


def _wait_exits(released: list[LocalProcess]) -> None:
    while released:
        released.pop().exited(EXIT_WAIT_SECONDS)


def _let_go(released: list[LocalProcess], spares: list[LocalSpare]) -> None:
    _wait_exits(released)
    discard_all(spares)


def _build(target: Path, packages: list[str], log: LogSink) -> str:
    """uv when it is there; pip without it, or after a uv failure pip might get past. Returns
    which one built it."""
    uv = find_uv()
    if uv is None:
        log("uv is not available (TRAINCHAIN_UV); building with pip")
    else:
        try:
            build_with_uv(uv, target, packages, log)
            return "uv"
        except InstallFailed as failed:
            if is_unsatisfiable(failed.tail):
                raise uv_failure(packages, failed.tail) from None
            log("uv failed (see above); retrying with pip")
        except OSError as exc:  # the binary vanished or cannot run
            log(f"cannot run uv ({exc}); building with pip")
        shutil.rmtree(target, ignore_errors=True)
    try:
        build_with_pip(target, packages, log)
    except InstallFailed as failed:
        raise pip_failure(packages, failed.tail) from None
    return "pip"


def trial_process(process_id: str, run_id: str) -> psutil.Process | None:
    """The live (not zombie) process ``process_id`` if it is a trial of ``run_id``: its
    environment holds ``TRAINCHAIN_RUN=run_id``, so a reused pid does not count."""
    try:
        process = psutil.Process(int(process_id))
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        owner = process.environ().get(contract.RUN)
    except (psutil.Error, ValueError):
        return None
    return process if owner == run_id else None


def _mirror_for_trials() -> str | None:
    """The operator's dataset mirror for the trials' library downloads, unless its URL carries
    credentials: a trial's code reads its environment (the controller's prefetch still uses it)."""
    mirror = operator_settings().datasets_mirror
    if mirror:
        parts = urllib.parse.urlsplit(mirror)
        if parts.username or parts.password:
            log.info("TRAINCHAIN_DATASETS_MIRROR has credentials: not passed to local trials")
            return None
    return mirror
