"""Queries over ``arguments.json``: what a framework argument needs (data, not code).

A flow is ``"<api>.<argument>"`` (``"sklearn.LogisticRegression.C"``, ``"keras.fit.epochs"``,
``"torch.optim.SGD.lr"``); ``rule_for`` gives the first row of the table whose pattern matches
it, ``positional`` the names of an API's positional arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from typing import Any

FULL_PASS = "full_pass"  # a row's default meaning one pass over the training input


@dataclass(frozen=True)
class ArgumentRule:
    """One row: the range an argument is known to need and why."""

    patterns: tuple[str, ...]
    why: str
    role: str | None = None  # a space.py role (epochs, lr, reg, width...); "skip": not searched
    type: str | None = None  # "int" | "float"
    low: float | None = None  # band always inside the range
    high: float | None = None
    min: float | None = None  # the range never leaves min..max
    max: float | None = None
    log: bool = False
    default: Any = None  # baseline value for a parameter without one

    def matches(self, flow: str) -> bool:
        return any(fnmatchcase(flow, pattern) for pattern in self.patterns)


@cache
def load_arguments() -> dict[str, Any]:
    text = resources.files("trainchain.detection").joinpath("arguments.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


@cache
def rules() -> tuple[ArgumentRule, ...]:
    out = []
    for row in load_arguments()["arguments"]:
        fields = {k: v for k, v in row.items() if k != "flow"}
        out.append(ArgumentRule(patterns=tuple(row["flow"]), **fields))
    return tuple(out)


def rule_for(flow: str) -> ArgumentRule | None:
    """The first row that knows ``flow``, or None."""
    return next((rule for rule in rules() if rule.matches(flow)), None)


def first_rule(flows: tuple[str, ...] | list[str]) -> tuple[str, ArgumentRule] | None:
    """The first of ``flows`` (in order) that a row knows, with that row."""
    for flow in flows:
        rule = rule_for(flow)
        if rule is not None:
            return flow, rule
    return None


@cache
def role_rule(role: str | None) -> ArgumentRule | None:
    """The band of a role known only from a parameter's name (``lr``), if the table has one."""
    row = load_arguments()["roles"].get(role or "")
    return ArgumentRule(patterns=(), **row) if row else None


def positional(api: str) -> tuple[str, ...]:
    """Names of ``api``'s positional arguments, in order (empty when unknown)."""
    for pattern, names in load_arguments()["positional"].items():
        if fnmatchcase(api, pattern):
            return tuple(names)
    return ()


def canonical(flow: str) -> str:
    """Fold an old spelling into the table's (``keras.optimizer.lr`` -> ``...learning_rate``)."""
    renamed: str = load_arguments()["renames"].get(flow, flow)
    return renamed
