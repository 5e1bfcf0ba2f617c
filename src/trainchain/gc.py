"""Retention of runs' files: old runs' work trees and logs go, a champion's never.

``trainchain gc`` removes the directory of every run (its source snapshot, trial work trees,
outputs and logs) that is not among the newest ``keep_runs``, is older than ``older_than``
days, has ended, and did not produce a model that is a champion. Database records and registry
files stay. The count is the one retention setting, ``TRAINCHAIN_KEEP_RUNS``, that also bounds
virtualenvs and images; the server runs this after each run when it is set.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from trainchain import paths
from trainchain.retention import DEFAULT_KEEP_RUNS, keep_runs_setting

__all__ = ["DEFAULT_KEEP_RUNS", "GcReport", "auto_collect", "collect", "keep_runs_setting"]
from trainchain.states import LIVE_RUN_STATUSES
from trainchain.store import Store

log = logging.getLogger(__name__)


@dataclass
class GcReport:
    removed: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # run id -> why
    freed: int = 0


def collect(
    store: Store, keep_runs: int, older_than_days: float = 0.0, dry_run: bool = False
) -> GcReport:
    """Remove (or with ``dry_run`` only list) the run directories retention lets go."""
    report = GcReport()
    champions = store.runs_with_aliased_models()
    cutoff = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=older_than_days)
    runs = store.runs()
    for n, run in enumerate(runs):
        directory = paths.run_dir(run.id, paths.storage_of(run.options))
        if not directory.exists():
            continue
        why = (
            "among the newest runs"
            if n < keep_runs
            else "queued or running"
            if run.status in LIVE_RUN_STATUSES
            else "made a model with an alias (champion)"
            if run.id in champions
            else "younger than the age limit"
            if run.created_at > cutoff
            else ""
        )
        if why:
            report.kept[run.id] = why
            continue
        report.freed += _size(directory)
        report.removed.append(run.id)
        if not dry_run:
            shutil.rmtree(directory, ignore_errors=True)
    return report


def auto_collect(store: Store) -> GcReport | None:
    """After a run on the server, when ``TRAINCHAIN_KEEP_RUNS`` is set; never raises."""
    try:
        keep = keep_runs_setting()
        if keep is None:
            return None
        report = collect(store, keep)
    except Exception as exc:  # noqa: BLE001 - retention must not fail a run
        log.warning("run retention failed: %s", exc)
        return None
    if report.removed:
        log.info("retention: removed the files of %d old run(s)", len(report.removed))
    return report


def _size(directory: Path) -> int:
    total = 0
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total
