"""The search-space rules: derived from detected parameters, declared in trainchain.yaml."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from trainchain.agent.naming import KERAS_KNOBS
from trainchain.errors import ConfigError
from trainchain.profiles import detect, search_space
from trainchain.space import baseline_value, kind_of, param_space, space_from_config

REPOS = Path(__file__).resolve().parents[1] / "repos"
KEYS = {"type", "low", "high", "log", "choices", "why"}


def _p(name: str, type_: str, default: object = None, **extra: object) -> dict[str, object]:
    return {"name": name, "source": "constant", "type": type_, "default": default, **extra}


def _bounds(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The spec without its explanation (``why``)."""
    return None if spec is None else {k: v for k, v in spec.items() if k != "why"}


def _space(name: str, type_: str, default: object = None, **extra: object) -> dict[str, Any]:
    spec = param_space(_p(name, type_, default, **extra))
    assert spec is not None, name
    return spec


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("EPOCHS", "epochs"),
        ("no_of_epoch", "epochs"),
        ("max_epochs", "epochs"),
        ("batch_size", "batch"),
        ("LR", "lr"),
        ("learning_rate", "lr"),
        ("eta", "lr"),
        ("add_layers", "layers"),
        ("n_layers", "layers"),
        ("UNITS", "width"),
        ("filters", "width"),
        ("n_estimators", "count"),
        ("max_depth", "depth"),
        ("dropout", "dropout"),
        ("C", "reg"),
        ("weight_decay", "reg"),
        ("seed", "skip"),
        ("test_size", "skip"),
        ("IMG_SIZE", "skip"),
        ("validation_split", "skip"),
        ("k", None),
    ],
)
def test_kind_of(name: str, kind: str | None) -> None:
    assert kind_of(name) == kind


def test_epochs_around_default_with_a_cap() -> None:
    assert _bounds(param_space(_p("epochs", "int", 5))) == {
        "type": "int",
        "low": 2,
        "high": 20,
        "log": False,
        "choices": None,
    }
    assert _space("EPOCHS", "int", 10)["high"] == 40
    assert _space("EPOCHS", "int", 50)["high"] == 100  # capped
    assert _space("EPOCHS", "int", 300)["high"] == 300  # never below the default


def test_learning_rate_log_scale_clipped() -> None:
    spec = param_space(_p("lr", "float", 0.001))
    assert spec is not None and spec["log"] is True
    assert math.isclose(spec["low"], 1e-4) and math.isclose(spec["high"], 1e-2)
    spec = param_space(_p("learning_rate", "float", 0.5))
    assert spec is not None and spec["high"] == 1.0 and math.isclose(spec["low"], 1e-4)
    spec = param_space(_p("lr", "float", 1e-6))
    assert spec is not None and spec["low"] == 1e-5 and math.isclose(spec["high"], 1e-2)


def test_a_weak_learning_rate_default_still_reaches_the_usual_range() -> None:
    # the digits example's 1e-4: the search must be able to try 1e-2, not only 1e-5..1e-3
    spec = param_space(_p("lr", "float", 1e-4))
    assert spec is not None
    assert math.isclose(spec["low"], 1e-5) and math.isclose(spec["high"], 1e-2)
    spec = param_space(_p("lr", "float", 0.05))  # an SGD-like default keeps its own decade
    assert spec is not None
    assert math.isclose(spec["low"], 1e-4) and math.isclose(spec["high"], 0.5)


def test_layers_widths_bools_choices_strings() -> None:
    assert _space("add_layers", "int", 1)["low"] == 0
    assert _bounds(param_space(_p("n_layers", "int", 2))) == {
        "type": "int",
        "low": 1,
        "high": 4,
        "log": False,
        "choices": None,
    }
    assert _space("units", "int", 64)["log"] is True
    assert _space("augment", "bool", False)["type"] == "bool"
    assert _space("kernel", "str", "rbf", choices=["linear", "rbf"])["choices"] == ["linear", "rbf"]
    assert _space("optimizer", "str", "sgd")["choices"][0] == "sgd"
    assert param_space(_p("model_name", "str", "cnn")) is None  # no alternatives to search
    assert param_space(_p("seed", "int", 42)) is None
    assert param_space(_p("test_size", "float", 0.2)) is None  # would game the metric
    assert _space("lr", "float", 0.01, low=1e-5, high=1.0)["log"] is True


def test_every_spec_has_the_same_keys_and_valid_bounds() -> None:
    for case in (
        "keras_tf_keras",
        "prompts_catdog",
        "sklearn_svm_argparse",
        "click_keras",
        "legacy_seed_constants",
        "pytorch_plain",
        "sklearn_xgboost",
    ):
        for name, spec in search_space(detect(REPOS / case)).items():
            assert set(spec) == KEYS, name
            if spec["type"] in ("int", "float"):
                assert spec["low"] < spec["high"], name
                assert not spec["log"] or spec["low"] > 0, name


def test_keras_knobs_only_where_the_script_has_none() -> None:
    space = search_space(detect(REPOS / "keras_tf_keras"))  # EPOCHS and LEARNING_RATE exist
    assert "keras.epochs" not in space and "keras.learning_rate" not in space
    assert space["keras.batch_size"]["low"] == 4  # centred on fit(batch_size=16)
    assert {"keras.width", "keras.dropout"} <= set(space)
    assert "keras.extra_conv_blocks" not in space  # an MLP has no conv block to repeat
    assert set(k for k in space if k.startswith("keras.")) <= set(KERAS_KNOBS)


def test_architecture_knobs_for_sequential_cnn_only() -> None:
    cnn = search_space(detect(REPOS / "legacy_seed_constants"))
    assert _bounds(cnn["keras.extra_conv_blocks"]) == {
        "type": "int",
        "low": 0,
        "high": 2,
        "log": False,
        "choices": None,
    }
    assert cnn["keras.width"]["low"] == 0.5 and cnn["keras.width"]["high"] == 2.0
    assert "keras.batch_size" not in cnn  # fit_generator: the generator brings its batches
    functional = search_space(detect(REPOS / "keras3_functional_rnn"))
    assert "keras.width" not in functional and "keras.dropout" not in functional
    assert "keras.epochs" in functional  # fit(epochs=2) is a literal: the knob applies
    assert functional["keras.epochs"]["low"] == 1


def test_no_keras_knobs_outside_keras() -> None:
    assert not any(k.startswith("keras.") for k in search_space(detect(REPOS / "pytorch_plain")))


def test_baseline_values_by_name_and_type() -> None:
    assert baseline_value({"name": "no_of_epoch", "type": "int", "default": None}) == 5
    assert baseline_value({"name": "learning_rate", "type": "float"}) == 1e-3
    assert baseline_value({"name": "add_layers", "type": "int"}) == 1
    assert baseline_value({"name": "batch", "type": "int"}) == 32
    assert baseline_value({"name": "C", "type": "float"}) == 1.0
    assert baseline_value({"name": "k", "type": "int"}) == 1
    assert baseline_value({"name": "flag", "type": "bool"}) is False
    assert baseline_value({"name": "kernel", "type": "str", "choices": ["rbf", "poly"]}) == "rbf"
    assert baseline_value({"name": "EPOCHS", "type": "int", "default": 7}) == 7
    assert baseline_value({"name": "epochs", "type": "int", "low": 10, "high": 20}) == 10
    assert baseline_value({"name": "model_name", "type": "str"}) == "trainchain"
    with pytest.raises(ConfigError, match="--param data_dir=VALUE"):
        baseline_value({"name": "data_dir", "type": "str", "source": "argparse"})


def test_space_from_config_normalises_and_infers_types() -> None:
    space = space_from_config(
        {
            "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
            "units": {"low": 16, "high": 256},
            "act": ["relu", "tanh"],
            "aug": {"type": "bool"},
        }
    )
    assert _bounds(space["lr"]) == {
        "type": "float",
        "low": 1e-4,
        "high": 0.1,
        "log": True,
        "choices": None,
    }
    assert space["units"]["type"] == "int"
    assert _bounds(space["act"]) == {
        "type": "categorical",
        "low": None,
        "high": None,
        "log": False,
        "choices": ["relu", "tanh"],
    }
    assert space["aug"]["choices"] == [False, True]


def test_space_from_config_reports_every_error_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        space_from_config(
            {
                "lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True},
                "units": {"type": "int", "low": 64, "high": 16},
                "bad": {"type": "tensor"},
                "typo": {"type": "float", "lo": 1, "high": 2},
                "opt": {"type": "categorical"},
            }
        )
    message = info.value.message
    for part in (
        "params.lr",
        "low > 0",
        "params.units",
        "below high",
        "params.bad",
        "'tensor'",
        "params.typo",
        "'lo'",
        "params.opt",
        "choices",
    ):
        assert part in message
    assert info.value.exit_code == 2


def test_space_module_does_not_import_optuna() -> None:
    import subprocess
    import sys

    code = (
        "import sys, trainchain.space, trainchain.detection; "
        "print(any(m in sys.modules for m in ('optuna', 'sqlalchemy', 'tensorflow', "
        "'keras', 'torch', 'sklearn')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cnn_knobs_augment_batchnorm_optimizer(tmp_path: Path) -> None:
    cnn = search_space(detect(REPOS / "legacy_seed_constants"))
    assert cnn["keras.augment"]["choices"] == ["none", "flip", "flip_rotate", "flip_rotate_zoom"]
    assert cnn["keras.batchnorm"]["type"] == "bool"
    assert cnn["keras.optimizer"]["choices"] == ["adam", "sgd", "rmsprop"]
    mlp = search_space(detect(REPOS / "keras_tf_keras"))
    assert "keras.augment" not in mlp and "keras.batchnorm" not in mlp  # no image, no conv
    assert "keras.optimizer" in mlp  # any compiled Keras model can swap its optimizer
    # a script with an optimizer parameter of its own keeps it: no second knob for the same thing
    (tmp_path / "train.py").write_text(
        "import keras\nOPTIMIZER = 'adam'\n"
        "model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])\n"
        "model.compile(optimizer=OPTIMIZER, loss='mse')\nmodel.fit([[0.0] * 4], [0.0])\n"
    )
    own = search_space(detect(tmp_path))
    assert "OPTIMIZER" in own and "keras.optimizer" not in own
