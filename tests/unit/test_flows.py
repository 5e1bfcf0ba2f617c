"""Where a parameter's value goes (``flows_into``) and the argument table, row by row."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from trainchain.agent import FULL_PASS_STEPS
from trainchain.detection.arguments import (
    FULL_PASS,
    load_arguments,
    positional,
    role_rule,
    rule_for,
    rules,
)
from trainchain.profiles import detect, search_space
from trainchain.space import ROLES, baseline_value, param_space, resolve_space


def _flows(tmp_path: Path, code: str) -> dict[str, tuple[str, ...]]:
    (tmp_path / "train.py").write_text(code)
    return {p.name: p.flows_into for p in detect(tmp_path).parameters}


def test_prompt_through_a_variable_and_a_cast_reaches_steps_per_epoch(tmp_path: Path) -> None:
    flows = _flows(
        tmp_path,
        (
            "from keras.models import Sequential\n"
            "from keras.layers import Dense, Dropout\n"
            "steps = int(input('Enter steps_per_epoch: '))\n"
            "no_of_epoch = int(input('Enter no_of_epoch: '))\n"
            "UNITS = 64\nRATE = 0.3\n"
            "model = Sequential([Dense(UNITS), Dropout(RATE), Dense(1)])\n"
            "model.fit(None, steps_per_epoch=steps, epochs=no_of_epoch, validation_steps=800)\n"
        ),
    )
    assert flows == {
        "steps_per_epoch": ("keras.fit.steps_per_epoch",),
        "no_of_epoch": ("keras.fit.epochs",),
        "UNITS": ("keras.layers.Dense.units",),
        "RATE": ("keras.layers.Dropout.rate",),
    }


def test_sklearn_torch_and_keras_optimizers(tmp_path: Path) -> None:
    flows = _flows(
        tmp_path,
        (
            "import torch\nfrom torch import optim\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from tensorflow.keras.optimizers import Adam\n"
            "C = 1e-8\nLR = 0.1\nKLR = 0.001\nOLD = 0.01\n"
            "net = torch.nn.Linear(4, 2)\n"
            "opt = optim.SGD(net.parameters(), lr=LR)\n"
            "LogisticRegression(C=C).fit([[0], [1]], [0, 1])\n"
            "Adam(learning_rate=KLR)\nAdam(lr=OLD)\n"
            "net(torch.zeros(1, 4)).sum().backward()\n"
        ),
    )
    assert flows["C"] == ("sklearn.LogisticRegression.C",)
    assert flows["LR"] == ("torch.optim.SGD.lr",)
    assert flows["KLR"] == ("keras.optimizer.learning_rate",)
    assert flows["OLD"] == ("keras.optimizer.learning_rate",)  # Keras 2's lr= folded in


def test_positional_arguments_options_and_local_functions(tmp_path: Path) -> None:
    flows = _flows(
        tmp_path,
        (
            "import argparse\nfrom keras import layers, optimizers, Sequential\n"
            "parser = argparse.ArgumentParser()\n"
            "parser.add_argument('--lr', type=float, default=0.01)\n"
            "parser.add_argument('--filters', type=int, default=32)\n"
            "args = parser.parse_args()\n"
            "WIDTH = 128\nEPOCHS = 3\nDOUBLE = 16\n"
            "def build(width, rate=args.lr):\n"
            "    model = Sequential([layers.Conv2D(args.filters, 3), layers.Dense(width),\n"
            "                        layers.Dense(DOUBLE * 2)])\n"
            "    model.compile(optimizer=optimizers.SGD(rate))\n"
            "    return model\n"
            "build(WIDTH).fit(None, None, 32, EPOCHS)\n"
        ),
    )
    assert flows["lr"] == ("keras.optimizer.learning_rate",)
    assert flows["filters"] == ("keras.layers.Conv2D.filters",)
    assert flows["WIDTH"] == ("keras.layers.Dense.units",)
    assert flows["EPOCHS"] == ("keras.fit.epochs",)
    assert flows["DOUBLE"] == ()  # arithmetic: the argument's range is not the parameter's


def test_fit_of_an_sklearn_script_is_not_a_keras_fit(tmp_path: Path) -> None:
    flows = _flows(
        tmp_path, ("from sklearn.svm import SVC\nN = 5\nX = [[0], [1]]\nSVC().fit(X, [0, 1], N)\n")
    )
    assert "N" not in flows or flows["N"] == ()


def test_repos_record_flows(tmp_path: Path) -> None:
    repos = Path(__file__).resolve().parents[1] / "repos"
    found = {p.name: p for p in detect(repos / "prompts_catdog").parameters}
    assert found["units"].flows_into == ("keras.layers.Dense.units",)
    assert found["units"].to_dict()["flows_into"] == ["keras.layers.Dense.units"]


# --- the table, row by row ------------------------------------------------------------------

ROWS = list(enumerate(rules()))


@pytest.mark.parametrize(("index", "rule"), ROWS, ids=[r.patterns[0] for _, r in ROWS])
def test_every_row_is_consistent_and_reachable(index: int, rule: Any) -> None:
    assert rule.patterns and rule.why
    assert rule.role is None or rule.role in ROLES, rule.role
    assert rule.type in (None, "int", "float")
    if rule.low is not None or rule.high is not None:
        assert rule.low is not None and rule.high is not None and rule.low < rule.high
    lo = rule.min if rule.min is not None else -math.inf
    hi = rule.max if rule.max is not None else math.inf
    for bound in (rule.low, rule.high):
        assert bound is None or lo <= bound <= hi
    if rule.log:
        assert (rule.low is None or rule.low > 0) and (rule.min is None or rule.min > 0)
    assert rule.default in (None, FULL_PASS) or lo <= rule.default <= hi
    for pattern in rule.patterns:  # no row is hidden by an earlier one
        example = pattern.replace("*", "Xyz")
        assert rule_for(example) is rules()[index], (pattern, rule_for(example))
        if rule.role == "skip":
            continue
        default = rule.default if isinstance(rule.default, int | float) else None
        param = {
            "name": "p",
            "source": "constant",
            "type": rule.type or "float",
            "default": default,
            "flows_into": [example],
        }
        spec = param_space(param)
        assert spec is not None and example in spec["why"], (pattern, spec)
        if spec["low"] is not None:
            assert spec["low"] < spec["high"] and lo <= spec["low"] and spec["high"] <= hi
            if rule.low is not None:  # the useful band is always covered
                assert spec["low"] <= rule.low and rule.high <= spec["high"]


def test_positional_and_renames_point_at_known_arguments() -> None:
    table = load_arguments()
    assert positional("keras.layers.Dense") == ("units",)
    assert positional("torch.optim.Adam") == ("params", "lr")
    assert positional("unknown.api") == ()
    for target in table["renames"].values():
        assert rule_for(target) is not None, target
    assert role_rule("lr") is not None and role_rule("epochs") is None


# --- ranges from what a parameter does -----------------------------------------------------


def _const(name: str, value: Any, *flows: str, **extra: Any) -> dict[str, Any]:
    type_ = "int" if isinstance(value, int) else "float"
    return {
        "name": name,
        "source": "constant",
        "type": type_,
        "default": value,
        "flows_into": list(flows),
        **extra,
    }


def test_a_regularisation_strength_far_from_useful_gets_the_useful_band() -> None:
    spec = param_space(_const("C", 1e-8, "sklearn.LogisticRegression.C"))
    assert spec is not None and spec["log"]
    assert spec["low"] == pytest.approx(1e-4) and spec["high"] == pytest.approx(100)
    assert "default 1e-08 lies outside" in spec["why"]
    # by name alone (no flow) it stays the old band around the default
    plain = param_space(_const("C", 1e-8))
    assert plain is not None and plain["high"] == pytest.approx(1e-6)


def test_the_learning_rate_widening_is_one_case_of_the_rule() -> None:
    by_flow = param_space(_const("rate", 1e-4, "keras.optimizer.learning_rate"))
    by_name = param_space(_const("lr", 1e-4))
    assert by_flow is not None and by_name is not None
    assert (by_flow["low"], by_flow["high"]) == pytest.approx((1e-5, 1e-2))
    assert (by_name["low"], by_name["high"]) == pytest.approx((1e-5, 1e-2))
    sgd = param_space(_const("LR", 0.1, "torch.optim.SGD.lr"))
    assert sgd is not None and sgd["high"] == pytest.approx(1.0) and sgd["low"] == 1e-3


def test_a_name_that_says_steps_is_not_an_epoch_count() -> None:
    spec = param_space(_const("steps_per_epoch", 5))
    assert spec is not None and spec["high"] >= 50  # a count, not the epochs band 2..20


def test_steps_range_up_to_one_pass_seen_by_the_baseline() -> None:
    prompt = {
        "name": "steps_per_epoch",
        "source": "prompt",
        "type": "int",
        "default": None,
        "required": True,
        "flows_into": ["keras.fit.steps_per_epoch"],
    }
    assert baseline_value(prompt) == FULL_PASS_STEPS
    spec = param_space(prompt)
    assert spec is not None and spec["full_pass"] == "train" and spec["low"] is None
    sizes = {"type": "data", "train_batches": 250, "batch_size": 32, "val_batches": 63}
    space, notes = resolve_space({"steps_per_epoch": spec}, sizes)
    assert (space["steps_per_epoch"]["low"], space["steps_per_epoch"]["high"]) == (62, 250)
    assert "one full pass (250 batches of 32" in space["steps_per_epoch"]["why"]
    assert notes and "steps_per_epoch: 62 .. 250" in notes[0]
    unknown, notes = resolve_space({"steps_per_epoch": spec}, None)
    assert unknown == {} and "not searched" in notes[0]
    with_default = param_space(_const("STEPS", 40, "keras.fit.steps_per_epoch"))
    assert with_default is not None
    space, _ = resolve_space({"STEPS": with_default}, sizes)
    assert (space["STEPS"]["low"], space["STEPS"]["high"]) == (20, 250)


def test_validation_steps_and_input_sizes_are_not_searched() -> None:
    assert param_space(_const("VAL", 800, "keras.fit.validation_steps")) is None
    assert param_space(_const("n_in", 784, "torch.nn.Linear.in_features")) is None


def test_keras_knobs_come_from_the_table(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "from keras import Sequential, layers\nimport numpy as np\n"
        "m = Sequential([layers.Dense(1)])\nm.compile(optimizer='adam')\n"
        "m.fit(np.zeros((4, 1)), np.zeros(4), batch_size=16)\n"
    )
    space = search_space(detect(tmp_path))
    assert "keras.optimizer.learning_rate" in space["keras.learning_rate"]["why"]
    assert (space["keras.batch_size"]["low"], space["keras.batch_size"]["high"]) == (4, 64)
