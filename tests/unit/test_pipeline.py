"""The chain's own paths on the scripted runtime (no training process): every stage in order,
a skipped tune, a failure and its resume, stages run alone, and the exit code of each."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.cli import write_project
from tests.fake_runtime import Act, ScriptedRuntime, failed, metric

from trainchain.errors import ConfigError
from trainchain.pipeline import STAGES, Pipeline
from trainchain.stages import Stage
from trainchain.stages.context import RunListener, StageContext, StageResult
from trainchain.states import TrialState
from trainchain.store import Notification, Store

SCRIPT = "LEARNING_RATE = 0.01\nprint('accuracy: 0.5')\n"
SPACE = "params:\n  LEARNING_RATE: {type: float, low: 0.001, high: 0.1, log: true}\n"


def _project(tmp_path: Path, yaml: str) -> Path:
    files = {"train.py": SCRIPT, "trainchain.yaml": f"entrypoint: train.py\n{yaml}"}
    return write_project(tmp_path / "proj", files)


def accuracy(value: float) -> Act:
    return Act(lines=(f"accuracy: {value}",), events=(metric("accuracy", value),))


class Recorder(RunListener):
    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []

    def run_started(self, ctx: StageContext) -> None:
        self.heard.append(("started", ctx.run.id))

    def stage_finished(self, ctx: StageContext, stage: Stage, result: StageResult) -> None:
        self.heard.append((stage.value, result.state.value))
        result.result["heard"] = True  # recorded with the stage's own result

    def run_finished(self, ctx: StageContext, status: str) -> None:
        self.heard.append(("finished", status))


def _pipeline(
    tmp_path: Path, yaml: str, values: list[float], listener: RunListener | None = None
) -> tuple[Pipeline, ScriptedRuntime, str]:
    """A project whose trials score ``values`` in turn (the last one repeats)."""
    proj = _project(tmp_path, yaml)
    scores = iter(values)
    last: list[float] = []

    def script(_trial: Any) -> Act:
        last[:] = [next(scores, last[0] if last else values[-1])]
        return accuracy(last[0])

    runtime = ScriptedRuntime(script)
    pipeline = Pipeline(Store(), runtime=runtime, listeners=[listener] if listener else [])
    return pipeline, runtime, pipeline.create_run(str(proj))


def _states(pipeline: Pipeline, run_id: str) -> dict[str, str]:
    return dict(pipeline.report(run_id).stages)


def test_below_the_target_every_stage_runs_and_the_exit_code_is_3(tmp_path: Path) -> None:
    recorder = Recorder()
    yaml = f"target: 0.9\nmax_trials: 3\nseed: 1\n{SPACE}"
    pipeline, runtime, run_id = _pipeline(tmp_path, yaml, [0.5, 0.6, 0.7], recorder)
    outcome = pipeline.execute(run_id)
    assert (outcome.exit_code, outcome.report.status) == (3, "target_not_reached")
    assert _states(pipeline, run_id) == {spec.stage.value: "succeeded" for spec in STAGES}
    trials = pipeline.store.trials(run_id)
    assert [(t.number, t.value) for t in trials] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert [runtime.attempts(n) for n in range(3)] == [1, 1, 1]
    assert recorder.heard == [
        ("started", run_id),
        *[(spec.stage.value, "succeeded") for spec in STAGES],
        ("finished", "target_not_reached"),
    ]
    promote = pipeline.store.stage(run_id, "promote")
    assert promote is not None and promote.result["heard"] and promote.result["version"] == 1
    assert pipeline.store.get_run(run_id).model_version == 1

    again = pipeline.execute(run_id)  # nothing left: the same answer, nothing run or announced
    assert again.exit_code == 3 and len(runtime.started) == 3 and len(recorder.heard) == 8


def test_a_baseline_at_the_target_skips_tune_and_exits_0(tmp_path: Path) -> None:
    pipeline, runtime, run_id = _pipeline(tmp_path, f"target: 0.9\n{SPACE}", [0.95])
    outcome = pipeline.execute(run_id)
    assert (outcome.exit_code, outcome.report.status) == (0, "succeeded")
    assert _states(pipeline, run_id)["tune"] == "skipped"
    tune = pipeline.store.stage(run_id, "tune")
    assert tune is not None and "reached the target" in tune.result["reason"]
    assert len(runtime.started) == 1


def test_a_failed_baseline_exits_1_and_resume_continues_at_train(tmp_path: Path) -> None:
    yaml = "target: 0.9\nmax_restarts: 0\ntune: false\n"
    proj = _project(tmp_path, yaml)
    runtime = ScriptedRuntime(lambda _trial: failed())
    pipeline = Pipeline(Store(), runtime=runtime, listeners=[])
    run_id = pipeline.create_run(str(proj))

    outcome = pipeline.execute(run_id)
    run = pipeline.store.get_run(run_id)
    assert (outcome.exit_code, run.status, run.failed_stage) == (1, "failed", "train")
    assert "failing on purpose" in (run.error or "")
    assert _states(pipeline, run_id) == {"fetch": "succeeded", "detect": "succeeded",
                                         "train": "failed"}  # fmt: skip
    fetched = pipeline.store.stage(run_id, "fetch")
    assert fetched is not None
    trial = pipeline.store.trial(run_id, 0)
    assert trial is not None and trial.state == TrialState.FAILED

    # a failed trial is final: the resumed train stage reports it again, nothing is retrained
    outcome = pipeline.execute(run_id)
    assert outcome.exit_code == 1 and runtime.attempts(0) == 1
    refetched = pipeline.store.stage(run_id, "fetch")
    assert refetched is not None and refetched.ended_at == fetched.ended_at  # not run again
    assert len(runtime.provisioned) == 1  # detect not run again either


def test_an_internal_error_is_recorded_and_resume_finishes_the_trial(tmp_path: Path) -> None:
    def broken(_trial: Any) -> Act:
        raise RuntimeError("the runtime fell over")

    proj = _project(tmp_path, "tune: false\n")
    runtime = ScriptedRuntime(broken)
    pipeline = Pipeline(Store(), runtime=runtime, listeners=[])
    run_id = pipeline.create_run(str(proj))
    with pytest.raises(RuntimeError, match="fell over"):
        pipeline.execute(run_id)
    run = pipeline.store.get_run(run_id)
    assert (run.status, run.failed_stage) == ("failed", "train")
    assert run.error == "internal error in train: RuntimeError: the runtime fell over"
    trial = pipeline.store.trial(run_id, 0)
    assert trial is not None and trial.state == TrialState.RUNNING  # never finished

    runtime.script = lambda _trial: accuracy(0.85)
    outcome = pipeline.execute(run_id)  # resume: at train, the same trial, then the rest
    assert (outcome.exit_code, outcome.report.status) == (0, "succeeded")
    assert runtime.attempts(0) == 1 and len(runtime.provisioned) == 1
    assert _states(pipeline, run_id)["tune"] == "skipped"


def test_stages_run_alone_need_their_inputs_and_exit_as_declared(tmp_path: Path) -> None:
    yaml = f"target: 0.9\nmax_trials: 2\nseed: 1\n{SPACE}"
    pipeline, runtime, run_id = _pipeline(tmp_path, yaml, [0.5])
    with pytest.raises(ConfigError, match="stage train needs detect first"):
        pipeline.execute(run_id, only=Stage.TRAIN)
    codes = {spec.stage.value: pipeline.execute(run_id, only=spec.stage).exit_code
             for spec in STAGES}  # fmt: skip
    # below the target: the stages declared reports_target exit 3 (Jenkins: UNSTABLE)
    assert codes == {"fetch": 0, "detect": 0, "train": 0, "tune": 3, "promote": 3, "monitor": 3}
    run = pipeline.store.get_run(run_id)
    assert run.status == "target_not_reached" and run.ended_at is not None  # monitor ended it
    assert [spec.stage for spec in STAGES if spec.reports_target] == [
        Stage.TUNE, Stage.PROMOTE, Stage.MONITOR,
    ]  # fmt: skip


def test_monitor_stops_an_attempt_left_running(tmp_path: Path) -> None:
    """An attempt row still running (its controller died) is reaped and marked lost."""
    pipeline, runtime, run_id = _pipeline(tmp_path, "tune: false\ntarget: 0.9\n", [0.5])
    for spec in STAGES[:3]:
        pipeline.execute(run_id, only=spec.stage)
    from trainchain.runtimes.base import Environment
    from trainchain.store import Attempt

    trial = pipeline.store.trial(run_id, 0)
    assert trial is not None
    started = runtime.started[0]
    runtime.script = lambda _trial: Act(ends=None)  # runs until stopped
    left = runtime.start(Environment("fake", "k"), started)  # still running: a lost controller's
    with pipeline.store.session() as s:
        s.add(Attempt(trial_id=trial.id, number=2, process_id=left.id))
    assert runtime.is_alive(left.id, run_id) is True
    outcome = pipeline.execute(run_id, only=Stage.MONITOR)
    assert outcome.exit_code == 3
    result = pipeline.store.stage(run_id, "monitor")
    assert result is not None and result.result["orphans_stopped"] == 1
    assert runtime.is_alive(left.id, run_id) is False
    attempts = pipeline.store.trial(run_id, 0)
    assert attempts is not None and [a.outcome for a in attempts.attempts][-1] == "lost"


def test_the_default_listeners_notify_and_record_the_tracking_export(tmp_path: Path) -> None:
    """Notifications are a listener: a real webhook receiver gets the final status and each
    answer is recorded; the tracking listener records ``tracking: None`` without MLflow."""
    from tests.integration.test_notify_delivery import Recorder

    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yaml = (
            f"target: 0.9\ntune: false\n"
            f"notify:\n  - webhook: {{url: '{server.url}/hook'}}\n"
            "    on: [started, succeeded, target_not_reached, failed]\n"
        )
        proj = _project(tmp_path, yaml)
        pipeline = Pipeline(Store(), runtime=ScriptedRuntime(lambda _trial: accuracy(0.95)))
        run_id = pipeline.create_run(str(proj))
        assert pipeline.execute(run_id).exit_code == 0
        events = [json.loads(r["body"])["event"] for r in server.requests]
        assert events == ["started", "succeeded"]  # started once, though fetch reads channels
        with pipeline.store.session() as s:
            sent = s.query(Notification).filter_by(run_id=run_id).order_by(Notification.id)
            assert [(n.event, n.ok) for n in sent] == [(event, True) for event in events]
        promote = pipeline.store.stage(run_id, "promote")
        assert promote is not None and promote.result["tracking"] is None
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_runs_stages_share_one_runtime_which_is_closed_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What one stage starts ahead (the baseline's stage prepares trial 1) is the next stage's
    to use; what nobody used goes with the run, not with the process."""

    class Closing(ScriptedRuntime):
        name = "local"
        closed = 0

        def close(self) -> None:
            self.closed += 1

    made: list[Closing] = []

    def get_runtime(name: str) -> Closing:
        made.append(Closing(lambda _trial: accuracy(0.5)))
        return made[-1]

    monkeypatch.setattr("trainchain.runtimes.get_runtime", get_runtime)
    pipeline = Pipeline(Store(), listeners=[])
    run_id = pipeline.create_run(str(_project(tmp_path, f"target: 0.9\nmax_trials: 2\n{SPACE}")))
    assert pipeline.execute(run_id).exit_code == 3
    assert len(made) == 1 and len(made[0].started) == 2  # baseline and trial 1: one runtime
    assert made[0].closed == 1
