"""A new profile is one module: registered from outside, it is detected, pinned, tuned and
rendered into its image without any change to trainchain; detection never imports profiles."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures.profiles.tiny import PROFILE as TINY

from trainchain import profiles
from trainchain.stages.detect import check_fixed_params, detect_project

SRC = Path(__file__).resolve().parents[2] / "src" / "trainchain"


@pytest.fixture
def tiny() -> Iterator[None]:
    profiles.register(TINY)
    try:
        yield
    finally:
        profiles.unregister(TINY.name)


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "train.py").write_text("import six\nimport tinyhelper\n\nEPOCHS = 2\nprint(six.PY3)\n")
    (root / "requirements.txt").write_text("six==1.15.0\nrequests==2.32.3\n")
    return root


def test_a_registered_profile_claims_pins_and_tunes(tiny: None, tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    assert profiles.profile_names()[0] == "tiny"  # its priority puts it first
    detection = profiles.detect(project, entrypoint="train.py")
    assert detection.profile == "tiny" and detection.framework == "tiny"
    assert detection.profile_reason == "imports six: the tiny profile"
    assert detection.framework_facts == {"files": 1}
    result = detect_project(project, "train.py", None, {})
    assert result.env_spec.packages == ("six==1.16.0", "tinyhelper==0.1.0")
    assert result.env_spec.project_requirements == ("requests==2.32.3",)  # its six is replaced
    assert result.space["tiny.rounds"]["high"] == 3
    check_fixed_params(detection, {"tiny.rounds": 2})  # its knob takes a --param value


def test_without_the_plugin_the_same_project_is_generic(tmp_path: Path) -> None:
    detection = profiles.detect(_project(tmp_path / "p"), entrypoint="train.py")
    assert detection.profile == "generic" and "tiny" not in profiles.profile_names()


def test_detection_never_imports_profiles() -> None:
    for path in sorted((SRC / "detection").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.startswith("trainchain.profiles") for n in names), path.name
