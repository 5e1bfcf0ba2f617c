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
from typing import Any

from trainchain.agent.naming import prompt_param_name
from trainchain.detection.result import Parameter

_SKIP_NAMES = re.compile(
    r"seed|random_state|verbos|n_jobs|workers|gpu|cuda|device|debug|port|host|^log|_log$|"
    r"dir$|path|file|url|folder|^_", re.I)
_PATHLIKE = re.compile(r"[/\\]|://|^[.~]|\.[A-Za-z0-9]{1,5}$")
_QUIET_CALLS = re.compile(r"^(print|str|repr|format|open|len|isinstance|getattr|setattr|"
                          r"(logging|log|logger|_log|LOGGER|LOG)\.\w+|\w+\.format|\w+\.write|"
                          r"os\.path\.\w+|Path|os\.\w+)$")
_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool"}
_CLICK_TYPES = {"INT": "int", "FLOAT": "float", "STRING": "str", "BOOL": "bool", "Path": "str",
                "File": "str", "UUID": "str"}
_MAX_STR = 40


def extract(tree: ast.Module, file: str, aliases: dict[str, str]) -> list[Parameter]:
    """All parameters of the entrypoint ``tree`` (constants, argparse, click, prompts)."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    option_defaults = set()
    found: list[Parameter] = []
    for call in calls:
        if _is_argparse_add(call, aliases) or _click_kind(call, aliases):
            option_defaults |= {k.value.id for k in call.keywords
                                if k.arg == "default" and isinstance(k.value, ast.Name)}
    constants = _constants(tree)
    used = _names_feeding_calls(calls, tree) - option_defaults
    for name, (value, line) in constants.items():
        if name in used and _is_knob(name, value):
            found.append(Parameter(name, "constant", _type_of(value), value, file, line))
    values = {name: value for name, (value, _) in constants.items()}
    argparse_calls = [c for c in calls if _is_argparse_add(c, aliases)]
    found.extend(_argparse(sorted(argparse_calls, key=_pos), file, values))
    click_calls = [c for c in calls if _click_kind(c, aliases)]
    found.extend(_click(sorted(click_calls, key=_pos), file, aliases, values))
    found.extend(_prompts(tree, calls, file))
    return _unique(found)


def _pos(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def _literal(node: ast.expr | None) -> tuple[bool, Any]:
    """(True, value) for a literal number/bool/str/None or list/tuple of them."""
    if node is None:
        return False, None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    if isinstance(value, int | float | str | bool | list | tuple) or value is None:
        return True, list(value) if isinstance(value, tuple) else value
    return False, None


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list):
        return "list"
    return {int: "int", float: "float"}.get(type(value), "str")


# --- constants --------------------------------------------------------------------------------


def _constants(tree: ast.Module) -> dict[str, tuple[Any, int]]:
    out: dict[str, tuple[Any, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        ok, literal = _literal(value)
        if ok and isinstance(literal, int | float | str) and target.id not in out:
            out[target.id] = (literal, node.lineno)
        elif target.id in out:
            out.pop(target.id)  # reassigned to something computed: not a plain knob
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
        func = _dotted(call.func)
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


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


# --- argparse ---------------------------------------------------------------------------------


def _is_argparse_add(call: ast.Call, aliases: dict[str, str]) -> bool:
    return (isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"
            and any(v.split(".", 1)[0] == "argparse" for v in aliases.values()))


def _argparse(calls: list[ast.Call], file: str, values: dict[str, Any]) -> Iterator[Parameter]:
    for call in calls:
        decls = [a.value for a in call.args if isinstance(a, ast.Constant)
                 and isinstance(a.value, str)]
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        action = _literal(kw.get("action"))[1]
        if not decls or action in ("help", "version") or "-h" in decls:
            continue
        positional = not decls[0].startswith("-")
        longs = [d for d in decls if d.startswith("--")]
        flag = None if positional else (longs or decls)[0]
        dest = _literal(kw.get("dest"))[1]
        name = dest if isinstance(dest, str) else (flag or decls[0]).lstrip("-").replace("-", "_")
        default = _default(kw.get("default"), values)
        nargs = _literal(kw.get("nargs"))[1]
        if action in ("store_true", "store_false"):
            ptype, default = "bool", (action == "store_false") if default is None else default
        elif action == "count":
            ptype, default = "int", default or 0
        else:
            ptype = _callable_type(kw.get("type")) or (_type_of(default) if default is not None
                                                        else "str")
        if nargs in ("+", "*") or isinstance(nargs, int) and nargs > 1:
            ptype = "list"
        required = _literal(kw.get("required"))[1] is True or (
            positional and nargs not in ("?", "*") and default is None)
        ok, choices = _literal(kw.get("choices"))
        yield Parameter(
            name, "argparse", ptype, default, file, call.lineno,
            choices=tuple(choices) if ok and isinstance(choices, list) else None,
            required=required, flag=flag,
        )


def _default(node: ast.expr | None, values: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in values:
        return values[node.id]  # default=EPOCHS: the constant's value
    return _literal(node)[1]


def _callable_type(node: ast.expr | None) -> str | None:
    name = _dotted(node) if node is not None else None
    if name is None:
        return None
    tail = name.rsplit(".", 1)[-1]
    if tail in _TYPES:
        return _TYPES[tail]
    if tail in _CLICK_TYPES:
        return _CLICK_TYPES[tail]
    return "bool" if "bool" in tail.lower() else "str"


# --- click ------------------------------------------------------------------------------------


def _click_kind(call: ast.Call, aliases: dict[str, str]) -> str | None:
    name = _dotted(call.func)
    if not name:
        return None
    head, _, rest = name.partition(".")
    full = aliases.get(head, head) + ("." + rest if rest else "")
    return full.rsplit(".", 1)[1] if full in ("click.option", "click.argument") else None


def _click(calls: list[ast.Call], file: str, aliases: dict[str, str],
           values: dict[str, Any]) -> Iterator[Parameter]:
    for call in calls:
        kind = _click_kind(call, aliases)
        decls = [a.value for a in call.args if isinstance(a, ast.Constant)
                 and isinstance(a.value, str)]
        if not decls:
            continue
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        plain = [d for d in decls if d.isidentifier()]
        dashed = [d.split("/", 1)[0] for d in decls if d.startswith("-")]
        longs = [d for d in dashed if d.startswith("--")]
        flag = (longs or dashed)[0] if kind == "option" and dashed else None
        name = (plain or [flag or decls[0]])[0].lstrip("-").replace("-", "_").lower()
        default = _default(kw.get("default"), values)
        is_flag = _literal(kw.get("is_flag"))[1] is True or any("/" in d for d in decls)
        ptype, choices, low, high = _click_type(kw.get("type"), aliases)
        if is_flag:
            ptype, default = "bool", bool(default)
        elif ptype is None:
            ptype = _type_of(default) if default is not None else "str"
        required = _literal(kw.get("required"))[1] is True or (kind == "argument"
                                                                and default is None)
        yield Parameter(name, "click", ptype, default, file, call.lineno, choices=choices,
                        required=required, flag=flag, low=low, high=high)


def _click_type(node: ast.expr | None, aliases: dict[str, str]) -> tuple[
        str | None, tuple[Any, ...] | None, float | None, float | None]:
    if isinstance(node, ast.Call):
        tail = (_dotted(node.func) or "").rsplit(".", 1)[-1]
        args = [_literal(a)[1] for a in node.args]
        if tail == "Choice" and args and isinstance(args[0], list):
            return _type_of(args[0][0]) if args[0] else "str", tuple(args[0]), None, None
        if tail in ("IntRange", "FloatRange"):
            low = args[0] if args else _literal(_kw(node, "min"))[1]
            high = args[1] if len(args) > 1 else _literal(_kw(node, "max"))[1]
            return ("int" if tail == "IntRange" else "float"), None, low, high
        return _CLICK_TYPES.get(tail, "str"), None, None, None
    return _callable_type(node), None, None, None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


# --- prompts ----------------------------------------------------------------------------------


def _prompts(tree: ast.Module, calls: list[ast.Call], file: str) -> Iterator[Parameter]:
    inputs = sorted((c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "input"),
                    key=_pos)
    if not inputs:
        return
    casts: dict[int, str] = {}
    var_of: dict[int, str] = {}
    for call in calls:  # int(input(...)), float(input(...))
        if isinstance(call.func, ast.Name) and call.args and isinstance(call.args[0], ast.Call):
            cast = {"int": "int", "float": "float", "bool": "bool", "eval": "float"}.get(
                call.func.id)
            if cast:
                casts[id(call.args[0])] = cast
    later_casts: dict[str, str] = {}
    for call in calls:  # x = input(...); n = int(x)
        if (isinstance(call.func, ast.Name) and call.func.id in ("int", "float")
                and call.args and isinstance(call.args[0], ast.Name)):
            later_casts.setdefault(call.args[0].id, call.func.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            value = node.value
            inner = value.args[0] if isinstance(value, ast.Call) and value.args else None
            for candidate in (value, inner):
                if isinstance(candidate, ast.Call) and candidate in inputs:
                    var_of[id(candidate)] = node.targets[0].id
    for index, call in enumerate(inputs, 1):
        text = _prompt_text(call)
        var = var_of.get(id(call))
        ptype = casts.get(id(call)) or (later_casts.get(var, "str") if var else "str")
        name = prompt_param_name(text) if text.strip() else (var or f"prompt_{index}")
        yield Parameter(name, "prompt", ptype, None, file, call.lineno, required=True,
                        prompt=text)


def _prompt_text(call: ast.Call) -> str:
    if not call.args:
        return ""
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):  # keep the constant parts of an f-string prompt
        return "".join(v.value for v in arg.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return ""


def _unique(params: list[Parameter]) -> list[Parameter]:
    seen: set[str] = set()
    out = []
    for param in params:
        if param.name not in seen:
            seen.add(param.name)
            out.append(param)
    return out
