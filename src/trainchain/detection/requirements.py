"""The project's own requirements (``requirements.txt``, ``pyproject.toml``) and what they pin.

A pin that excludes every Keras 3 era release (``tensorflow==2.15.*``, ``tensorflow<2.16``,
``keras<3``) tells us the code was written for Keras 2, so it moves a Keras project to
``keras-legacy``. Version logic is ``packaging``'s, the same as pip's.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from trainchain.detection.evidence import EvidenceItem

log = logging.getLogger(__name__)

_TENSORFLOW = {
    "tensorflow",
    "tensorflow-cpu",
    "tensorflow-gpu",
    "tensorflow-intel",
    "tensorflow-macos",
}
# releases that ship Keras 3; a pin that allows none of them is a Keras 2 pin
_MODERN = {"tensorflow": ("2.16.1", "2.18.0", "2.21.0"), "keras": ("3.0.0", "3.5.0", "3.15.1")}


@dataclass(frozen=True)
class ProjectRequirement:
    text: str  # as written, without comments
    name: str  # normalized distribution name ("" when unparseable)
    file: str
    line: int


def parse_requirements(files: dict[str, bytes]) -> list[ProjectRequirement]:
    """Requirements from ``requirements.txt`` lines and ``[project].dependencies``."""
    found: list[ProjectRequirement] = []
    if "requirements.txt" in files:
        text = files["requirements.txt"].decode("utf-8", "replace")
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "-")):  # options (-r, -e, --index-url)
                continue
            found.append(_requirement(line, "requirements.txt", number))
    if "pyproject.toml" in files:
        found.extend(_pyproject(files["pyproject.toml"]))
    return found


def _pyproject(data: bytes) -> list[ProjectRequirement]:
    text = data.decode("utf-8", "replace")
    try:
        deps = tomllib.loads(text).get("project", {}).get("dependencies", [])
    except tomllib.TOMLDecodeError as exc:
        log.warning("pyproject.toml is not valid TOML (%s); its dependencies are ignored", exc)
        return []
    lines = text.splitlines()
    out = []
    for dep in deps if isinstance(deps, list) else []:
        number = next((i for i, raw in enumerate(lines, 1) if dep in raw), 0)
        out.append(_requirement(str(dep), "pyproject.toml", number))
    return out


def _requirement(text: str, file: str, line: int) -> ProjectRequirement:
    try:
        name = Requirement(text).name.lower().replace("_", "-")
    except InvalidRequirement:
        name = ""
    return ProjectRequirement(text, name, file, line)


def legacy_pins(requirements: list[ProjectRequirement]) -> list[EvidenceItem]:
    """Pins that allow no Keras 3 era release of TensorFlow or Keras."""
    items = []
    for req in requirements:
        family = "tensorflow" if req.name in _TENSORFLOW else req.name
        if family == "keras-preprocessing":
            items.append(
                EvidenceItem(
                    req.file, req.line, req.text, "Keras-Preprocessing is only used with Keras 2"
                )
            )
            continue
        if family not in _MODERN:
            continue
        spec = Requirement(req.text).specifier
        if not str(spec):
            continue
        if not any(spec.contains(v, prereleases=True) for v in _MODERN[family]):
            items.append(
                EvidenceItem(
                    req.file,
                    req.line,
                    req.text,
                    f"pins {req.name} below its Keras 3 releases (Keras 2 code)",
                )
            )
    return items
