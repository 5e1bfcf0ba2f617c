"""Local attempts started ahead ("spares"): the interpreter of a coming attempt is started while
the previous trial trains and imports the script's frameworks (``trainchain.agent.warm``), so the
attempt's start skips TensorFlow's import (about 3 s per trial on this machine, against 0.3 s
epochs on the digits CNN).

The spare reads its release from a pipe it inherited: one JSON message with the attempt's
command line and environment (its parameters and seed are only known then). The controller
holds the write end: a controller that dies closes it, the spare reads end-of-file and exits 0,
so no spare outlives its controller. One the controller discards is killed at once: the script
has not started in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
from typing import IO

from trainchain.runtimes.base import TrialSpec, blank

log = logging.getLogger(__name__)

WAITER = "from trainchain.agent.warm import main; main()"
MAX_MESSAGE = 60_000  # below a pipe's capacity: the release never blocks on a busy spare


class LocalSpare:
    """The interpreter of one coming attempt, importing ahead, waiting for its release."""

    def __init__(
        self, python: str, trial: TrialSpec, environ: dict[str, str], imports: list[str]
    ) -> None:
        self.trial = blank(trial)
        self.workdir = trial.workdir.stat().st_ino  # its working directory, as it was made
        read, self._write = os.pipe()
        fcntl.fcntl(self._write, fcntl.F_SETFL, os.O_NONBLOCK)
        self.log_file: IO[bytes] = open(trial.log_path, "ab", buffering=0)  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [python, "-c", WAITER, str(read), *imports],
                cwd=trial.workdir,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=self.log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a cold attempt's
                pass_fds=(read,),
            )
        except BaseException:
            os.close(self._write)
            self.log_file.close()
            raise
        finally:
            os.close(read)

    def matches(self, trial: TrialSpec) -> bool:
        return blank(trial) == self.trial

    def release(
        self, argv: list[str], args: list[str], environ: dict[str, str]
    ) -> subprocess.Popen[bytes] | None:
        """Start the attempt in the spare: its process, or None when the spare is unusable
        (it is discarded then, and the caller starts the attempt cold)."""
        message = json.dumps({"argv": argv, "args": args, "env": environ}).encode()
        written = -1
        if len(message) <= MAX_MESSAGE and self.proc.poll() is None and self._same_workdir():
            try:
                written = os.write(self._write, message)
            except OSError as exc:  # the spare died meanwhile (EPIPE)
                log.debug("release of spare %s: %s", self.trial.trial, exc)
        if written != len(message):
            self.discard()
            return None
        self._close_pipe()  # end-of-file: the spare runs the attempt
        return self.proc

    def _same_workdir(self) -> bool:
        """A working copy made again since (``rmtree`` + copy) is not the spare's directory."""
        try:
            return self.trial.workdir.stat().st_ino == self.workdir
        except OSError:
            return False

    def discard(self) -> None:
        """Kill the spare (it may still be importing: it reads the pipe only after)."""
        self._close_pipe()
        if self.proc.poll() is None:  # not reaped: its pid (and group) are still its own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log_file.close()

    def _close_pipe(self) -> None:
        if self._write >= 0:
            os.close(self._write)
            self._write = -1


def discard_all(spares: list[LocalSpare]) -> None:
    while spares:
        spares.pop().discard()
