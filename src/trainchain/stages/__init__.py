"""The six jobs of the chain. Stages never import each other; ``pipeline`` knows the order."""

from __future__ import annotations

import enum


class Stage(str, enum.Enum):
    FETCH = "fetch"
    DETECT = "detect"
    TRAIN = "train"
    TUNE = "tune"
    PROMOTE = "promote"
    MONITOR = "monitor"


class StageState(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


ORDER = tuple(Stage)
