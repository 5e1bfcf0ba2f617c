"""Every example repository in tests/repos/<case>/ against its expect.yaml.

Keys of expect.yaml (all optional except that a case names a result or an ``error``):
profile, framework, model_family, entrypoint, imports, requirements — equal; framework_facts
— each key it gives equal (what the profile read for its knobs, e.g. Keras ``sequential``);
entrypoint_reason — a substring of the reason; parameters — each listed dict matches the
parameter of that name on every key it gives; absent_parameters — names not reported;
parameter_order — these names appear in this order; evidence_symbols / evidence_files — found
among the evidence; skipped — files (and lines) skipped; env_packages_include — pins in the
environment; inputs / downloads — each listed dict matches the reported one, in order;
error / error_also — substrings of the DetectionError; declared_entrypoint /
declared_params — passed to detect() as trainchain.yaml would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainchain.detection import Detection
from trainchain.errors import DetectionError
from trainchain.profiles import detect, env_packages

REPOS = Path(__file__).resolve().parents[1] / "repos"
CASES = sorted(p.name for p in REPOS.iterdir() if (p / "expect.yaml").is_file())
_EQUAL = ("profile", "framework", "model_family", "entrypoint")


def _expect(case: str) -> dict[str, Any]:
    data = yaml.safe_load((REPOS / case / "expect.yaml").read_text())
    assert isinstance(data, dict), f"{case}/expect.yaml must be a mapping"
    return data


def test_enough_cases_cover_every_profile() -> None:
    assert len(CASES) >= 25
    profiles = {_expect(c).get("profile") for c in CASES}
    assert {"keras", "keras-legacy", "pytorch", "sklearn", "generic"} <= profiles


@pytest.mark.parametrize("case", CASES)
def test_repo(case: str) -> None:
    expect = _expect(case)
    args = {
        "entrypoint": expect.get("declared_entrypoint"),
        "declared_params": expect.get("declared_params"),
    }
    if "error" in expect:
        with pytest.raises(DetectionError) as info:
            detect(REPOS / case, **args)
        for part in [expect["error"], *expect.get("error_also", [])]:
            assert part in info.value.message
        assert info.value.exit_code == 2
        return
    result = detect(REPOS / case, **args)
    _check(result, expect)


def _check(result: Detection, expect: dict[str, Any]) -> None:
    data = result.to_dict()
    for key in _EQUAL:
        if key in expect:
            assert data[key] == expect[key], (key, data[key], result.profile_reason)
    for key, value in expect.get("framework_facts", {}).items():
        assert data["framework_facts"].get(key) == value, (key, data["framework_facts"])
    for key in ("imports", "requirements"):
        if key in expect:
            assert data[key] == expect[key], key
    if "entrypoint_reason" in expect:
        assert expect["entrypoint_reason"] in result.entrypoint_reason
    params = {p["name"]: p for p in data["parameters"]}
    for want in expect.get("parameters", []):
        got = params.get(want["name"])
        assert got is not None, f"parameter {want['name']} missing; found {sorted(params)}"
        for key, value in want.items():
            assert got.get(key) == value, (want["name"], key, got.get(key), value)
    for name in expect.get("absent_parameters", []):
        assert name not in params
    if "parameter_order" in expect:
        order = [n for n in params if n in expect["parameter_order"]]
        assert order == expect["parameter_order"]
    symbols = {e["symbol"] for e in data["evidence"]}
    for symbol in expect.get("evidence_symbols", []):
        assert symbol in symbols, (symbol, symbols)
    files = {e["file"] for e in data["evidence"]}
    for file in expect.get("evidence_files", []):
        assert file in files
    if "skipped" in expect:
        assert len(data["skipped"]) == len(expect["skipped"])
        for want, got in zip(expect["skipped"], data["skipped"], strict=True):
            assert {k: got[k] for k in want} == want
    for key in ("inputs", "downloads"):  # each listed dict matches the found one, in order
        if key in expect:
            assert len(data[key]) == len(expect[key]), (key, data[key])
            for want, got in zip(expect[key], data[key], strict=True):
                assert {k: got.get(k) for k in want} == want, (key, got)
    packages = env_packages(result.profile, result.env_imports)
    for pin in expect.get("env_packages_include", []):
        assert pin in packages


def test_json_shape_is_exact() -> None:
    data = detect(REPOS / "prompts_catdog").to_dict()
    assert set(data) == {
        "profile",
        "framework",
        "model_family",
        "entrypoint",
        "parameters",
        "evidence",
        "requirements",
        "imports",
        "entrypoint_reason",
        "skipped",
        "framework_facts",
        "reads_params",
        "inputs",
        "downloads",
    }
    for param in data["parameters"]:
        assert {"name", "source", "type", "default", "file", "line"} <= set(param)
        assert param["source"] in ("constant", "argparse", "click", "prompt", "config")
    for item in data["evidence"]:
        assert set(item) == {"file", "line", "symbol", "why"}
    assert json.loads(json.dumps(data)) == data


def test_detection_is_frozen() -> None:
    result = detect(REPOS / "keras_tf_keras")
    with pytest.raises(AttributeError):
        result.profile = "sklearn"  # type: ignore[misc]
