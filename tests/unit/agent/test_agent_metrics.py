"""Metric sources other than Keras: the SDK, metrics.json, stdout; scikit-learn models."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from conftest import SRC, RunAgent
from trainchain.agent.stdout_metrics import STDOUT_PATTERNS, parse_line


def test_sdk_metrics_directories_and_logged_model(run_agent: RunAgent) -> None:
    run = run_agent(
        """
        import os
        import trainchain.agent as tc
        for step, acc in enumerate([0.5, 0.7]):
            tc.log_metric("val_accuracy", acc, step=step)
        ckpt = tc.checkpoint_dir()
        out = tc.output_dir()
        with open(os.path.join(out, "weights.bin"), "wb") as fh:
            fh.write(b"w")
        tc.log_model(os.path.join(out, "weights.bin"))
        print(os.path.isdir(ckpt), ckpt == os.environ["TRAINCHAIN_CHECKPOINT_DIR"])
        try:
            tc.log_metric("loss", "high")
        except ValueError as exc:
            print(exc)
        """
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "True True"
    assert "the value must be a number, got 'high'" in lines[1]
    sdk = [(e["name"], e["value"], e.get("step")) for e in run.of("metric")
           if e["source"] == "sdk"]  # fmt: skip
    assert sdk == [("val_accuracy", 0.5, 0), ("val_accuracy", 0.7, 1)]
    model = run.of("model")
    assert [m["path"] for m in model] == [str(run.workdir / "output" / "weights.bin")]


def test_metrics_json_in_the_output_dir(run_agent: RunAgent) -> None:
    run = run_agent(
        """
        import json, os
        with open(os.path.join(os.environ["TRAINCHAIN_OUTPUT_DIR"], "metrics.json"), "w") as fh:
            json.dump({"accuracy": 0.9, "f1": 0.8, "test": {"auc": 0.7}, "note": "x"}, fh)
        """
    )
    assert run.returncode == 0, run.stderr
    assert run.metrics("metrics_json") == {"accuracy": 0.9, "f1": 0.8, "test.auc": 0.7}
    assert run.of("end")[-1]["status"] == "ok"


def test_stdout_metrics_keep_output_flowing(run_agent: RunAgent) -> None:
    script = """
    print("starting, batch size: 32")
    print("epoch 1 loss: 0.5 - accuracy: 0.81")
    print("val_accuracy=0.9")
    print("test_acc=0.93", flush=True)
    print("Test accuracy: 87%")
    print("final accuracy  83", end="")
    """
    run = run_agent(script)
    assert run.returncode == 0, run.stderr
    assert run.stdout.endswith("final accuracy  83")  # unchanged, even without a newline
    got = [(e["name"], round(e["value"], 4)) for e in run.of("metric")]
    assert got == [
        ("loss", 0.5), ("accuracy", 0.81), ("val_accuracy", 0.9), ("test_acc", 0.93),
        ("test_accuracy", 0.87), ("final_accuracy", 0.83),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("accuracy: 0.81", [("accuracy", 0.81)]),
        ("final accuracy  83", [("final_accuracy", 0.83)]),
        ("mean_squared_error = 1e-3", [("mean_squared_error", 0.001)]),
        ("loss: 12.5", [("loss", 12.5)]),  # not accuracy-like: no percentage
        ("Epoch 3/5", []),
        ("32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 10ms/step - accuracy: 0.8 - loss: 0.4", []),
        ("Enter no_of_epoch: 5", []),
        ("accumulated steps: 3", []),
    ],
)
def test_stdout_line_parsing(line: str, expected: list[tuple[str, float]]) -> None:
    assert parse_line(line) == expected
    assert STDOUT_PATTERNS and all(isinstance(p, str) for p in STDOUT_PATTERNS)


SKLEARN = """
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

N_ESTIMATORS = 3
x, y = load_digits(return_X_y=True)
def main():
    scaler = StandardScaler().fit(x)  # fitted first, then the real model
    model = make_pipeline(StandardScaler(), RandomForestClassifier(N_ESTIMATORS, random_state=0))
    model.fit(x[:1000], y[:1000])
    print("test accuracy:", model.score(x[1000:], y[1000:]))
main()
"""


def test_sklearn_last_top_level_estimator_is_saved(run_agent: RunAgent) -> None:
    pytest.importorskip("sklearn")
    run = run_agent(SKLEARN, params={"N_ESTIMATORS": 20})
    assert run.returncode == 0, run.stderr
    models = run.of("model")
    assert [(m["path"], m["framework"]) for m in models] == [
        (str(run.workdir / "output" / "model.joblib"), "sklearn")
    ]
    import joblib

    model = joblib.load(models[0]["path"])
    assert type(model).__name__ == "Pipeline"  # the top-level estimator, not a step
    assert model.steps[-1][1].n_estimators == 20
    assert run.metrics("stdout")["test_accuracy"] > 0.5


def test_sklearn_log_model_wins_over_automatic_saving(run_agent: RunAgent) -> None:
    pytest.importorskip("sklearn")
    run = run_agent(
        """
        from sklearn.linear_model import LogisticRegression
        import trainchain.agent as tc
        a = LogisticRegression().fit([[0], [1]], [0, 1])
        b = LogisticRegression(C=2.0).fit([[0], [1]], [0, 1])
        tc.log_model(a)
        """
    )
    assert run.returncode == 0, run.stderr
    models = run.of("model")
    assert len(models) == 1
    import joblib

    assert joblib.load(models[0]["path"]).C == 1.0  # a, not the later-fitted b


def test_agent_imports_only_the_standard_library_at_module_level() -> None:
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path in sorted((SRC / "agent").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _module_level(tree.body):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside the agent package
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "__future__" or top in stdlib:
                    continue
                if name == "trainchain.agent" or name.startswith("trainchain.agent."):
                    continue
                offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert offenders == []


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements executed at import time: the top level and its if/try/with blocks."""
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        if isinstance(node, ast.If | ast.With):
            out += _module_level(node.body) + _module_level(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            out += _module_level(node.body) + _module_level(node.orelse)
            for handler in node.handlers:
                out += _module_level(handler.body)
            out += _module_level(node.finalbody)
    return out


def test_the_import_check_catches_a_third_party_import(tmp_path: Path) -> None:
    tree = ast.parse("import os\ntry:\n    import numpy\nexcept ImportError:\n    pass\n")
    names = [a.name for n in _module_level(tree.body) if isinstance(n, ast.Import)
             for a in n.names]  # fmt: skip
    assert names == ["os", "numpy"]
