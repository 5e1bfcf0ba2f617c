"""The six jobs of the chain. Stages never import each other; ``pipeline`` knows the order."""

from __future__ import annotations

import enum


class Stage(enum.StrEnum):
    FETCH = "fetch"
    DETECT = "detect"
    TRAIN = "train"
    TUNE = "tune"
    PROMOTE = "promote"
    MONITOR = "monitor"


ORDER = tuple(Stage)
