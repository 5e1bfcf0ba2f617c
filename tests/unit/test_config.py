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


# --- params: one validator (ParamSpec), the forms the docs show ------------------------------
def _yaml_blocks(text: str) -> list[str]:
    import re

    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def test_every_trainchain_yaml_snippet_in_the_docs_loads(tmp_path: Path) -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    checked = 0
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for block in _yaml_blocks(doc.read_text()):
            data = yaml.safe_load(block)
            if not isinstance(data, dict) or not set(data) <= set(Config.model_fields):
                continue  # not a trainchain.yaml (a Jenkins or server snippet)
            (tmp_path / "trainchain.yaml").write_text(block)
            try:
                load_config(tmp_path)
            except ConfigError as exc:
                raise AssertionError(f"a snippet of {doc.name} is rejected:\n{exc}") from exc
            checked += 1
    assert checked >= 3


def test_shorthand_params_normalise_to_one_shape(tmp_path: Path) -> None:
    from trainchain.config import ParamSpec

    write(
        tmp_path,
        "params:\n  units: {low: 16, high: 256}\n  act: [relu, tanh]\n"
        "  lr: {low: 0.0001, high: 0.1, log: true}\n  EPOCHS: 10\n",
    )
    params = load_config(tmp_path).params
    assert params["units"] == ParamSpec(type="int", low=16, high=256)
    assert params["act"] == ParamSpec(type="categorical", choices=["relu", "tanh"])
    assert isinstance(params["lr"], ParamSpec) and params["lr"].type == "float"
    assert params["EPOCHS"] == 10


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("{type: float, low: 0.1, high: 0.01}", "low 0.1 must be below high 0.01"),
        ("{type: float, low: 0, high: 1, log: true}", "log: true needs low > 0"),
        ("{type: int, low: 1, high: 10, step: 4}", "step 4 does not divide"),
        ("{type: categorical}", "non-empty list `choices:`"),
        ("{low: 1, hgh: 2}", "unknown key 'hgh' in params.x; allowed keys: choices"),
        ("{type: int, low: 0.5, high: 3}", "whole-number bounds"),
    ],
)
def test_a_bad_param_names_its_line_and_what_is_wrong(
    tmp_path: Path, entry: str, says: str
) -> None:
    write(tmp_path, f"target: 0.9\nparams:\n  y: 3\n  x: {entry}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    message = info.value.message
    assert "trainchain.yaml:4: " in message and "params.x" in message, message
    assert says in message, message
    assert "union" not in message.lower() and message.count("\n") == 1, message


def test_errors_name_the_file_as_the_user_knows_it(tmp_path: Path) -> None:
    write(tmp_path, "target: [1]\n")
    with pytest.raises(ConfigError, match=r"^invalid configuration:\n  repo/trainchain.yaml:1"):
        load_config(tmp_path, shown_as="repo/trainchain.yaml")


def test_a_huge_bad_value_is_quoted_short(tmp_path: Path) -> None:
    write(tmp_path, "target: [" + ", ".join(["1"] * 5000) + "]\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert len(info.value.message) < 600
