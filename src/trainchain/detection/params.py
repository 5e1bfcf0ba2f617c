"""The knobs of an entrypoint: constants, argparse/click options and ``input()`` prompts.

Constants count when they are module-level literals (int, float, bool, short string) that are
read as an argument of some call (``fit(epochs=EPOCHS)``, ``range(add_layers)``,
``Dense(UNITS * 2)``) or as a condition (``if AUGMENT:``), never only by ``print``/logging,
and never paths, URLs, seeds or verbosity. Options keep the parser's own names, defaults,
types and choices. Prompts are listed in source order with the type they are cast to.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from trainchain.agent.naming import prompt_param_name
from trainchain.detection.flows import token_flows
from trainchain.detection.options import (
    argparse_options,
    click_kind,
    click_options,
    is_argparse_add,
)
from trainchain.detection.pyast import dotted, literal, module_assignments, type_of
from trainchain.detection.result import Parameter

_SKIP_NAMES = re.compile(
    r"seed|random_state|verbos|n_jobs|workers|gpu|cuda|device|debug|port|host|^log|_log$|"
    r"dir$|path|file|url|folder|^_",
    re.I,
)
_PATHLIKE = re.compile(r"[/\\]|://|^[.~]|\.[A-Za-z0-9]{1,5}$")
_QUIET_CALLS = re.compile(
    r"^(print|str|repr|format|open|len|isinstance|getattr|setattr|"
    r"(logging|log|logger|_log|LOGGER|LOG)\.\w+|\w+\.format|\w+\.write|"
    r"os\.path\.\w+|Path|os\.\w+)$"
)
_MAX_STR = 40


def extract(
    tree: ast.Module, file: str, aliases: dict[str, str], framework: str | None = None
) -> list[Parameter]:
    """All parameters of the entrypoint ``tree`` (constants, argparse, click, prompts), each
    with the framework arguments its value reaches (``flows_into``)."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    option_defaults = set()
    found: list[Parameter] = []
    for call in calls:
        if is_argparse_add(call, aliases) or click_kind(call, aliases):
            option_defaults |= {
                k.value.id
                for k in call.keywords
                if k.arg == "default" and isinstance(k.value, ast.Name)
            }
    constants = _constants(tree)
    used = _names_feeding_calls(calls, tree) - option_defaults
    for name, (value, line) in constants.items():
        if name in used and _is_knob(name, value):
            found.append(Parameter(name, "constant", type_of(value), value, file, line))
    values = {name: value for name, (value, _) in constants.items()}
    argparse_calls = [c for c in calls if is_argparse_add(c, aliases)]
    found.extend(argparse_options(sorted(argparse_calls, key=_pos), file, values))
    click_calls = [c for c in calls if click_kind(c, aliases)]
    found.extend(click_options(sorted(click_calls, key=_pos), file, aliases, values))
    found.extend(_prompts(tree, calls, file))
    reached = token_flows(tree, aliases, framework)
    return [replace(p, flows_into=reached.get(_token(p), ())) for p in _unique(found)]


def _token(param: Parameter) -> tuple[str, str]:
    """How the parameter's value first appears in the code (see ``flows.origin``)."""
    if param.source == "argparse":
        return ("attr", param.name)  # args.<dest>
    if param.source == "prompt":
        return ("input", str(param.line))
    return ("name", param.name)


def reads_params_env(tree: ast.Module | None) -> bool:
    """True when the code reads its parameters itself: the SDK (``trainchain.agent``) or the
    ``TRAINCHAIN_PARAMS`` variable; then any parameter name may be used."""
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Constant) and node.value == "TRAINCHAIN_PARAMS":
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trainchain"):
            return True
        if isinstance(node, ast.Import) and any(
            a.name.startswith("trainchain") for a in node.names
        ):
            return True
    return False


def _pos(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


# --- constants --------------------------------------------------------------------------------


def _constants(tree: ast.Module) -> dict[str, tuple[Any, int]]:
    out: dict[str, tuple[Any, int]] = {}
    for name, value, line in module_assignments(tree):
        ok, constant = literal(value)
        if ok and isinstance(constant, int | float | str) and name not in out:
            out[name] = (constant, line)
        elif name in out:
            out.pop(name)  # reassigned to something computed: not a plain knob
    return out


def _is_knob(name: str, value: Any) -> bool:
    if _SKIP_NAMES.search(name):
        return False
    if isinstance(value, str):
        return 0 < len(value) <= _MAX_STR and not _PATHLIKE.search(value) and " " not in value
    return True


def _names_feeding_calls(calls: list[ast.Call], tree: ast.Module) -> set[str]:
    used: set[str] = set()
    for call in calls:
        func = dotted(call.func)
        if func and _QUIET_CALLS.match(func):
            continue
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            used |= _names_in(arg)
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.While | ast.IfExp):
            used |= _names_in(node.test)
    return used


def _names_in(node: ast.expr) -> set[str]:
    """Names read in ``node``, not looking into nested calls (they count on their own)
    nor f-strings (formatting a value is not using it)."""
    names: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name):
            names.add(item.id)
        elif not isinstance(item, ast.Call | ast.JoinedStr | ast.Lambda):
            stack.extend(ast.iter_child_nodes(item))
    return names


# --- prompts ----------------------------------------------------------------------------------


def _prompts(tree: ast.Module, calls: list[ast.Call], file: str) -> Iterator[Parameter]:
    inputs = sorted(
        (c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "input"), key=_pos
    )
    if not inputs:
        return
    casts: dict[int, str] = {}
    var_of: dict[int, str] = {}
    for call in calls:  # int(input(...)), float(input(...))
        if isinstance(call.func, ast.Name) and call.args and isinstance(call.args[0], ast.Call):
            cast = {"int": "int", "float": "float", "bool": "bool", "eval": "float"}.get(
                call.func.id
            )
            if cast:
                casts[id(call.args[0])] = cast
    later_casts: dict[str, str] = {}
    for call in calls:  # x = input(...); n = int(x)
        if (
            isinstance(call.func, ast.Name)
            and call.func.id in ("int", "float")
            and call.args
            and isinstance(call.args[0], ast.Name)
        ):
            later_casts.setdefault(call.args[0].id, call.func.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            value = node.value
            inner = value.args[0] if isinstance(value, ast.Call) and value.args else None
            for candidate in (value, inner):
                if isinstance(candidate, ast.Call) and candidate in inputs:
                    var_of[id(candidate)] = node.targets[0].id
    prints = sorted(
        (c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "print"), key=_pos
    )
    previous: tuple[int, int] = (0, 0)
    for index, call in enumerate(inputs, 1):
        text = _prompt_text(call) or _printed_before(call, prints, previous)
        previous = _pos(call)
        var = var_of.get(id(call))
        ptype = casts.get(id(call)) or (later_casts.get(var, "str") if var else "str")
        name = prompt_param_name(text) if text.strip() else (var or f"prompt_{index}")
        yield Parameter(name, "prompt", ptype, None, file, call.lineno, required=True, prompt=text)


def _printed_before(call: ast.Call, prints: list[ast.Call], after: tuple[int, int]) -> str:
    """``print("Enter no_of_epoch:"); input()``: the question is the last text printed since
    the previous prompt (what the agent reads off the screen when it answers)."""
    before = [p for p in prints if after < _pos(p) < _pos(call)]
    return _prompt_text(before[-1]) if before else ""


def _prompt_text(call: ast.Call) -> str:
    if not call.args:
        return ""
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):  # keep the constant parts of an f-string prompt
        return "".join(
            v.value for v in arg.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return ""


def _unique(params: list[Parameter]) -> list[Parameter]:
    seen: set[str] = set()
    out = []
    for param in params:
        if param.name not in seen:
            seen.add(param.name)
            out.append(param)
    return out
