"""The trial environment contract: the variables every runtime sets and the agent reads.

Runtimes build a trial's environment with ``attempt_environ`` (paths as the training process
sees them: host paths for local, mount points in a container); the agent reads the same names
from here. Standard library only: this module runs inside the training process too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

PARAMS = "TRAINCHAIN_PARAMS"  # JSON object: the trial's parameter values
OUTPUT_DIR = "TRAINCHAIN_OUTPUT_DIR"  # the trial's outputs (model, metrics.json)
CHECKPOINT_DIR = "TRAINCHAIN_CHECKPOINT_DIR"  # survives restarts of the trial
EVENTS = "TRAINCHAIN_EVENTS"  # the JSON-lines file the agent appends events to
RUN = "TRAINCHAIN_RUN"  # run id: also how a runtime recognises its own processes
TRIAL = "TRAINCHAIN_TRIAL"
ATTEMPT = "TRAINCHAIN_ATTEMPT"
SEED = "TRAINCHAIN_SEED"  # the trial's recorded seed, the same for every attempt
FIT = "TRAINCHAIN_FIT"  # JSON: best epoch and early stop settings (agent/best_epoch.py)
# a server holding copies of the datasets (an offline site's, the tests'): a library's download
# of https://HOST/PATH is read from <mirror>/<library's cache folder>/HOST/PATH instead
DATASETS_MIRROR = "TRAINCHAIN_DATASETS_MIRROR"
PATH_MAP = "TRAINCHAIN_PATH_MAP"  # JSON: paths of the author's machine -> where they are served
CODE = "TRAINCHAIN_CODE"  # where the working copy is (containers)

KERAS_HOME = "KERAS_HOME"  # the agent shadows a read-only Keras cache (dataset_cache.py)
# each library's download cache, relative to the dataset cache, and the variable that sets it
DATASET_CACHES = {
    KERAS_HOME: "keras",
    "SCIKIT_LEARN_DATA": "sklearn",
    "TFDS_DATA_DIR": "tensorflow_datasets",
    "TORCH_HOME": "torch",
}

VARIABLES = frozenset(
    {PARAMS, OUTPUT_DIR, CHECKPOINT_DIR, EVENTS, RUN, TRIAL, ATTEMPT, SEED, FIT, PATH_MAP, CODE}
    | set(DATASET_CACHES)
    | {DATASETS_MIRROR}
)


def attempt_environ(
    params: Mapping[str, object],
    output_dir: str,
    checkpoint_dir: str,
    events: str,
    run_id: str,
    trial: int,
    attempt: int,
) -> dict[str, str]:
    """The contract's variables for one attempt."""
    return {
        PARAMS: json.dumps(params),
        OUTPUT_DIR: output_dir,
        CHECKPOINT_DIR: checkpoint_dir,
        EVENTS: events,
        RUN: run_id,
        TRIAL: str(trial),
        ATTEMPT: str(attempt),
    }


def dataset_environ(cache: str, mirror: str | None = None) -> dict[str, str]:
    """Point every library's download cache into the shared dataset cache ``cache``; with the
    operator's ``mirror``, the libraries' downloads read it (``library_downloads``)."""
    environ = {var: f"{cache}/{sub}" for var, sub in DATASET_CACHES.items()}
    if mirror:
        environ[DATASETS_MIRROR] = mirror
    return environ


def path_map_environ(path_map: Mapping[str, str]) -> dict[str, str]:
    """Paths of the author's machine the agent serves from elsewhere ({} when none)."""
    return {PATH_MAP: json.dumps(dict(path_map))} if path_map else {}
