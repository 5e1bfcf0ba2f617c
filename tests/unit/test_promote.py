from pathlib import Path

from trainchain.stages.promote import CHAMPION, Candidate, fingerprint, promote, register
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
