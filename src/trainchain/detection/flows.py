"""Where a parameter's value goes: the framework arguments it reaches (``Parameter.flows_into``).

Flow-insensitive and within one module, as a reader would follow it: a value reaches an
argument directly (``LogisticRegression(C=C)``, ``Dense(UNITS)``), through plain assignments
and casts (``steps = int(input(...))`` ... ``fit(steps_per_epoch=steps)``), through an
attribute of the parsed options (``args.lr``) and through the parameters of a function of
the same module (``build(lr=LR)`` ... ``def build(lr): Adam(learning_rate=lr)``). Arithmetic
(``UNITS * 2``) is not followed: the argument's known range would not be the parameter's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from trainchain.detection import arguments
from trainchain.detection import knowledge as kb
from trainchain.detection.facts import resolve
from trainchain.detection.pyast import dotted

Token = tuple[str, str]  # ("name", var) | ("attr", attribute) | ("input", line)
_CASTS = frozenset({"int", "float", "round", "abs", "bool", "str", "eval"})
# methods whose arguments are Keras training arguments, by the API name flows use
_KERAS_METHODS = {
    "fit": "keras.fit",
    "fit_generator": "keras.fit",
    "flow_from_directory": "keras.flow_from_directory",
}


def origin(expr: ast.expr) -> Token | None:
    """The name, options attribute or prompt an argument expression carries unchanged."""
    while (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id in _CASTS
        and len(expr.args) == 1
        and not expr.keywords
    ):
        expr = expr.args[0]
    if isinstance(expr, ast.Name):
        return ("name", expr.id)
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        return ("attr", expr.attr)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "input":
        return ("input", str(expr.lineno))
    return None


def token_flows(
    tree: ast.Module, aliases: dict[str, str], framework: str | None
) -> dict[Token, tuple[str, ...]]:
    """Every token (after following assignments and calls) -> the flows it reaches, sorted."""
    edges = _edges(tree)
    direct: dict[Token, set[str]] = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        for token, flow in _call_flows(call, aliases, framework):
            direct.setdefault(token, set()).add(flow)
    out: dict[Token, tuple[str, ...]] = {}
    for start in {*edges, *direct}:
        reached: set[str] = set()
        for token in _closure(start, edges):
            reached |= direct.get(token, set())
        if reached:
            out[start] = tuple(sorted(reached))
    return out


def _closure(start: Token, edges: dict[Token, set[Token]]) -> set[Token]:
    seen, stack = {start}, [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _edges(tree: ast.Module) -> dict[Token, set[Token]]:
    """value token -> tokens it is copied into (assignments, local function parameters)."""
    edges: dict[Token, set[Token]] = {}

    def add(source: ast.expr | None, target: str) -> None:
        token = origin(source) if source is not None else None
        if token is not None and token != ("name", target):
            edges.setdefault(token, set()).add(("name", target))

    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    add(node.value, target.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            add(node.value, node.target.id)
        elif isinstance(node, ast.FunctionDef):
            names = [a.arg for a in node.args.args]
            for name, default in zip(
                names[len(names) - len(node.args.defaults) :], node.args.defaults, strict=True
            ):
                add(default, name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            func = functions.get(node.func.id)
            if func is not None:
                names = [a.arg for a in func.args.args]
                for name, arg in zip(names, node.args, strict=False):
                    add(arg, name)
                for kw in node.keywords:
                    if kw.arg in names:
                        add(kw.value, kw.arg)
    return edges


def _call_flows(
    call: ast.Call, aliases: dict[str, str], framework: str | None
) -> Iterator[tuple[Token, str]]:
    api, key = _api_of(call, aliases, framework)
    if api is None:
        return
    names = arguments.positional(key)
    for index, arg in enumerate(call.args):
        token = origin(arg)
        if token is not None and index < len(names):
            yield token, arguments.canonical(f"{api}.{names[index]}")
    for kw in call.keywords:
        token = origin(kw.value)
        if token is not None and kw.arg:
            yield token, arguments.canonical(f"{api}.{kw.arg}")


def _api_of(
    call: ast.Call, aliases: dict[str, str], framework: str | None
) -> tuple[str | None, str]:
    """The API name a call's flows use, and the key of its positional arguments."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in _KERAS_METHODS and framework == "keras":
        name = dotted(func)
        if name is None or resolve(name, aliases) is None:  # a method, not a module function
            return _KERAS_METHODS[func.attr], f"keras.{func.attr}"
    name = dotted(func)
    qual = resolve(name, aliases) if name else None
    if qual is None or kb.framework_of(qual) is None:
        return None, ""
    last = qual.rsplit(".", 1)[-1]
    if qual.startswith("keras.") and last in kb.KERAS_OPTIMIZERS:
        return "keras.optimizer", "keras.optimizer"
    layer = kb.keras_layer(qual)
    if layer:
        return f"keras.layers.{layer}", f"keras.layers.{layer}"
    estimator = kb.sklearn_estimator(qual)
    if estimator:
        api = f"{qual.split('.', 1)[0]}.{estimator}"
        return api, api
    if qual.startswith("torch.optim.") and qual.count(".") == 2:
        return qual, qual
    layer = kb.torch_layer(qual)
    if layer:
        return f"torch.nn.{layer}", f"torch.nn.{layer}"
    return qual, qual
