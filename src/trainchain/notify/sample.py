"""The synthetic run report that `trainchain notify test` sends, clearly marked as a test.

It looks like a real tuned run (a baseline, a few trials, a champion model) so every part of
every channel is exercised: facts, best parameters, the chart and the commit status.
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

from trainchain.notify.message import TEST_RUN_PREFIX
from trainchain.report import MetricSpec, ModelReport, RunReport, TrialReport

_VALUES = [
    (0.842, 5, 1e-3),
    (0.871, 8, 1e-3),
    (0.865, 8, 3e-3),
    (0.902, 12, 5e-4),
    (0.917, 15, 5e-4),
]


def git_facts(path: Path) -> tuple[str, str | None, str | None]:
    """(source, commit, branch) of the checkout at ``path``; the path itself when not git."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(path), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() or None if done.returncode == 0 else None

    source = git("remote", "get-url", "origin") or str(path.resolve())
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    return source, git("rev-parse", "HEAD"), None if branch == "HEAD" else branch


def sample_report(
    source: str, commit: str | None = None, branch: str | None = None, event: str = "succeeded"
) -> RunReport:
    """A finished-looking run; ``event`` chooses succeeded, target_not_reached or failed."""
    target = 0.9 if event != "target_not_reached" else 0.95
    trials = [
        TrialReport(n, "complete", v, {"epochs": e, "learning_rate": lr}, metric_source="keras")
        for n, (v, e, lr) in enumerate(_VALUES)
    ]
    trials.insert(3, TrialReport(3, "pruned", 0.61, {"epochs": 3, "learning_rate": 1e-2}))
    for number, trial in enumerate(trials):
        trial.number = number
    best = trials[-1]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    status = {"started": "running"}.get(event, event)
    return RunReport(
        run_id=f"{TEST_RUN_PREFIX}{uuid.uuid4().hex[:8]}",
        status=status,
        source=source,
        commit=commit,
        branch=branch,
        profile="keras",
        metric=MetricSpec("val_accuracy", "maximize", target),
        baseline={"value": trials[0].value, "params": trials[0].params},
        best={"trial": best.number, "value": best.value, "params": best.params},
        trials=trials,
        model=ModelReport("notify-test", 3, ["champion"], "/dev/null"),
        error="test failure: the train stage stopped (this is a test)"
        if event == "failed"
        else None,
        failed_stage="train" if event == "failed" else None,
        became_champion=event == "succeeded",
        started_at=now,
        ended_at=None if event == "started" else now,
    )
