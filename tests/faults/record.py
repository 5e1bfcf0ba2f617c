"""Outcomes of fault cases, for docs/reliability.md and docs/benchmarks.md.

A case appends one JSON line to ``$TRAINCHAIN_FAULTS_REPORT`` when that is set (the full run
started by ``bench/bench_recovery.py``); otherwise nothing is written. Written before the
test's assertions, so a case that did not survive is counted too.
"""

from __future__ import annotations

import json
import os
from typing import Any


def record(suite: str, case: str, **fields: Any) -> None:
    path = os.environ.get("TRAINCHAIN_FAULTS_REPORT")
    if not path:
        return
    line = json.dumps({"suite": suite, "case": case, **fields}, default=str)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
