"""``trainchain detect`` through click's CliRunner and the real entry point's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from trainchain.cli import cli

REPOS = Path(__file__).resolve().parents[1] / "repos"


def test_table_shows_profile_entrypoint_parameters_space_and_evidence() -> None:
    result = CliRunner().invoke(
        cli, ["detect", str(REPOS / "legacy_seed_constants")], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for part in (
        "keras-legacy",
        "project.py",
        "add_layers",
        "no_of_epochs",
        "search space",
        "keras.extra_conv_blocks",
        "fit_generator",
        "tensorflow-cpu==2.15.1",
    ):
        assert part in out, part


def test_json_is_the_detection_and_space_is_opt_in() -> None:
    runner = CliRunner()
    plain = runner.invoke(cli, ["detect", str(REPOS / "prompts_catdog"), "--json"])
    assert plain.exit_code == 0, plain.output
    data = json.loads(plain.output)
    assert data["profile"] == "keras" and "space" not in data
    assert [p["name"] for p in data["parameters"]][0] == "no_of_epoch"
    spaced = json.loads(
        runner.invoke(cli, ["detect", str(REPOS / "prompts_catdog"), "--json", "--space"]).output
    )
    assert spaced["space"]["no_of_epoch"]["type"] == "int"


def test_trainchain_yaml_entrypoint_and_params_are_used(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "from sklearn.svm import SVC\nK = 3\nSVC(degree=K).fit([[0]], [0])\n"
    )
    (tmp_path / "b.py").write_text("print('not training')\n")
    (tmp_path / "trainchain.yaml").write_text(
        "entrypoint: a.py\nparams:\n  C: {type: float, low: 0.1, high: 10, log: true}\n"
    )
    result = CliRunner().invoke(cli, ["detect", str(tmp_path), "--json", "--space"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["entrypoint"] == "a.py"
    assert data["space"]["C"] == {
        "type": "float",
        "low": 0.1,
        "high": 10.0,
        "log": True,
        "choices": None,
        "why": "declared in trainchain.yaml",
    }
    assert data["space"]["K"]["type"] == "int"  # derived from the constant
    assert [(p["name"], p["source"]) for p in data["parameters"]] == [
        ("K", "constant"),
        ("C", "config"),
    ]


def _main(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from trainchain.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_nothing_to_train_exits_2_with_the_fix_and_no_traceback() -> None:
    done = _main("detect", str(REPOS / "flask_app"))
    assert done.returncode == 2
    assert "no training entrypoint" in done.stderr and "entrypoint:" in done.stderr
    assert "Traceback" not in done.stderr


def test_broken_entrypoint_and_bad_yaml_exit_2(tmp_path: Path) -> None:
    done = _main("detect", str(REPOS / "syntax_error_entrypoint"))
    assert done.returncode == 2 and "train.py:3" in done.stderr
    (tmp_path / "train.py").write_text("from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n")
    (tmp_path / "trainchain.yaml").write_text("entrypoint: [unclosed\n")
    done = _main("detect", str(tmp_path))
    assert done.returncode == 2 and "trainchain.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_table_shows_what_each_parameter_reaches_and_where_bounds_come_from(
    tmp_path: Path,
) -> None:
    (tmp_path / "train.py").write_text(
        "from sklearn.linear_model import LogisticRegression\nC = 1e-8\n"
        "LogisticRegression(C=C).fit([[0], [1]], [0, 1])\n"
    )
    result = CliRunner().invoke(cli, ["detect", str(tmp_path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "flows into" in out and "sklearn.LogisticRegression.C" in out
    assert "0.0001 .. 100 (log)" in out
    assert "low 0.0001 the argument's limit, high 100 the argument's useful band" in out
    assert "the default 1e-08 lies outside" in out
