"""Detector rules that need a project built on the fly: entrypoint order, notebooks, parsing
once, skipped files, parameter filters."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from trainchain.detection import notebook_source
from trainchain.detection import sources as sources_module
from trainchain.errors import DetectionError
from trainchain.profiles import detect

KERAS_TRAIN = """
import keras
model = keras.Sequential([keras.layers.Dense(1)])
model.fit([[1.0]], [[1.0]], epochs=1)
"""
SKLEARN_TRAIN = """
from sklearn.linear_model import Ridge
Ridge().fit([[0.0], [1.0]], [0.0, 1.0])
"""
MAIN = '\nif __name__ == "__main__":\n    pass\n'


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _nb(*cells: str) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells
            ],
            "nbformat": 4,
        }
    )


# --- entrypoint order -------------------------------------------------------------------------


def test_main_guard_that_trains_beats_conventional_names(tmp_path: Path) -> None:
    _write(tmp_path, {"train.py": SKLEARN_TRAIN, "run.py": KERAS_TRAIN + MAIN})
    result = detect(tmp_path)
    assert result.entrypoint == "run.py" and result.profile == "keras"
    assert '__name__ == "__main__"' in result.entrypoint_reason


def test_conventional_names_in_order_then_depth(tmp_path: Path) -> None:
    _write(
        tmp_path, {"main.py": SKLEARN_TRAIN, "a/train.py": SKLEARN_TRAIN, "model.py": SKLEARN_TRAIN}
    )
    assert detect(tmp_path).entrypoint == "a/train.py"
    _write(tmp_path, {"train.py": SKLEARN_TRAIN})
    assert detect(tmp_path).entrypoint == "train.py"


def test_notebook_only_when_no_script_trains(tmp_path: Path) -> None:
    _write(tmp_path, {"nb.ipynb": _nb(KERAS_TRAIN), "util.py": "def f():\n    return 1\n"})
    result = detect(tmp_path)
    assert result.entrypoint == "nb.ipynb" and "notebook" in result.entrypoint_reason
    _write(tmp_path, {"fit.py": SKLEARN_TRAIN})
    result = detect(tmp_path)  # a script that calls a training API wins over a notebook
    assert result.entrypoint == "fit.py" and "calls a training API" in result.entrypoint_reason
    assert "util.py does not" in result.entrypoint_reason
    _write(tmp_path, {"fit.py": SKLEARN_TRAIN + MAIN})
    assert detect(tmp_path).entrypoint == "fit.py"  # a __main__ script that trains wins


def test_the_script_that_fits_wins_over_names_and_the_helper_it_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "model.py": "import keras\n\ndef build():\n"
            "    return keras.Sequential([keras.layers.Dense(1)])\n",
            "run_experiment.py": "from model import build\nm = build()\nm.compile('sgd', 'mse')\n"
            "m.fit([[1.0]], [[1.0]], epochs=1)\n",
            "plots.py": "import keras\nkeras.layers.Dense(3)\n",
        },
    )
    result = detect(tmp_path)
    assert result.entrypoint == "run_experiment.py", result.entrypoint_reason
    assert "calls a training API (fit at run_experiment.py:4)" in result.entrypoint_reason
    # a helper that fits, imported by the script that runs it, is not the entrypoint
    _write(tmp_path, {"fitting.py": SKLEARN_TRAIN, "zz_run.py": "import fitting\nprint(1)\n"})
    (tmp_path / "run_experiment.py").unlink()
    (tmp_path / "model.py").unlink()
    result = detect(tmp_path)
    assert result.entrypoint == "zz_run.py", result.entrypoint_reason
    assert "not imported by another" in result.entrypoint_reason


def test_tests_and_virtualenvs_are_never_entrypoints(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "tests/test_train.py": KERAS_TRAIN + MAIN,
            ".venv/lib/train.py": KERAS_TRAIN,
            "venv/train.py": KERAS_TRAIN,
            "experiment.py": SKLEARN_TRAIN,
        },
    )
    result = detect(tmp_path)
    assert result.entrypoint == "experiment.py" and result.profile == "sklearn"


def test_declared_entrypoint_wins_and_bad_ones_say_how_to_fix(tmp_path: Path) -> None:
    _write(tmp_path, {"train.py": SKLEARN_TRAIN, "nets/cnn.py": KERAS_TRAIN, "notes.txt": "x"})
    result = detect(tmp_path, entrypoint="nets/cnn.py")
    assert result.entrypoint == "nets/cnn.py" and result.profile == "keras"
    with pytest.raises(DetectionError, match="not a Python script or notebook"):
        detect(tmp_path, entrypoint="notes.txt")
    with pytest.raises(DetectionError, match="does not exist") as info:
        detect(tmp_path, entrypoint="missing.py")
    assert "train.py" in info.value.message


def test_a_file_is_not_a_project(tmp_path: Path) -> None:
    _write(tmp_path, {"train.py": SKLEARN_TRAIN})
    with pytest.raises(DetectionError, match="not a directory"):
        detect(tmp_path / "train.py")


# --- reading and parsing ----------------------------------------------------------------------


def test_each_file_is_read_once_and_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {f"pkg/m{i}.py": "import numpy\nX = 1\n" for i in range(20)})
    _write(
        tmp_path,
        {"train.py": "from pkg import m1\n" + KERAS_TRAIN + MAIN, "nb.ipynb": _nb(SKLEARN_TRAIN)},
    )
    reads: list[Path] = []
    parses: list[str] = []
    real_read, real_parse = sources_module._read, ast.parse

    def read(path: Path) -> bytes:
        reads.append(path)
        return real_read(path)

    def parse(source: Any, filename: str = "<unknown>", *args: Any, **kw: Any) -> Any:
        parses.append(filename)
        return real_parse(source, filename, *args, **kw)

    monkeypatch.setattr(sources_module, "_read", read)
    monkeypatch.setattr(ast, "parse", parse)
    result = detect(tmp_path)
    assert result.entrypoint == "train.py"
    assert len(reads) == len(set(reads)) == 22
    assert sorted(parses) == sorted(set(parses)) and len(parses) == 22


def test_unparseable_files_are_skipped_with_their_line(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "train.py": SKLEARN_TRAIN,
            "py2.py": "x = 1\nprint 'hi'\n",
            "bad.ipynb": _nb("x = 1", "def f(:\n    pass"),
        },
    )
    (tmp_path / "nul.py").write_bytes(b"x = 1\0\n")
    (tmp_path / "latin.py").write_bytes(b"name = '\xe9'\n")
    result = detect(tmp_path)
    skipped = {s.file: s for s in result.skipped}
    assert set(skipped) == {"py2.py", "bad.ipynb", "nul.py", "latin.py"}
    assert skipped["py2.py"].line == 2
    assert skipped["bad.ipynb"].line == 2 and "code cell 2" in skipped["bad.ipynb"].error


def test_an_unparseable_notebook_entrypoint_is_fatal(tmp_path: Path) -> None:
    _write(tmp_path, {"nb.ipynb": _nb("x = (")})
    with pytest.raises(DetectionError, match="no training entrypoint"):
        detect(tmp_path)  # nothing shows training: the notebook cannot be read
    with pytest.raises(DetectionError, match=r"nb\.ipynb:1"):
        detect(tmp_path, entrypoint="nb.ipynb")


def test_notebook_source_strips_magics_and_keeps_lines() -> None:
    source, starts = notebook_source(
        _nb(
            "!pip install x\n%matplotlib inline\nimport os",
            "%%bash\necho (\n",
            "if True:\n    %time y = 2\n    files = !ls\n    os?\n",
            "%%time\nz = 3",
        )
    )
    lines = source.splitlines()
    assert lines[0:3] == ["pass", "pass", "import os"]
    assert lines[3:5] == ["", ""]  # %%bash cell: blank, numbering kept
    assert lines[5:9] == ["if True:", "    y = 2", "    pass", "    pass"]
    assert lines[9:] == ["pass", "z = 3"]
    assert starts == [1, 4, 6, 10]
    ast.parse(source)
    with pytest.raises(ValueError, match="invalid JSON"):
        notebook_source("{nope")


def test_comments_strings_and_markdown_never_count(tmp_path: Path) -> None:
    nb = json.dumps(
        {
            "cells": [
                {
                    "cell_type": "markdown",
                    "source": "import keras\nkeras.Sequential()",
                    "metadata": {},
                },
                {"cell_type": "code", "source": SKLEARN_TRAIN, "metadata": {}, "outputs": []},
            ],
            "nbformat": 4,
        }
    )
    _write(tmp_path, {"nb.ipynb": nb, "doc.py": '"""import keras; model.fit()"""\n# keras\n'})
    result = detect(tmp_path)
    assert result.profile == "sklearn"
    assert "keras" not in result.imports


# --- scope and imports ------------------------------------------------------------------------


def test_training_scope_follows_local_imports_only(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "train.py": "import os\nimport numpy as np\nfrom nets import build\nfrom . import x\n"
            "m = build()\nm.fit(np.zeros(1), np.zeros(1))\n" + MAIN,
            "nets/__init__.py": "from .cnn import build\n",
            "nets/cnn.py": "import keras\ndef build():\n    return keras.Sequential("
            "[keras.layers.Conv2D(2, 3)])\n",
            "other/tool.py": "import torch\nclass N(torch.nn.Module):\n    pass\n",
        },
    )
    result = detect(tmp_path)
    assert result.profile == "keras" and result.model_family == "cnn"
    assert result.imports == ("keras", "numpy")  # not os (stdlib), nets (local), torch (unused)
    assert result.framework_facts["sequential"]


def test_legacy_pins_only_matter_for_keras(tmp_path: Path) -> None:
    _write(tmp_path, {"train.py": SKLEARN_TRAIN, "requirements.txt": "tensorflow<2.16\n"})
    assert detect(tmp_path).profile == "sklearn"


def test_broken_pyproject_is_ignored_not_fatal(tmp_path: Path) -> None:
    _write(tmp_path, {"train.py": KERAS_TRAIN, "pyproject.toml": "[project\nname="})
    assert detect(tmp_path).requirements == ()


# --- parameters -------------------------------------------------------------------------------


def test_constants_filter(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "train.py": """
import keras
EPOCHS = 3
SEED = 1
DATA = "data/images"
WEIGHTS = "best.h5"
BANNER = "training the model now"
ONLY_PRINTED = 7
ACTIVATION = "relu"
USE_BIAS = True
COMPUTED = 2
COMPUTED = COMPUTED * 2
UNUSED = 5
LOG_EVERY = 10
print(ONLY_PRINTED, BANNER, f"{EPOCHS}")
keras.utils.set_random_seed(SEED)
m = keras.Sequential([keras.layers.Dense(COMPUTED, activation=ACTIVATION, use_bias=USE_BIAS)])
m.fit(open(DATA), epochs=EPOCHS)
m.save(WEIGHTS)
"""
        },
    )
    names = [p.name for p in detect(tmp_path).parameters]
    assert names == ["EPOCHS", "ACTIVATION", "USE_BIAS"]


def test_argparse_default_from_a_constant_is_one_parameter(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "train.py": """
import argparse
from argparse import ArgumentParser
from sklearn.svm import SVC
DEFAULT_C = 0.5
p = ArgumentParser()
p.add_argument("--c", type=float, default=DEFAULT_C)
p.add_argument("n_samples", type=int)
p.add_argument("-v", action="count")
a = p.parse_args()
SVC(C=a.c).fit([[0], [1]][: a.n_samples], [0, 1])
"""
        },
    )
    params = {p.name: p for p in detect(tmp_path).parameters}
    assert set(params) == {"c", "n_samples", "v"}
    assert params["c"].default == 0.5 and params["c"].flag == "--c"
    assert params["n_samples"].required is True and params["n_samples"].flag is None
    assert params["v"].type == "int" and params["v"].default == 0


def test_prompt_variants(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "train.py": """
from sklearn.tree import DecisionTreeClassifier
depth = input(f"Please enter the max depth [{3}]: ")
leaves = input()
n = float(input("Number of samples? "))
for _ in range(2):
    again = int(input("Enter retries:"))
DecisionTreeClassifier(max_depth=int(depth)).fit([[0], [1]], [0, 1])
"""
        },
    )
    params = detect(tmp_path).parameters
    assert [(p.name, p.type, p.line) for p in params] == [
        ("max_depth", "int", 3),
        ("leaves", "str", 4),
        ("number_of_samples", "float", 5),
        ("retries", "int", 7),
    ]
    assert params[0].prompt == "Please enter the max depth []: "
