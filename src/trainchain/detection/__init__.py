"""The detector (job2, part one): read a project and say what it needs to train.

``detect(path, profiles)`` returns a frozen ``Detection``: profile, framework, model family,
entrypoint, parameters, evidence, requirements and the files that were skipped.
"""

from __future__ import annotations

from trainchain.detection.detector import detect
from trainchain.detection.evidence import Claimant, Evidence, EvidenceItem
from trainchain.detection.result import Detection, Parameter, Skipped
from trainchain.detection.sources import notebook_source

__all__ = [
    "Claimant",
    "Detection",
    "Evidence",
    "EvidenceItem",
    "Parameter",
    "Skipped",
    "detect",
    "notebook_source",
]
