"""Small AST helpers shared by the parameter readers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any


def literal(node: ast.expr | None) -> tuple[bool, Any]:
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


def module_assignments(tree: ast.Module) -> Iterator[tuple[str, ast.expr, int]]:
    """(name, value, line) of each module-level ``NAME = value`` / ``NAME: T = value``."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            yield target.id, value, node.lineno


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list):
        return "list"
    return {int: "int", float: "float"}.get(type(value), "str")


def dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
