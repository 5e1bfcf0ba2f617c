"""The model registry for people: versions with what produced them, the champion's history,
two versions side by side, and the metric of a model's runs over its commits."""

from __future__ import annotations

from typing import Any

from trainchain.errors import NotFoundError, UsageError
from trainchain.server.charts import Series, num, xy_chart
from trainchain.states import RunStatus
from trainchain.store import ModelVersion, Run, Store
from trainchain.trials import metrics as M

FINISHED = (RunStatus.SUCCEEDED.value, RunStatus.TARGET_NOT_REACHED.value)


def model_summaries(store: Store) -> list[dict[str, Any]]:
    """One row per model: its latest version and its champion."""
    rows = []
    for name in store.model_names():
        versions, aliases = store.model_versions(name), store.aliases(name)
        champion = next((v for v in versions if v.version == aliases.get("champion")), None)
        rows.append(
            {"name": name, "versions": len(versions), "latest": versions[-1], "champion": champion}
        )
    return rows


def model_context(store: Store, name: str) -> dict[str, Any]:
    versions = _versions(store, name)
    aliases = store.aliases(name)
    runs = _runs(store, name)
    return {
        "name": name,
        "versions": [_version_row(v, aliases) for v in reversed(versions)],
        "aliases": aliases,
        "champions": champion_history(versions, runs, aliases),
        "curves": version_curves(versions),
        "commits": commit_history(store, runs, versions[-1].goal),
    }


def compare_context(store: Store, name: str, a: int, b: int) -> dict[str, Any]:
    versions = {v.version: v for v in _versions(store, name)}
    missing = [n for n in (a, b) if n not in versions]
    if missing:
        raise UsageError(
            f"model {name!r} has no version {missing[0]}; versions are "
            f"{', '.join(str(n) for n in sorted(versions))} (compare?a=N&b=M)"
        )
    left, right = versions[a], versions[b]
    aliases = store.aliases(name)
    params = sorted(set(left.params) | set(right.params))
    metrics = sorted(set(left.metrics) | set(right.metrics))
    return {
        "name": name,
        "a": _version_row(left, aliases),
        "b": _version_row(right, aliases),
        "params": [
            {
                "name": p,
                "a": left.params.get(p),
                "b": right.params.get(p),
                "differs": left.params.get(p) != right.params.get(p),
            }
            for p in params
        ],
        "metrics": [
            {"name": m, "a": left.metrics.get(m), "b": right.metrics.get(m)} for m in metrics
        ],
        "curves": version_curves([left, right]),
    }


def champion_history(
    versions: list[ModelVersion], runs: list[Run], aliases: dict[str, int]
) -> list[dict[str, Any]]:
    """Each version that took the ``champion`` alias when it was registered, newest first."""
    by_run = {r.id: r for r in runs}
    history, previous = [], None
    for v in versions:
        run = by_run.get(v.run_id)
        if run is None or not run.became_champion or run.model_version != v.version:
            continue
        history.append(
            {
                "version": v.version,
                "value": v.value,
                "metric": v.metric_name,
                "at": _iso(v.created_at),
                "replaced": previous,
                "commit": v.commit,
            }
        )
        previous = v.version
    current = aliases.get("champion")
    if current is not None and (not history or history[-1]["version"] != current):
        history.append(
            {
                "version": current,
                "value": None,
                "metric": None,
                "at": None,
                "replaced": previous,
                "commit": None,
                "by_hand": True,
            }
        )
    return list(reversed(history))


def version_curves(versions: list[ModelVersion]) -> dict[str, Any]:
    """The epoch curve that produced each version, on one chart."""
    series, names = [], set()
    for i, v in enumerate(versions):
        latest: dict[int, float] = {}
        for row in v.curves or []:
            hit = M.epoch_metric(row.get("metrics") or {}, v.metric_name)
            if hit is not None:
                names.add(hit[0])
                latest[int(row["epoch"])] = hit[1]
        points = [(e, y, f"v{v.version} epoch {e}: {num(y)}") for e, y in sorted(latest.items())]
        if points:
            series.append(
                Series(
                    f"v{v.version}", f"curve series-{i % 4}", points, data={"version": v.version}
                )
            )
    label = names.pop() if len(names) == 1 else "metric"
    chart = xy_chart(series, x_label="epoch", y_label=label)
    chart["legend"] = [{"label": s.name, "css": s.css} for s in series]
    return chart


def commit_history(store: Store, runs: list[Run], goal: str) -> dict[str, Any]:
    """Best metric of each finished run of the model, in the order they ran, by commit."""
    finished = [r for r in runs if r.status in FINISHED and r.metric_name]
    points, names = [], {}
    for i, run in enumerate(finished, start=1):
        best = M.best_trial(store.trials(run.id), run.metric_name, goal)
        if best is None or best.value is None:
            continue
        commit = run.commit[:8] if run.commit else run.ref or "working tree"
        names[i] = commit
        points.append(
            (i, best.value, f"run {run.id} at {commit}: {run.metric_name} {num(best.value)}")
        )
    metric = finished[-1].metric_name if finished else "metric"
    chart = xy_chart(
        [Series("best per run", "commit-line", points)],
        x_label="commit (oldest first)",
        y_label=metric or "metric",
        x_names=names,
    )
    chart["runs"] = [
        {"id": r.id, "commit": r.commit, "status": r.status, "created_at": _iso(r.created_at)}
        for r in finished
    ]
    return chart


def _versions(store: Store, name: str) -> list[ModelVersion]:
    versions = store.model_versions(name)
    if not versions:
        raise NotFoundError(f"no model {name!r} in the registry; the models page lists them")
    return versions


def _runs(store: Store, name: str) -> list[Run]:
    return store.runs_of_model(name)


def _version_row(v: ModelVersion, aliases: dict[str, int]) -> dict[str, Any]:
    return {
        "version": v.version,
        "aliases": sorted(a for a, n in aliases.items() if n == v.version),
        "metric": v.metric_name,
        "goal": v.goal,
        "value": v.value,
        "commit": v.commit,
        "branch": v.branch,
        "profile": v.profile,
        "run_id": v.run_id,
        "trial": v.trial,
        "params": dict(v.params),
        "metrics": dict(v.metrics),
        "data": fingerprint_rows(v.data_fingerprint or {}),
        "created_at": _iso(v.created_at),
    }


def fingerprint_rows(fingerprint: dict[str, Any]) -> list[dict[str, Any]]:
    """``--data`` fingerprints for people: name, files, size, the start of the hash."""
    rows = []
    for name, entry in sorted(fingerprint.items()):
        size = entry.get("bytes")
        rows.append(
            {
                "name": name,
                "files": entry.get("files"),
                "size": f"{size / 1e6:.1f} MB" if isinstance(size, int | float) else "–",
                "sha256": (entry.get("sha256") or "")[:12] or "by size and date",
                "path": entry.get("path"),
            }
        )
    return rows


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None
