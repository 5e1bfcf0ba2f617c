"""A fixed parameter value (--param, params: NAME: VALUE) must reach the script."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainchain.errors import ConfigError
from trainchain.profiles import detect
from trainchain.stages.detect import check_fixed_params

REPOS = Path(__file__).resolve().parents[1] / "repos"


def test_typo_names_the_close_match_and_where_it_came_from() -> None:
    found = detect(REPOS / "prompts_catdog")
    with pytest.raises(ConfigError) as info:
        check_fixed_params(found, {"no_of_epochs": 5, "unit": 3}, from_cli={"no_of_epochs"})
    message = info.value.message
    assert info.value.exit_code == 2
    assert (
        "--param no_of_epochs=5 matches no parameter of cnn.py (did you mean no_of_epoch?)"
        in message
    )
    assert "params: unit: 3 in trainchain.yaml" in message and "units" in message


def test_known_names_prompt_words_and_keras_knobs_pass() -> None:
    found = detect(REPOS / "prompts_catdog")
    check_fixed_params(found, {"no_of_epoch": 2, "epoch": 2, "keras.batch_size": 8})


def test_keras_knob_on_a_non_keras_project_is_refused() -> None:
    found = detect(REPOS / "sklearn_svm_argparse")
    with pytest.raises(ConfigError, match="keras.epochs=3 matches no parameter"):
        check_fixed_params(found, {"keras.epochs": 3}, from_cli={"keras.epochs"})


def test_code_reading_trainchain_params_accepts_any_name(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import json, os\nfrom sklearn.linear_model import LogisticRegression\n"
        "C = json.loads(os.environ['TRAINCHAIN_PARAMS']).get('c', 1.0)\n"
        "LogisticRegression(C=C).fit([[0], [1]], [0, 1])\n"
    )
    found = detect(tmp_path)
    assert found.reads_params
    check_fixed_params(found, {"c": 0.5})


def test_a_module_constant_that_is_no_knob_still_takes_a_value(tmp_path: Path) -> None:
    """``MAX_IMAGES = None`` is not tunable, but the agent rewrites it like any literal."""
    from trainchain.stages.detect import settable_constants

    (tmp_path / "train.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "MAX_IMAGES = None\nC = 1.0\nrows = [i for i in range(3)]\n"
        "LogisticRegression(C=C).fit([[0], [1]], [0, 1])\n"
    )
    found = detect(tmp_path)
    settable = settable_constants(tmp_path / "train.py")
    assert {"MAX_IMAGES", "C"} <= settable and "rows" not in settable
    check_fixed_params(found, {"MAX_IMAGES": 150}, {"MAX_IMAGES"}, settable)
    with pytest.raises(ConfigError, match="did you mean MAX_IMAGES"):
        check_fixed_params(found, {"MAX_IMAGE": 150}, {"MAX_IMAGE"}, settable)
