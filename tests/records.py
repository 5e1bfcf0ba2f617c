"""Store rows for tests: a recorded run, registry rows for models not trained here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainchain.store import ModelAlias, ModelVersion, Run, Store


def new_run(tmp_path: Path) -> tuple[Store, str]:
    """A SQLite store in ``tmp_path`` holding one recorded run; (store, run id)."""
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    with store.session() as s:
        run = Run(source="/src", name="m")
        s.add(run)
        s.flush()
        run_id = run.id
    return store, run_id


def add_versions(
    store: Store,
    name: str,
    run_id: str,
    values: dict[int, float],
    champion: int | None = None,
    **fields: Callable[[int], Any],
) -> None:
    """Versions ``{version: value}`` of model ``name`` from run ``run_id`` (trial = version),
    and the champion alias on ``champion``; ``fields``: more columns, from the version."""
    with store.session() as s:
        for version, value in values.items():
            s.add(
                ModelVersion(
                    name=name,
                    version=version,
                    run_id=run_id,
                    trial=version,
                    path="/m",
                    metric_name="val_accuracy",
                    goal="maximize",
                    value=value,
                    **{k: f(version) for k, f in fields.items()},
                )
            )
        if champion is not None:
            s.add(ModelAlias(name=name, alias="champion", version=champion))
