"""A scripted runtime behind the ``Runtime`` ABC: each attempt does what a script says
(print lines, emit agent events, write files, then end a given way or run until stopped).

No process is started, so the chain's resume, skip, failure and exit-code paths run in
seconds; the lifecycle part of the runtime contract (``tests/contract``) runs against it too.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainchain.runtimes.base import (
    Environment,
    EnvSpec,
    LogSink,
    Outcome,
    Runtime,
    TrialProcess,
    TrialSpec,
)
from trainchain.states import OutcomeKind

SUCCEEDED = Outcome(OutcomeKind.SUCCEEDED, 0)


@dataclass(frozen=True)
class Act:
    """What one attempt does, in order: ``lines`` to its log, ``events`` to its events file,
    ``outputs``/``checkpoints`` (name -> text) written, then it ends with ``ends``; with
    ``ends=None`` it prints ``tick N`` every ``tick`` seconds until stopped or killed."""

    lines: tuple[str, ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)
    ends: Outcome | None = SUCCEEDED
    tick: float = 0.05


def metric(name: str, value: float) -> dict[str, Any]:
    """The event ``trainchain.agent.log_metric(name, value)`` appends."""
    return {"type": "metric", "name": name, "value": value, "source": "sdk"}


def failed(code: int = 1, line: str = "Traceback: failing on purpose") -> Act:
    return Act(lines=(line,), ends=Outcome(OutcomeKind.FAILED, code, reason=f"exit code {code}"))


Script = Callable[[TrialSpec], Act]


class ScriptedRuntime(Runtime):
    """``script(trial)`` says what each attempt does; ``started`` records every attempt."""

    name = "fake"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.started: list[TrialSpec] = []
        self.provisioned: list[str] = []
        self._processes: dict[str, tuple[str, ScriptedProcess]] = {}
        self._ids = itertools.count(1)

    def provision(self, spec: EnvSpec, log: LogSink) -> Environment:
        key = spec.key()
        created = key not in self.provisioned
        self.provisioned.append(key)
        log(f"environment {key} ({spec.profile}) {'built' if created else 'reused'}")
        return Environment(runtime=self.name, key=key, created=created)

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        act = self.script(trial)
        process = ScriptedProcess(f"fake-{next(self._ids)}", trial, act)
        self.started.append(trial)
        self._processes[process.id] = (trial.run_id, process)
        return process

    def attempts(self, trial: int) -> int:
        """How many attempts of trial number ``trial`` were started."""
        return sum(1 for spec in self.started if spec.trial == trial)

    def is_alive(self, process_id: str, run_id: str) -> bool | None:
        entry = self._processes.get(process_id)
        return entry is not None and entry[0] == run_id and entry[1].poll() is None

    def reap(self, process_id: str, run_id: str) -> bool:
        if not self.is_alive(process_id, run_id):
            return False
        self._processes[process_id][1].kill(OutcomeKind.LOST, "reaped")
        return True


class ScriptedProcess(TrialProcess):
    def __init__(self, process_id: str, trial: TrialSpec, act: Act) -> None:
        self.id = process_id
        self._trial, self._act = trial, act
        self._outcome: Outcome | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        for directory in (trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        trial.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._play, daemon=True, name=process_id)
        self._thread.start()

    def _play(self) -> None:
        act, trial = self._act, self._trial
        self._print(*act.lines)
        with open(trial.events_path, "a", encoding="utf-8") as fh:
            for event in act.events:
                fh.write(json.dumps({"time": time.time(), **event}) + "\n")
        for name, text in act.outputs.items():
            (trial.output_dir / name).write_text(text)
        for name, text in act.checkpoints.items():
            (trial.checkpoint_dir / name).write_text(text)
        if act.ends is not None:
            self._end(act.ends)
            return
        for tick in itertools.count():
            if self._done.wait(act.tick):
                return
            self._print(f"tick {tick}")

    def _print(self, *lines: str) -> None:
        with open(self._trial.log_path, "a", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)

    def _end(self, outcome: Outcome) -> None:
        with self._lock:
            if self._outcome is None:
                self._outcome = outcome
                self._done.set()

    def poll(self) -> Outcome | None:
        return self._outcome if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> Outcome | None:
        self._done.wait(timeout)
        return self.poll()

    def stop(self, reason: str) -> None:
        self._end(Outcome(OutcomeKind.STOPPED, signal=signal.SIGTERM, reason=reason))

    def kill(self, kind: OutcomeKind, reason: str) -> None:
        self._end(Outcome(kind, signal=signal.SIGKILL, reason=reason))
