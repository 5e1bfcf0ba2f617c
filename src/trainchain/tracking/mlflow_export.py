"""Export one trainchain run to MLflow: a run per trial, the best model as a registered version.

MLflow is optional (``pip install 'trainchain[mlflow]'``) and imported only inside
``export_run``. The export is idempotent: runs are found again by their ``trainchain.run`` and
``trainchain.trial`` tags, metric points and params already present are not written twice, and
the model version is found by its MLflow run, so exporting a run again creates nothing new.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from trainchain.errors import ConfigError
from trainchain.tracking.config import TrackingConfig
from trainchain.tracking.errors import TrackingError
from trainchain.tracking.records import TrialRecord, trial_record

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from trainchain.store import ModelVersion, Run, Store

log = logging.getLogger(__name__)

CHAMPION = "champion"  # the alias trainchain's promote stage moves
ARTIFACT_PATH = "model"  # where the best trial's model files go inside its MLflow run
INSTALL_HINT = "pip install 'trainchain[mlflow]'"
_PARAMS_PER_BATCH = 100  # MLflow's MAX_PARAMS_TAGS_PER_BATCH
_METRICS_PER_BATCH = 1000  # MLflow's MAX_METRICS_PER_BATCH


@dataclass(frozen=True)
class ExportResult:
    """What the export wrote (or found already written) in MLflow."""

    tracking_uri: str  # password hidden
    experiment_id: str
    experiment: str
    runs: dict[int, str]  # trial number -> MLflow run id
    created_runs: list[int]  # trials whose MLflow run this call created
    registered_model: str | None
    model_version: str | None  # MLflow version of the best trial's model
    model_version_created: bool
    champion: bool  # the MLflow `champion` alias points at model_version

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_run(store: Store, run_id: str, config: TrackingConfig) -> ExportResult:
    """Write run ``run_id``'s trials, and its registered model version, to ``config.mlflow_uri``."""
    if not config.mlflow_uri:
        raise ConfigError(
            "tracking.mlflow_uri is not set in trainchain.yaml; set it to an MLflow "
            "URI such as sqlite:////srv/mlflow.db to export runs to MLflow"
        )
    client = _client(config.mlflow_uri)
    run = store.get_run(run_id)
    trials = store.trials(run.id)
    version = next((v for v in store.model_versions(run.name) if v.run_id == run.id), None)
    champion = store.aliases(run.name).get(CHAMPION)
    exporter = _Exporter(client, config, run)
    with exporter.edge("open the experiment"):
        experiment_id, experiment = exporter.experiment()
    with exporter.edge("find earlier exports"):
        existing = exporter.existing_runs(experiment_id)
    runs: dict[int, str] = {}
    created: list[int] = []
    for trial in trials:
        record = trial_record(run, trial)
        with exporter.edge(f"export trial {trial.number}"):
            runs[trial.number], new = exporter.write_run(
                experiment_id, record, existing.get(trial.number)
            )
        if new:
            created.append(trial.number)
    name, mlflow_version, made, is_champion = None, None, False, False
    if version is not None and version.trial in runs:
        name = config.registered_model or run.name
        with exporter.edge(f"register {name} from trial {version.trial}"):
            mlflow_version, made = exporter.register(name, runs[version.trial], version)
            is_champion = champion == version.version
            if is_champion:
                client.set_registered_model_alias(name, CHAMPION, mlflow_version)
    result = ExportResult(
        _safe_uri(config.mlflow_uri),
        experiment_id,
        experiment,
        runs,
        created,
        name,
        mlflow_version,
        made,
        is_champion,
    )
    log.info(
        "exported run %s to MLflow %s: experiment %s, %d runs (%d new), model version %s",
        run.id,
        result.tracking_uri,
        experiment,
        len(runs),
        len(created),
        result.model_version,
    )
    return result


def _client(uri: str) -> MlflowClient:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise ConfigError(
            f"tracking.mlflow_uri is set ({_safe_uri(uri)}) but MLflow is not installed "
            f"({exc}); run `{INSTALL_HINT}` or remove tracking.mlflow_uri from trainchain.yaml"
        ) from exc
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:  # a SQL backend is opened (and migrated) here already
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    except MlflowException as exc:
        raise ConfigError(
            f"tracking.mlflow_uri {_safe_uri(uri)!r} is not a URI MLflow can use ({exc.message}); "
            f"set it to e.g. sqlite:////abs/path/mlflow.db or http://host:5000"
        ) from exc
    except SQLAlchemyError as exc:
        raise TrackingError(
            f"cannot open the MLflow database {_safe_uri(uri)}: {str(exc).splitlines()[0]}; check "
            f"that tracking.mlflow_uri names an MLflow database (a new file is made on first use)"
        ) from exc


class _Exporter:
    """The MLflow calls, each behind ``edge`` so MLflow's errors become trainchain errors."""

    def __init__(self, client: MlflowClient, config: TrackingConfig, run: Run) -> None:
        assert config.mlflow_uri is not None
        self.client, self.config, self.run = client, config, run
        self.uri = config.mlflow_uri

    @contextlib.contextmanager
    def edge(self, step: str) -> Iterator[None]:
        from mlflow.exceptions import MlflowException
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except MlflowException as exc:
            raise TrackingError(
                f"MLflow export of run {self.run.id} to {_safe_uri(self.uri)} failed to {step}: "
                f"{exc.error_code}: {exc.message}; check tracking.mlflow_uri in trainchain.yaml "
                f"and that the MLflow backend is reachable, then run the export again"
            ) from exc
        except SQLAlchemyError as exc:  # MLflow's SQL backends let these through unwrapped
            raise TrackingError(
                f"MLflow export of run {self.run.id} to {_safe_uri(self.uri)} failed to {step}: "
                f"{str(exc).splitlines()[0]}; check that tracking.mlflow_uri names an MLflow "
                f"database (a new file is created on first use), then run the export again"
            ) from exc
        except OSError as exc:  # artifact copies that cannot be written
            raise TrackingError(
                f"MLflow export of run {self.run.id} to {_safe_uri(self.uri)} failed to {step}: "
                f"{exc}; check the path and its permissions, then run the export again"
            ) from exc

    def experiment(self) -> tuple[str, str]:
        from mlflow.exceptions import MlflowException

        name = self.config.experiment or self.run.name
        found = self.client.get_experiment_by_name(name)
        if found is None:
            try:
                exp_id = self.client.create_experiment(
                    name,
                    artifact_location=self._artifact_location(),
                    tags={"trainchain.model": self.run.name},
                )
                log.info("created MLflow experiment %r (%s)", name, exp_id)
                return exp_id, name
            except MlflowException as exc:  # another exporter created it first
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                found = self.client.get_experiment_by_name(name)
                assert found is not None
        if found.lifecycle_stage != "active":
            raise ConfigError(
                f"MLflow experiment {name!r} at {_safe_uri(self.uri)} is deleted; restore it "
                f"(`mlflow experiments restore --experiment-id {found.experiment_id}`) or set "
                f"another tracking.experiment in trainchain.yaml"
            )
        return str(found.experiment_id), name

    def existing_runs(self, experiment_id: str) -> dict[int, str]:
        """Trial number -> MLflow run id of this trainchain run's earlier export."""
        out: dict[int, str] = {}
        token: str | None = None
        while True:
            page = self.client.search_runs(
                [experiment_id],
                filter_string=f"tags.`trainchain.run` = '{self.run.id}'",
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            for found in page:
                trial = found.data.tags.get("trainchain.trial", "")
                if trial.isdigit():
                    # the oldest wins if someone duplicated a run by hand
                    out.setdefault(int(trial), found.info.run_id)
            token = page.token
            if not token:
                return out

    def write_run(
        self, experiment_id: str, record: TrialRecord, run_id: str | None
    ) -> tuple[str, bool]:
        """Create (or complete) the MLflow run of one trial; returns its id and if it is new."""
        from mlflow.entities import Metric, Param, RunTag

        new = run_id is None
        if run_id is None:
            run_id = self.client.create_run(
                experiment_id,
                start_time=record.start_ms,
                tags=record.tags,
                run_name=record.run_name,
            ).info.run_id
            logged_params: dict[str, str] = {}
            logged_points: set[tuple[str, int, float]] = set()
        else:
            data = self.client.get_run(run_id).data
            logged_params = dict(data.params)
            logged_points = {
                (p.key, p.step, p.value)
                for key in {m.key for m in record.metrics}
                for p in self.client.get_metric_history(run_id, key)
            }
        params = [Param(k, v) for k, v in record.params.items() if logged_params.get(k) != v]
        changed = [p.key for p in params if p.key in logged_params]
        if changed:  # MLflow params are immutable; a changed trial keeps its first export
            log.warning("MLflow run %s already has other values for %s; kept them", run_id, changed)
            params = [p for p in params if p.key not in logged_params]
        metrics = [
            Metric(p.key, p.value, p.timestamp, p.step)
            for p in record.metrics
            if (p.key, p.step, p.value) not in logged_points
        ]
        # a new run got its tags from create_run; an old one gets them again (state may have moved)
        tags = [] if new else [RunTag(k, v) for k, v in record.tags.items()]
        log_batch = self.client.log_batch
        for i in range(0, len(params), _PARAMS_PER_BATCH):
            log_batch(run_id, params=params[i : i + _PARAMS_PER_BATCH], synchronous=True)
        for i in range(0, len(metrics), _METRICS_PER_BATCH):
            log_batch(run_id, metrics=metrics[i : i + _METRICS_PER_BATCH], synchronous=True)
        for i in range(0, len(tags), _PARAMS_PER_BATCH):
            log_batch(run_id, tags=tags[i : i + _PARAMS_PER_BATCH], synchronous=True)
        if record.status != "RUNNING":
            self.client.set_terminated(run_id, status=record.status, end_time=record.end_ms)
        return run_id, new

    def register(self, name: str, mlflow_run_id: str, version: ModelVersion) -> tuple[str, bool]:
        """Log the model files to the trial's run and register them once -> (version, created)."""
        from mlflow.exceptions import MlflowException

        model_dir = _model_dir(version)
        if not self.client.list_artifacts(mlflow_run_id, ARTIFACT_PATH):
            self.client.log_artifacts(mlflow_run_id, str(model_dir), artifact_path=ARTIFACT_PATH)
        for found in self.client.search_model_versions(f"run_id = '{mlflow_run_id}'"):
            if found.name == name:
                return str(found.version), False
        try:
            self.client.create_registered_model(
                name,
                tags={"trainchain.model": version.name},
                description=f"trainchain model {version.name}, exported by trainchain",
            )
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"{self.client.get_run(mlflow_run_id).info.artifact_uri}/{ARTIFACT_PATH}"
        created = self.client.create_model_version(
            name,
            source,
            run_id=mlflow_run_id,
            tags={
                "trainchain.model": version.name,
                "trainchain.version": str(version.version),
                "trainchain.run": version.run_id,
                "trainchain.trial": str(version.trial),
                "trainchain.metric": version.metric_name,
                "trainchain.goal": version.goal,
                "trainchain.value": repr(version.value),
            },
            description=f"trainchain {version.name} v{version.version}: "
            f"{version.metric_name} {version.value:.4f} ({version.goal})",
        )
        return str(created.version), True

    def _artifact_location(self) -> str | None:
        """The setting, else ``mlartifacts`` beside a SQLite file (MLflow's default: ./mlruns)."""
        if self.config.artifact_location:
            return self.config.artifact_location
        parts = urlsplit(self.uri)
        if parts.scheme == "sqlite" and parts.path not in ("", "/", "/:memory:"):
            return (Path(parts.path[1:]).expanduser().resolve().parent / "mlartifacts").as_uri()
        return None


def _model_dir(version: ModelVersion) -> Path:
    """The registered version's folder (``path`` is the model file, or the folder itself)."""
    path = Path(version.path)
    folder = path if path.is_dir() else path.parent
    if not folder.is_dir():
        raise TrackingError(
            f"the files of model {version.name} v{version.version} are missing: {folder} does not "
            f"exist; restore it or register the model again before exporting to MLflow"
        )
    return folder


def _safe_uri(uri: str) -> str:
    """The URI with any password replaced, for messages and results."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
