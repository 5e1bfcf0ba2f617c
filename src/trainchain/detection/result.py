"""The detector's answer: plain frozen dataclasses with a JSON shape fixed by the spine issue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainchain.detection.downloads import Download
from trainchain.detection.evidence import EvidenceItem
from trainchain.detection.inputs import Input

PARAM_SOURCES = ("constant", "argparse", "click", "prompt", "config")


@dataclass(frozen=True)
class Parameter:
    """A knob of the user's script and how it reaches the script (``source``)."""

    name: str
    source: str  # one of PARAM_SOURCES
    type: str  # "int" | "float" | "bool" | "str"
    default: Any
    file: str
    line: int | None
    choices: tuple[Any, ...] | None = None
    required: bool | None = None
    flag: str | None = None  # argparse/click: the option string to pass ("--lr")
    prompt: str | None = None  # prompt: the text input() shows
    low: float | None = None  # click IntRange/FloatRange bounds
    high: float | None = None
    # framework arguments the value reaches, "<api>.<argument>" ("keras.fit.steps_per_epoch",
    # "sklearn.LogisticRegression.C"); see trainchain.detection.flows
    flows_into: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "type": self.type,
            "default": self.default,
            "file": self.file,
            "line": self.line,
        }
        for key in ("choices", "required", "flag", "prompt", "low", "high"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if key == "choices" else value
        out["flows_into"] = list(self.flows_into)
        return out


@dataclass(frozen=True)
class Skipped:
    file: str
    line: int | None
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "error": self.error}


@dataclass(frozen=True)
class Detection:
    """Everything job2 learned about a project by reading it.

    ``imports`` are the third-party top-level modules of the training scope; pass
    ``env_imports`` to ``trainchain.profiles.env_packages(profile, imports)``.
    ``framework_facts`` is what the chosen profile read for its own knobs (``Profile.facts``:
    for Keras whether the model is Sequential and the literal ``fit``/optimizer values); its
    meaning belongs to that profile alone.
    """

    profile: str
    framework: str
    model_family: str
    entrypoint: str
    entrypoint_reason: str
    profile_reason: str
    parameters: tuple[Parameter, ...]
    evidence: tuple[EvidenceItem, ...]
    requirements: tuple[str, ...]
    imports: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    framework_facts: dict[str, Any] = field(default_factory=dict)
    reads_params: bool = False  # the code reads TRAINCHAIN_PARAMS itself (any name may apply)
    inputs: tuple[Input, ...] = ()  # paths the scope reads that the repository lacks
    downloads: tuple[Download, ...] = ()  # datasets fetched at run time

    @property
    def env_imports(self) -> tuple[str, ...]:
        return self.imports

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "framework": self.framework,
            "model_family": self.model_family,
            "entrypoint": self.entrypoint,
            "parameters": [p.to_dict() for p in self.parameters],
            "evidence": [e.to_dict() for e in self.evidence],
            "requirements": list(self.requirements),
            "imports": list(self.imports),
            "entrypoint_reason": self.entrypoint_reason,
            "skipped": [s.to_dict() for s in self.skipped],
            "framework_facts": dict(self.framework_facts),
            "reads_params": self.reads_params,
            "inputs": [i.to_dict() for i in self.inputs],
            "downloads": [d.to_dict() for d in self.downloads],
        }
