"""Retention (docs/security.md, "Limits"): `trainchain gc` removes old runs' files by count
and age, never those of a champion or of a live run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.cli import trainchain
from tests.records import add_versions

from trainchain import paths
from trainchain.store import Run, Store


def make_run(store: Store, days_old: float, status: str = "succeeded") -> str:
    created = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days_old)
    with store.session() as s:
        run = Run(source="https://example.org/a/b.git", name="b", status=status, created_at=created)
        s.add(run)
        s.flush()
        run_id = run.id
    log = paths.runs_dir() / run_id / "trials" / "000" / "attempt-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("Epoch 1/1\n" * 1000)
    return run_id


def test_gc_prunes_old_runs_by_count_and_age_but_never_a_champion(trainchain_home: Path) -> None:
    store = Store()
    champion = make_run(store, 30)
    add_versions(store, "b", champion, {1: 0.9}, champion=1)
    old = [make_run(store, 20 + n) for n in range(3)]
    running = make_run(store, 25, status="running")
    recent = [make_run(store, 0.1 * n) for n in range(2)]
    young_but_many = make_run(store, 1)

    dry = trainchain("gc", "--keep-runs", "2", "--dry-run")
    assert dry.returncode == 0 and "would remove the files of 4 run(s)" in dry.stdout
    assert all((paths.runs_dir() / r).exists() for r in old)

    done = trainchain("gc", "--keep-runs", "2", "--older-than", "7")
    assert done.returncode == 0, done.stderr
    gone = {
        r
        for r in [champion, *old, running, *recent, young_but_many]
        if not (paths.runs_dir() / r).exists()
    }
    assert gone == set(old)
    assert store.get_run(old[0]).status == "succeeded"  # the record stays
