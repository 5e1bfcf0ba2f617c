from pathlib import Path

import pytest

from trainchain.config import Config, load_config, override
from trainchain.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "trainchain.yaml").write_text(text)
    return tmp_path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert (config.metric, config.goal, config.target, config.max_trials, config.timeout) == (
        "auto",
        "maximize",
        0.80,
        20,
        None,
    )


def test_values_and_declared_params(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "target: 0.9\nparams:\n"
            "  lr: {type: float, low: 0.0001, high: 0.1, log: true}\n  EPOCHS: 4\n",
        )
    )
    assert config.target == 0.9
    assert config.params["EPOCHS"] == 4
    assert config.params["lr"].log is True  # type: ignore[union-attr]


def test_unknown_key_names_file_line_and_allowed_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "target: 0.9\n\ntargte: 0.8\n"))
    message = err.value.message
    assert "trainchain.yaml:3" in message and "'targte'" in message and "max_trials" in message


def test_all_errors_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "max_trials: 0\ngoal: up\n"))
    assert "max_trials" in err.value.message and "goal" in err.value.message


def test_invalid_yaml_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "target: 0.9\nparams: [unclosed\n"))
    assert "invalid YAML" in err.value.message and "trainchain.yaml:" in err.value.message


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_flags_override_the_file_and_merge_dicts(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "target: 0.9\ndata: {a: /x}\n"))
    merged = override(config, target=0.7, data={"b": "/y"}, metric=None)
    assert merged.target == 0.7 and merged.data == {"a": "/x", "b": "/y"}


def test_bad_flag_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_trials"):
        override(Config(), max_trials=-1)


def test_integer_bounds_stay_integers(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "params:\n  UNITS: {type: int, low: 20, high: 300}\n"))
    spec = config.params["UNITS"]
    assert spec.low == 20 and isinstance(spec.low, int)  # type: ignore[union-attr]
