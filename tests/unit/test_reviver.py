"""The reviver asks each run's runtime whether its attempts still run (``Runtime.is_alive``):
a run without a controller lock is orphaned only when its runtime says an attempt is gone."""

from __future__ import annotations

from pathlib import Path

from tests.contract.helpers import trial_spec
from tests.fake_runtime import Act, ScriptedRuntime

from trainchain import paths
from trainchain.reviver import LOCK_NAME, Resumer, find_orphans
from trainchain.runtimes.base import Environment
from trainchain.states import OutcomeKind
from trainchain.store import Attempt, Run, Store, Trial


def _running(store: Store, run_id: str, runtime: str, process_id: str) -> None:
    with store.session() as s:
        s.add(Run(id=run_id, name="m", source="x", status="running",
                  environment={"runtime": runtime}))  # fmt: skip
        trial = Trial(run_id=run_id, number=0)
        s.add(trial)
        s.flush()
        s.add(Attempt(trial_id=trial.id, number=1, process_id=process_id))


def test_only_runs_whose_runtime_says_gone_are_orphans(tmp_path: Path) -> None:
    store = Store()
    runtime = ScriptedRuntime(lambda _trial: Act(ends=None))
    alive = runtime.start(Environment("fake", "k"), trial_spec(tmp_path, tmp_path, run_id="up"))
    _running(store, "up", "fake", alive.id)
    _running(store, "down", "fake", "fake-404")  # the runtime knows no such attempt
    _running(store, "elsewhere", "docker", "c0ffee")  # no docker runtime given: no evidence
    try:
        orphans = find_orphans(store, {"fake": runtime}, grace=0.1)
        assert [o.run_id for o in orphans] == ["down"]
        assert "process gone" in orphans[0].reason
        alive.kill(OutcomeKind.STOPPED, "its controller is gone too")
        orphans = find_orphans(store, {"fake": runtime}, grace=0)
        assert sorted(o.run_id for o in orphans) == ["down", "up"]
    finally:
        alive.kill(OutcomeKind.STOPPED, "end of test")


def test_a_run_on_its_own_storage_is_found_and_resumed_there(tmp_path: Path) -> None:
    """The controller lock and the resume's log live in the run's directory under its own
    ``storage:`` (an operator setting), not under the default runs directory."""
    store = Store()
    shared = tmp_path / "shared"
    with store.session() as s:
        s.add(Run(id="far", name="m", source="x", status="running",
                  options={"storage": str(shared)}))  # fmt: skip
    directory = shared / "runs" / "far"
    directory.mkdir(parents=True)
    (directory / LOCK_NAME).write_text("")  # a lock file no process holds: its controller died
    [orphan] = find_orphans(store, {}, grace=0)
    assert orphan.directory == directory
    resumer = Resumer()
    assert resumer.resume(orphan)
    resumer.wait(120)
    assert (directory / "revive-resume-1.log").is_file()
    assert not (paths.runs_dir() / "far").exists()
