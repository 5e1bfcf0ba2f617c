"""Each way a parameter reaches an unmodified script: constants, argparse, click, prompts, env."""

from __future__ import annotations

import pytest

from conftest import RunAgent


def test_constants_are_rewritten_and_typed_like_the_default(run_agent: RunAgent) -> None:
    run = run_agent(
        """
        EPOCHS = 5
        add_layers=1
        LR: float = 0.1
        NAME = "base"
        COMPUTED = EPOCHS * 2
        def f():
            EPOCHS = 99
            return EPOCHS
        print(EPOCHS, add_layers, LR, NAME, COMPUTED, f())
        """,
        params={"EPOCHS": 7.0, "add_layers": "3", "LR": 1, "NAME": "tuned", "COMPUTED": 1},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["7", "3", "1.0", "tuned", "14", "99"]
    assert run.params() == {
        "EPOCHS": (7, "constant"), "add_layers": (3, "constant"),
        "LR": (1.0, "constant"), "NAME": ("tuned", "constant"),
    }  # fmt: skip
    assert run.of("params_unused")[0]["names"] == ["COMPUTED"]  # not a literal: left alone


ARGPARSE = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--learning-rate", type=float, default=0.1)
p.add_argument("--optimizer", required=True, choices=["adam", "sgd"])
p.add_argument("--augment", action="store_true")
p.add_argument("data_dir")
a = p.parse_args()
print(a.epochs, a.learning_rate, a.optimizer, a.augment, a.data_dir)
"""


def test_argparse_defaults_required_and_positionals(run_agent: RunAgent) -> None:
    params = {"epochs": 4, "learning_rate": 0.01, "optimizer": "sgd", "augment": True,
              "data_dir": "data"}  # fmt: skip
    run = run_agent(ARGPARSE, params=params)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["4", "0.01", "sgd", "True", "data"]
    assert {n: how for n, (_, how) in run.params().items()} == dict.fromkeys(params, "argparse")


def test_argparse_command_line_still_wins_and_missing_required_fails(run_agent: RunAgent) -> None:
    run = run_agent(ARGPARSE, "--epochs", "9", "here", params={"optimizer": "adam"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["9", "0.1", "adam", "False", "here"]
    run = run_agent(ARGPARSE, "here", params={})
    assert run.returncode == 2  # argparse's own usage error, exit code preserved
    assert "--optimizer" in run.stderr
    assert run.end["status"] == "error" and run.end["exception"]["type"] == "SystemExit"


def test_click_options_and_arguments_by_parameter_name(run_agent: RunAgent) -> None:
    pytest.importorskip("click")
    script = """
    import click

    @click.command()
    @click.option("--epochs", default=1, type=int)
    @click.option("--batch-size", required=True, type=int)
    @click.option("--lr", default=0.1)
    @click.argument("data")
    def main(epochs, batch_size, lr, data):
        print(epochs, batch_size, lr, data)

    if __name__ == "__main__":
        main()
    """
    run = run_agent(script, "--lr", "0.5", params={"epochs": 3, "batch_size": "64", "data": "d"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["3", "64", "0.5", "d"]  # the command line still wins for lr
    assert run.params() == {"epochs": (3, "click"), "batch_size": ("64", "click"),
                            "data": ("d", "click")}  # fmt: skip


PROMPTS = """
n = int(input("Enter no_of_epoch:"))
layers = int(input("Number of layers (default 2)? "))
print("got", n * 10, layers)
"""


def test_prompts_are_answered_echoed_and_recorded(run_agent: RunAgent) -> None:
    run = run_agent(PROMPTS, params={"no_of_epoch": 5, "layers": 3})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "Enter no_of_epoch:5", "Number of layers (default 2)? 3", "got 50 3",
    ]  # fmt: skip
    prompts = run.of("prompt")
    assert [(p["prompt"], p["param"], p["value"]) for p in prompts] == [
        ("Enter no_of_epoch:", "no_of_epoch", 5),
        ("Number of layers (default 2)? ", "layers", 3),  # a name inside the prompt
    ]
    assert run.params()["no_of_epoch"] == (5, "prompt")
    assert not run.metrics("stdout")  # the echoed answers are not metrics


def test_a_bare_input_is_asked_by_the_print_before_it_or_named_by_its_variable(
    run_agent: RunAgent,
) -> None:
    run = run_agent(
        """
        print("Enter no_of_epoch:")
        n = int(input())
        print("Number of units? ")
        units = input()
        batch = int(input())  # the units question was answered: this one is "batch"
        print("got", n, units, batch)
        """,
        params={"no_of_epoch": 4, "number_of_units": 32, "batch": 16},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "got 4 32 16"
    assert [(p["prompt"], p["param"]) for p in run.of("prompt")] == [
        ("Enter no_of_epoch:", "no_of_epoch"),
        ("Number of units? ", "number_of_units"),
        ("batch", "batch"),
    ]


def test_an_unassigned_bare_input_names_its_line(run_agent: RunAgent) -> None:
    run = run_agent("print('start')\ninput()\nprint(int(input()) + 1)\n", params={"start": 1})
    assert run.returncode == 2
    assert "'input() at train.py:3'" in run.stderr and "--param NAME=" in run.stderr


def test_unanswered_prompt_fails_with_the_parameter_to_set(run_agent: RunAgent) -> None:
    run = run_agent(
        """
        try:
            n = int(input("Enter no_of_epoch:"))
        except Exception:
            n = 1  # a script's broad except must not swallow the failure
        print("trained", n)
        """,
        params={},
    )
    assert run.returncode == 2
    assert "'Enter no_of_epoch:'" in run.stderr
    assert "--param no_of_epoch=" in run.stderr
    assert "trained" not in run.stdout
    assert run.end["status"] == "error"
    assert run.end["exception"]["type"] == "UnansweredPrompt"
    assert run.end["exception"]["file"] == "train.py" and run.end["exception"]["line"] == 3


def test_params_are_readable_from_the_environment_and_the_sdk(run_agent: RunAgent) -> None:
    run = run_agent(
        """
        import json, os
        import trainchain.agent as tc
        print(json.loads(os.environ["TRAINCHAIN_PARAMS"])["units"], tc.params()["units"])
        """,
        params={"units": 64},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["64", "64"]
    assert run.params() == {"units": (64, "env")}
    assert not run.of("params_unused")


def test_invalid_params_json_is_refused_before_the_script_runs(run_agent: RunAgent) -> None:
    run = run_agent("print('never')", extra_env={"TRAINCHAIN_PARAMS": "[1, 2]"})
    assert run.returncode == 2
    assert "TRAINCHAIN_PARAMS must be a JSON object, got list" in run.stderr
    assert "never" not in run.stdout
    run = run_agent("print('never')", extra_env={"TRAINCHAIN_PARAMS": "{epochs: 5}"})
    assert run.returncode == 2
    assert "TRAINCHAIN_PARAMS is not valid JSON" in run.stderr
