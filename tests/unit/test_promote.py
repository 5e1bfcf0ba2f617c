import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.unit.test_store import store as any_store  # noqa: F401 - SQLite and PostgreSQL

from trainchain.stages.promote import (
    CHAMPION,
    Candidate,
    PromoteResult,
    fingerprint,
    promote,
    register,
)
from trainchain.store import Run, Store


def make(
    tmp_path: Path, store: Store, value: float, metric: str = "accuracy", trial: int = 0
) -> Candidate:
    with store.session() as s:
        run = Run(source="/src", name="m")
        s.add(run)
        s.flush()
        run_id = run.id
    out = tmp_path / f"out-{run_id}"
    out.mkdir()
    (out / "model.keras").write_text("weights")
    (out / "events-1.jsonl").write_text("{}")
    return Candidate(
        run_id=run_id,
        trial=trial,
        value=value,
        metric_name=metric,
        goal="maximize",
        params={"lr": 0.1},
        metrics={},
        curves=[],
        model_path=str(out / "model.keras"),
        output_dir=out,
        commit="abc",
        branch="main",
        profile="keras",
        data={},
    )


def test_champion_moves_only_when_beaten(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    root = tmp_path / "models"
    first = register(store, "m", make(tmp_path, store, 0.8), root)
    assert (
        first.version == 1 and first.became_champion and Path(first.path).read_text() == "weights"
    )
    assert not (Path(first.path).parent / "events-1.jsonl").exists()
    worse = register(store, "m", make(tmp_path, store, 0.7), root)
    assert worse.version == 2 and not worse.became_champion and "stays" in worse.reason
    better = register(store, "m", make(tmp_path, store, 0.9), root)
    assert better.became_champion and store.aliases("m")[CHAMPION] == 3
    promote(store, "m", 2)
    assert store.aliases("m")[CHAMPION] == 2


def test_registering_the_same_trial_twice_is_idempotent(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    candidate = make(tmp_path, store, 0.8)
    a = register(store, "m", candidate, tmp_path / "models")
    b = register(store, "m", candidate, tmp_path / "models")
    assert a.version == b.version == 1 and len(store.model_versions("m")) == 1


def test_a_champion_on_another_metric_is_replaced(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    register(store, "m", make(tmp_path, store, 0.99, metric="f1"), tmp_path / "models")
    result = register(store, "m", make(tmp_path, store, 0.5), tmp_path / "models")
    assert result.became_champion and "another metric" in result.reason


def test_fingerprint_hashes_small_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("1")
    one = fingerprint({"d": str(data)})["d"]
    (data / "a.txt").write_text("2")
    two = fingerprint({"d": str(data)})["d"]
    assert one["files"] == 1 and one["bytes"] == 1 and one["sha256"] != two["sha256"]


@pytest.mark.usefixtures("any_store")
def test_concurrent_promotions_of_one_model_get_their_own_versions_and_files(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two runs of one model promoting at once (two branches, --workers-runs 2): the database
    hands out the versions, and each version's directory holds its own run's files."""
    store: Store = request.getfixturevalue("any_store")
    root = tmp_path / "models"
    rounds, writers = 4, 3
    candidates = []
    for i in range(rounds * writers):
        c = make(tmp_path, store, 0.5 + i / 100, trial=i)
        Path(c.model_path or "").write_text(f"weights of {c.run_id}")
        candidates.append(c)
    stores = [Store(store.url) for _ in range(writers)]  # one engine each, as separate processes
    results = []
    try:
        for r in range(rounds):
            barrier = threading.Barrier(writers)

            def promote_one(
                k: int, r: int = r, barrier: threading.Barrier = barrier
            ) -> PromoteResult:
                barrier.wait()
                return register(stores[k], "m", candidates[r * writers + k], root)

            with ThreadPoolExecutor(writers) as pool:
                results += list(pool.map(promote_one, range(writers)))
    finally:
        for s in stores:
            s.engine.dispose()
    versions = sorted(r.version for r in results)
    assert versions == list(range(1, rounds * writers + 1))
    rows = {v.version: v for v in store.model_versions("m")}
    for result in results:
        assert Path(result.path).read_text() == f"weights of {rows[result.version].run_id}"
    assert not list(root.joinpath("m").glob(".incoming-*"))
    best = max(results, key=lambda r: rows[r.version].value)
    assert store.aliases("m")[CHAMPION] == best.version  # no race let a worse one win
