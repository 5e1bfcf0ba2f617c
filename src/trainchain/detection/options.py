"""argparse and click options of an entrypoint: name, flag, default, type, choices, required.

Read from the AST only: ``add_argument`` calls (on a parser or an argument group) in a file that
imports argparse, and ``@click.option`` / ``@click.argument`` decorators.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from trainchain.detection.pyast import dotted, literal, type_of
from trainchain.detection.result import Parameter

_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool"}
_CLICK_TYPES = {
    "INT": "int",
    "FLOAT": "float",
    "STRING": "str",
    "BOOL": "bool",
    "Path": "str",
    "File": "str",
    "UUID": "str",
}


# --- argparse ---------------------------------------------------------------------------------


def is_argparse_add(call: ast.Call, aliases: dict[str, str]) -> bool:
    return (
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "add_argument"
        and any(v.split(".", 1)[0] == "argparse" for v in aliases.values())
    )


def argparse_options(
    calls: list[ast.Call], file: str, values: dict[str, Any]
) -> Iterator[Parameter]:
    for call in calls:
        decls = [
            a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        action = literal(kw.get("action"))[1]
        if not decls or action in ("help", "version") or "-h" in decls:
            continue
        positional = not decls[0].startswith("-")
        longs = [d for d in decls if d.startswith("--")]
        flag = None if positional else (longs or decls)[0]
        dest = literal(kw.get("dest"))[1]
        name = dest if isinstance(dest, str) else (flag or decls[0]).lstrip("-").replace("-", "_")
        default = option_default(kw.get("default"), values)
        nargs = literal(kw.get("nargs"))[1]
        if action in ("store_true", "store_false"):
            ptype, default = "bool", (action == "store_false") if default is None else default
        elif action == "count":
            ptype, default = "int", default or 0
        else:
            ptype = _callable_type(kw.get("type")) or (
                type_of(default) if default is not None else "str"
            )
        if nargs in ("+", "*") or isinstance(nargs, int) and nargs > 1:
            ptype = "list"
        required = literal(kw.get("required"))[1] is True or (
            positional and nargs not in ("?", "*") and default is None
        )
        ok, choices = literal(kw.get("choices"))
        yield Parameter(
            name,
            "argparse",
            ptype,
            default,
            file,
            call.lineno,
            choices=tuple(choices) if ok and isinstance(choices, list) else None,
            required=required,
            flag=flag,
        )


def option_default(node: ast.expr | None, values: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in values:
        return values[node.id]  # default=EPOCHS: the constant's value
    return literal(node)[1]


def _callable_type(node: ast.expr | None) -> str | None:
    name = dotted(node) if node is not None else None
    if name is None:
        return None
    tail = name.rsplit(".", 1)[-1]
    if tail in _TYPES:
        return _TYPES[tail]
    if tail in _CLICK_TYPES:
        return _CLICK_TYPES[tail]
    return "bool" if "bool" in tail.lower() else "str"


# --- click ------------------------------------------------------------------------------------


def click_kind(call: ast.Call, aliases: dict[str, str]) -> str | None:
    name = dotted(call.func)
    if not name:
        return None
    head, _, rest = name.partition(".")
    full = aliases.get(head, head) + ("." + rest if rest else "")
    return full.rsplit(".", 1)[1] if full in ("click.option", "click.argument") else None


def click_options(
    calls: list[ast.Call], file: str, aliases: dict[str, str], values: dict[str, Any]
) -> Iterator[Parameter]:
    for call in calls:
        kind = click_kind(call, aliases)
        decls = [
            a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        if not decls:
            continue
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        plain = [d for d in decls if d.isidentifier()]
        dashed = [d.split("/", 1)[0] for d in decls if d.startswith("-")]
        longs = [d for d in dashed if d.startswith("--")]
        flag = (longs or dashed)[0] if kind == "option" and dashed else None
        name = (plain or [flag or decls[0]])[0].lstrip("-").replace("-", "_").lower()
        default = option_default(kw.get("default"), values)
        is_flag = literal(kw.get("is_flag"))[1] is True or any("/" in d for d in decls)
        ptype, choices, low, high = _click_type(kw.get("type"), aliases)
        if is_flag:
            ptype, default = "bool", bool(default)
        elif ptype is None:
            ptype = type_of(default) if default is not None else "str"
        required = literal(kw.get("required"))[1] is True or (
            kind == "argument" and default is None
        )
        yield Parameter(
            name,
            "click",
            ptype,
            default,
            file,
            call.lineno,
            choices=choices,
            required=required,
            flag=flag,
            low=low,
            high=high,
        )


def _click_type(
    node: ast.expr | None, aliases: dict[str, str]
) -> tuple[str | None, tuple[Any, ...] | None, float | None, float | None]:
    if isinstance(node, ast.Call):
        tail = (dotted(node.func) or "").rsplit(".", 1)[-1]
        args = [literal(a)[1] for a in node.args]
        if tail == "Choice" and args and isinstance(args[0], list):
            return type_of(args[0][0]) if args[0] else "str", tuple(args[0]), None, None
        if tail in ("IntRange", "FloatRange"):
            low = args[0] if args else literal(_kw(node, "min"))[1]
            high = args[1] if len(args) > 1 else literal(_kw(node, "max"))[1]
            return ("int" if tail == "IntRange" else "float"), None, low, high
        return _CLICK_TYPES.get(tail, "str"), None, None, None
    return _callable_type(node), None, None, None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)
