"""MLflow export against a real MLflow SQLite backend with a file artifact store in tmp."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from tests.services import require

from trainchain.errors import ConfigError, StoreError
from trainchain.store import EpochMetric, ModelAlias, ModelVersion, Run, Store, Trial
from trainchain.tracking import TrackingConfig, TrackingError, export_run

# MLflow's SQL store maps relationships with lazy="noload", deprecated in SQLAlchemy 2.1 (their
# code, not ours); the lead may move this filter into pyproject.toml.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")

T0 = dt.datetime(2026, 1, 2, 3, 4, 5)
LONG = "x" * 7000
Setup = tuple[Store, str, TrackingConfig, Path]  # store, run id, config, tmp folder


@pytest.fixture(autouse=True)
def _needs_mlflow() -> None:
    require(
        importlib.util.find_spec("mlflow") is not None,
        "mlflow-skinny is not installed (pip install 'trainchain[mlflow]')",
    )


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _trial(
    run_id: str,
    number: int,
    state: str,
    value: float | None,
    params: dict[str, Any],
    metrics: dict[str, Any],
    epochs: list[tuple[int, int, dict[str, float]]],
) -> Trial:
    trial = Trial(
        run_id=run_id,
        number=number,
        state=state,
        value=value,
        params=params,
        metric_name="val_accuracy",
        metric_source="keras-callback",
        metrics=metrics,
        started_at=_at(number * 10),
        ended_at=_at(number * 10 + 9),
    )
    trial.epochs = [
        EpochMetric(attempt=a, epoch=e, metrics=m, at=_at(number * 10 + e + a / 10))
        for a, e, m in epochs
    ]
    return trial


def add_run(store: Store, models: Path, version: int, value: float, champion: int) -> str:
    """A finished run of 'digits': 3 trials (one restarted, one pruned), its version, the alias."""
    with store.session() as s:
        run = Run(
            name="digits",
            source="/repo",
            commit=f"c0ffee{version}",
            branch="main",
            profile="keras",
            metric_name="val_accuracy",
            status="succeeded",
        )
        s.add(run)
        s.flush()
        run.trials = [
            _trial(
                run.id,
                0,
                "complete",
                0.7,
                {"epochs": 2, "lr": 0.01},
                {"val_accuracy": 0.7},
                [
                    (1, 1, {"val_accuracy": 0.5, "loss": 1.2}),
                    (1, 2, {"val_accuracy": 0.7, "loss": 0.9}),
                ],
            ),
            # restarted after epoch 2: attempt 2 redoes epoch 2, which must win over attempt 1
            _trial(
                run.id,
                1,
                "complete",
                value,
                {"epochs": 3, "lr": 0.003, "arch": {"width": 2.0}, "dropout": True, "note": LONG},
                {"val_accuracy": value, "test_accuracy": 0.91},
                [
                    (1, 1, {"val_accuracy": 0.6}),
                    (1, 2, {"val_accuracy": 0.1}),
                    (2, 2, {"val_accuracy": 0.8}),
                    (2, 3, {"val_accuracy": value}),
                ],
            ),
            _trial(
                run.id,
                2,
                "pruned",
                None,
                {"epochs": 9, "lr": 0.5},
                {},
                [(1, 1, {"val_accuracy": 0.2})],
            ),
        ]
        folder = models / "digits" / str(version)
        folder.mkdir(parents=True)
        (folder / "model.keras").write_bytes(b"weights-" + str(version).encode())
        (folder / "info.json").write_text('{"summary": "ok"}')
        s.add(
            ModelVersion(
                name="digits",
                version=version,
                run_id=run.id,
                trial=1,
                path=str(folder / "model.keras"),
                metric_name="val_accuracy",
                goal="maximize",
                value=value,
            )
        )
        run_id = run.id
    with store.session() as s:
        s.query(ModelAlias).filter_by(name="digits", alias="champion").delete()
    store.set_alias("digits", "champion", champion)
    return run_id


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MLflow's schema migrations take ~10 s; run them once and copy the file per test."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture()
def setup(tmp_path: Path, empty_mlflow_db: Path) -> Setup:
    store = Store(f"sqlite:///{tmp_path / 'trainchain.db'}")
    run_id = add_run(store, tmp_path / "models", version=1, value=0.93, champion=1)
    (tmp_path / "mlflow").mkdir()
    shutil.copyfile(empty_mlflow_db, tmp_path / "mlflow" / "mlflow.db")
    config = TrackingConfig(mlflow_uri=f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    return store, run_id, config, tmp_path


def _client(config: TrackingConfig) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=config.mlflow_uri, registry_uri=config.mlflow_uri)


def _runs(client: Any, experiment_id: str) -> dict[str, Any]:
    return {r.info.run_name: r for r in client.search_runs([experiment_id])}


def _history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_trials_become_runs_with_params_metrics_and_state(setup: Setup) -> None:
    store, run_id, config, tmp = setup
    result = export_run(store, run_id, config)

    client = _client(config)
    assert result.experiment == "digits" and sorted(result.created_runs) == [0, 1, 2]
    runs = _runs(client, result.experiment_id)
    assert sorted(runs) == ["trial-0", "trial-1", "trial-2"]
    best = runs["trial-1"]
    assert best.info.run_id == result.runs[1]
    assert best.data.tags["trainchain.run"] == run_id and best.data.tags["trainchain.trial"] == "1"
    assert best.data.tags["trainchain.commit"] == "c0ffee1"
    assert best.data.tags["trainchain.profile"] == "keras"
    assert best.data.tags["mlflow.source.git.commit"] == "c0ffee1"
    assert best.data.params["epochs"] == "3" and best.data.params["lr"] == "0.003"
    assert best.data.params["arch"] == '{"width": 2.0}' and best.data.params["dropout"] == "True"
    assert best.data.params["note"] == "x" * 6000
    # step = epoch; epoch 2 comes from the restarted attempt; the final value ends the curve
    assert _history(client, best.info.run_id, "val_accuracy") == [(1, 0.6), (2, 0.8), (3, 0.93)]
    assert _history(client, best.info.run_id, "test_accuracy") == [(3, 0.91)]
    assert _history(client, runs["trial-0"].info.run_id, "loss") == [(1, 1.2), (2, 0.9)]
    assert best.data.metrics["val_accuracy"] == 0.93
    assert [runs[f"trial-{n}"].info.status for n in range(3)] == ["FINISHED", "FINISHED", "KILLED"]
    assert runs["trial-2"].data.tags["trainchain.state"] == "pruned"
    assert best.info.start_time == int(_at(10).replace(tzinfo=dt.UTC).timestamp() * 1000)
    # artifacts land beside the SQLite file, not in the working directory's ./mlruns
    assert best.info.artifact_uri.startswith((tmp / "mlflow" / "mlartifacts").as_uri())


def test_best_model_is_registered_with_artifacts_and_champion(setup: Setup) -> None:
    store, run_id, config, tmp = setup
    result = export_run(store, run_id, config)

    client = _client(config)
    assert (result.registered_model, result.model_version) == ("digits", "1")
    assert result.model_version_created and result.champion
    version = client.get_model_version("digits", "1")
    assert version.run_id == result.runs[1] and version.tags["trainchain.version"] == "1"
    assert str(client.get_model_version_by_alias("digits", "champion").version) == "1"
    names = sorted(Path(f.path).name for f in client.list_artifacts(result.runs[1], "model"))
    assert names == ["info.json", "model.keras"]
    local = Path(client.download_artifacts(result.runs[1], "model", str(tmp / "download")))
    assert (local / "model.keras").read_bytes() == b"weights-1"
    assert client.list_artifacts(result.runs[0]) == []  # only the best trial carries the model


def test_export_twice_creates_nothing_new(setup: Setup) -> None:
    store, run_id, config, _ = setup
    first = export_run(store, run_id, config)
    second = export_run(store, run_id, config)

    client = _client(config)
    assert second.runs == first.runs and second.created_runs == []
    assert second.model_version == "1" and not second.model_version_created
    assert len(client.search_runs([first.experiment_id])) == 3
    assert _history(client, first.runs[1], "val_accuracy") == [(1, 0.6), (2, 0.8), (3, 0.93)]
    assert len(client.search_model_versions("name = 'digits'")) == 1
    assert len(client.list_artifacts(first.runs[1], "model")) == 2


def test_a_trial_finished_after_export_is_completed_on_the_next_export(
    setup: Setup,
) -> None:
    store, run_id, config, _ = setup
    trial = store.trial(run_id, 2)
    assert trial is not None
    store.update_trial(trial.id, state="running")
    first = export_run(store, run_id, config)
    client = _client(config)
    assert client.get_run(first.runs[2]).info.status == "RUNNING"

    with store.session() as s:
        s.add(
            EpochMetric(
                trial_id=trial.id, attempt=1, epoch=2, metrics={"val_accuracy": 0.3}, at=_at(25)
            )
        )
    store.update_trial(trial.id, state="pruned")
    second = export_run(store, run_id, config)
    assert second.runs[2] == first.runs[2] and second.created_runs == []
    assert client.get_run(first.runs[2]).info.status == "KILLED"
    assert client.get_run(first.runs[2]).data.tags["trainchain.state"] == "pruned"
    assert _history(client, first.runs[2], "val_accuracy") == [(1, 0.2), (2, 0.3)]


def test_champion_alias_follows_trainchain(setup: Setup) -> None:
    store, run_id, config, tmp = setup
    export_run(store, run_id, config)
    # a weaker second run: registered as v2 in both registries, champion stays on v1
    weaker = add_run(store, tmp / "models", version=2, value=0.85, champion=1)
    result = export_run(store, weaker, config)
    client = _client(config)
    assert result.model_version == "2" and not result.champion
    assert str(client.get_model_version_by_alias("digits", "champion").version) == "1"
    assert len(_runs(client, result.experiment_id)) == 3  # kept apart by tag
    assert len(client.search_runs([result.experiment_id], run_view_type=3)) == 6

    store.set_alias("digits", "champion", 2)  # `trainchain models promote digits 2`
    again = export_run(store, weaker, config)
    assert again.champion and not again.model_version_created
    assert str(client.get_model_version_by_alias("digits", "champion").version) == "2"


def test_names_come_from_the_config(setup: Setup) -> None:
    store, run_id, config, tmp = setup
    named = TrackingConfig(
        mlflow_uri=config.mlflow_uri,
        experiment="ci-digits",
        registered_model="digits-prod",
        artifact_location=(tmp / "art").as_uri(),
    )
    result = export_run(store, run_id, named)
    client = _client(config)
    assert client.get_experiment(result.experiment_id).name == "ci-digits"
    assert client.get_experiment(result.experiment_id).artifact_location == (tmp / "art").as_uri()
    assert client.get_model_version_by_alias("digits-prod", "champion").run_id == result.runs[1]
    assert (tmp / "art").is_dir()


def test_config_is_strict_and_frozen() -> None:
    with pytest.raises(ValidationError, match="mlflow_url"):
        TrackingConfig.model_validate({"mlflow_url": "sqlite:///x.db"})
    config = TrackingConfig()
    assert not config.enabled and TrackingConfig(mlflow_uri="sqlite:///x.db").enabled
    with pytest.raises(ValidationError):
        config.experiment = "x"  # type: ignore[misc]
    assert all(f.description for f in TrackingConfig.model_fields.values())


def test_unset_uri_is_a_config_error(setup: Setup) -> None:
    store, run_id, _, _ = setup
    with pytest.raises(ConfigError, match="tracking.mlflow_uri is not set"):
        export_run(store, run_id, TrackingConfig())


def test_missing_mlflow_names_the_install_command(
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, run_id, config, _ = setup
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow...` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'trainchain\[mlflow\]'"):
        export_run(store, run_id, config)


def test_unsupported_uri_is_a_config_error(setup: Setup) -> None:
    store, run_id, _, _ = setup
    with pytest.raises(ConfigError, match="bogus://nowhere"):
        export_run(store, run_id, TrackingConfig(mlflow_uri="bogus://nowhere"))


def test_a_file_that_is_not_a_database_is_a_store_error(setup: Setup) -> None:
    store, run_id, _, tmp = setup
    bad = tmp / "notes.db"
    bad.write_text("not a database")
    expected = r"notes\.db.*file is not a database.*tracking.mlflow_uri"
    with pytest.raises(TrackingError, match=expected) as info:
        export_run(store, run_id, TrackingConfig(mlflow_uri=f"sqlite:///{bad}"))
    assert isinstance(info.value, StoreError) and info.value.__cause__ is not None


def test_missing_model_files_are_named(setup: Setup) -> None:
    store, run_id, config, tmp = setup
    for f in (tmp / "models" / "digits" / "1").iterdir():
        f.unlink()
    (tmp / "models" / "digits" / "1").rmdir()
    with pytest.raises(TrackingError, match=r"model digits v1 are missing: .*/1 does not exist"):
        export_run(store, run_id, config)


def test_a_run_without_a_registered_model_exports_only_its_trials(setup: Setup) -> None:
    store, run_id, config, _ = setup
    with store.session() as s:
        s.query(ModelVersion).filter_by(run_id=run_id).delete()
    result = export_run(store, run_id, config)
    assert len(result.runs) == 3
    assert (result.registered_model, result.model_version, result.champion) == (None, None, False)
    assert _client(config).search_registered_models() == []
