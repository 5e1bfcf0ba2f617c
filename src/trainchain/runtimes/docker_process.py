"""One trial container as a ``TrialProcess``: a waiter thread records how it ended (from
``docker inspect``'s ``State``), a log thread copies its output; and the engine probe both this
module and ``runtimes.docker`` use.

When the engine stops answering while the container runs (dockerd restarting), the waiter
waits up to ``ENGINE_RETURN_SECONDS`` for it: a container still running (a daemon with
``live-restore``) is re-attached, one that ended meanwhile is classified, and a plain daemon
that ended it as it stopped makes the attempt ``LOST``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import tenacity

from trainchain.runtimes.base import Outcome, TrialProcess
from trainchain.states import OutcomeKind

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10
ENGINE_RETURN_SECONDS = 180.0  # how long a lost waiter waits for the engine to answer again


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def probe(timeout: float) -> None:
    """Connect to a unix socket ourselves first: docker-py leaks the socket of a failed
    connection (a ResourceWarning), and a missing socket file says the most on its own."""
    host = docker_host()
    if not host.startswith("unix://"):
        return  # tcp/ssh: the SDK's own error is clear enough
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)  # FileNotFoundError / ConnectionRefusedError / PermissionError


class DockerProcess(TrialProcess):
    """A running container; a waiter thread records its end, a log thread copies its output."""

    def __init__(self, container: Any, log_path: Path, since_now: bool = False) -> None:
        self.container = container
        self.id = container.id
        self._log_path = log_path
        self._forced: tuple[OutcomeKind, str] | None = None
        self._outcome: Outcome | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._logger = self._start_logger({"tail": 0} if since_now else {})
        self._waiter = threading.Thread(
            target=self._wait_end, name=f"wait-{container.short_id}", daemon=True
        )
        self._waiter.start()

    def poll(self) -> Outcome | None:
        return self._outcome if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> Outcome | None:
        return self._outcome if self._done.wait(timeout) else None

    def stop(self, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (OutcomeKind.STOPPED, reason)
        self._call("stop", timeout=STOP_GRACE_SECONDS)  # SIGTERM, SIGKILL after the grace

    def kill(self, kind: OutcomeKind, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (kind, reason)
        self._call("kill")

    def _call(self, method: str, **kwargs: Any) -> None:
        import docker.errors
        import requests

        try:
            getattr(self.container, method)(**kwargs)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            # already gone or ended, or the engine is away: the waiter sees to it
            log.debug("%s %s: %s", method, self.container.short_id, exc)

    def _start_logger(self, options: dict[str, Any]) -> threading.Thread:
        thread = threading.Thread(
            target=self._copy_logs,
            args=(options,),
            name=f"logs-{self.container.short_id}",
            daemon=True,
        )
        thread.start()
        return thread

    def _copy_logs(self, options: dict[str, Any]) -> None:
        try:
            with open(self._log_path, "ab", buffering=0) as sink:
                for chunk in self.container.logs(stream=True, follow=True, **options):
                    sink.write(chunk)
        except Exception as exc:  # noqa: BLE001 - DockerException, OSError, or the engine's
            # connection dropping mid-stream: the log ends, the waiter decides the outcome
            log.warning("log stream of %s ended: %s", self.container.short_id, exc)

    def _wait_end(self) -> None:
        outcome = Outcome(OutcomeKind.LOST, reason="the container's waiter stopped unexpectedly")
        try:
            state = self._end_state()
            with self._lock:
                forced = self._forced
            outcome = classify(state, forced)
        except Exception as exc:  # noqa: BLE001 - a supervisor's waiter must always report
            log.warning("waiting for %s failed: %s", self.container.short_id, exc)
            outcome = Outcome(OutcomeKind.LOST, reason=f"{_LOST_CONTACT} ({_describe(exc)})")
        finally:
            self._outcome = outcome
            self._done.set()

    def _end_state(self) -> dict[str, Any]:
        """``State`` of the ended container, or ``{"Lost": why}`` when the engine cannot say."""
        import docker.errors

        while True:
            try:
                self.container.wait()  # no timeout: blocks until the container ends
                self.container.reload()
                state: dict[str, Any] = dict(self.container.attrs["State"])
                break
            except docker.errors.NotFound:
                self._logger.join(timeout=30)
                return {"Lost": _REMOVED}
            except Exception as exc:  # noqa: BLE001 - DockerException, requests/urllib3/socket
                # errors when dockerd stops: wait for it, then ask again how the container is
                lost_at = time.time()
                self._logger.join(timeout=30)
                log.warning("lost contact with the Docker engine (%s); waiting for it", exc)
                state = self._after_engine_returns(exc)
                if "Lost" not in state:  # copy what it printed meanwhile (a second may repeat)
                    self._logger = self._start_logger({"since": int(lost_at)})
                if state.get("Running"):
                    log.info("re-attached to %s after the engine returned", self.container.short_id)
                    continue
                break
        self._logger.join(timeout=30)
        if state.get("Status") == "removing":
            return {"Lost": _REMOVED}
        if "Lost" in state:
            return state
        if state.get("ExitCode") == 0 and not state.get("OOMKilled"):
            # the script's own success, which no removal result changes: the attempt's end is
            # not held up by it (not a daemon thread: an exiting controller still removes it)
            threading.Thread(target=self._remove, name=f"rm-{self.container.short_id}").start()
            return state
        removed = self._remove()
        if removed is None:  # a stopping engine ends its containers, then stops answering
            return {
                "Lost": f"{_LOST_CONTACT} as it ended the container (exit code "
                f"{state.get('ExitCode')}); a dockerd restart stops its containers"
            }
        if not removed and state.get("ExitCode") != 0:
            return {"Lost": _REMOVED}  # `docker rm -f` from outside: it was killed, not ended
        return state

    def _after_engine_returns(self, exc: BaseException) -> dict[str, Any]:
        """The container's ``State`` once the engine answers again, or ``{"Lost": why}``."""
        import docker.errors

        def reload() -> None:
            probe(5)
            self.container.reload()

        retrying = tenacity.Retrying(  # every second while the engine is still away
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, Exception) and not isinstance(e, docker.errors.NotFound)
            ),
            wait=tenacity.wait_fixed(1),
            stop=tenacity.stop_after_delay(ENGINE_RETURN_SECONDS),
            reraise=True,
        )
        try:
            retrying(reload)
        except docker.errors.NotFound:
            return {"Lost": _REMOVED}
        except Exception:  # noqa: BLE001 - still away after ENGINE_RETURN_SECONDS
            return {"Lost": f"{_LOST_CONTACT} for {ENGINE_RETURN_SECONDS:.0f} s ({_describe(exc)})"}
        state = dict(self.container.attrs["State"])
        with self._lock:
            forced = self._forced
        if forced and state.get("Running"):  # a stop or kill asked while the engine was away
            self._call("kill")
            self.container.wait()
            self.container.reload()
            state = dict(self.container.attrs["State"])
        return state

    def _remove(self) -> bool | None:
        """Remove the container and its anonymous volumes: True if removed, False if it was
        already gone, None if the engine does not answer."""
        import docker.errors
        import requests

        try:
            probe(5)  # an engine that has stopped: say so without the SDK's socket leak
            self.container.remove(v=True)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:  # e.g. removal already in progress
            log.debug("remove %s: %s", self.container.short_id, exc)
            return "already in progress" not in str(exc)
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            log.debug("remove %s: %s", self.container.short_id, exc)
            return None
        return True


_LOST_CONTACT = "lost contact with the Docker engine"


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


_REMOVED = "the container was removed while it ran (docker rm -f?)"


def classify(state: dict[str, Any], forced: tuple[OutcomeKind, str] | None) -> Outcome:
    """The outcome of an ended container from its ``State`` (``docker inspect``)."""
    if forced:  # we ended it: whatever the engine says next (even "gone") is our doing
        code = state.get("ExitCode")
        return Outcome(forced[0], exit_code=None if code is None else int(code), reason=forced[1])
    if "Lost" in state:
        return Outcome(OutcomeKind.LOST, reason=str(state["Lost"]))
    code = int(state.get("ExitCode", -1))
    if state.get("OOMKilled"):
        return Outcome(
            OutcomeKind.OOM,
            exit_code=code,
            reason="killed by the out-of-memory killer (memory limit reached)",
        )
    if code == 0:
        return Outcome(OutcomeKind.SUCCEEDED, exit_code=0)
    if 128 < code <= 128 + 64:  # the init reports a child killed by signal N as 128+N
        sig = code - 128
        return Outcome(
            OutcomeKind.KILLED, exit_code=code, signal=sig, reason=f"killed by {_signal_name(sig)}"
        )
    error = state.get("Error") or ""
    reason = f"exited with code {code}" + (f": {error}" if error else "")
    return Outcome(OutcomeKind.FAILED, exit_code=code, reason=reason)


def _signal_name(sig: int) -> str:
    import signal

    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
