"""Turn the entrypoint into code objects: a script, or a notebook's code cells, with parameters.

Module-level constants (``EPOCHS = 5``) are rewritten in the AST before compiling, so the line
numbers of tracebacks still point at the user's file. Notebook cells are compiled one by one
under a ``<file>#cell<N>`` name registered in ``linecache``, so tracebacks show their source.
"""

from __future__ import annotations

import ast
import json
import linecache
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from trainchain.agent.state import coerce_like

# Cell magics whose body is still Python; any other ``%%magic`` cell is skipped whole.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_LINE_MAGIC = re.compile(r"^(\s*)([%!]|\?\?|\?).*$")
# Line magics that run the Python statement after them: keep the statement.
_TIMING_MAGIC = re.compile(r"^(\s*)%(?:time|timeit|prun)\s+(?:-\S+\s+)*(.+)$")


@dataclass(frozen=True)
class Unit:
    """One piece of code to run in the ``__main__`` namespace, in order."""

    filename: str
    source: str


def read_units(path: str) -> list[Unit]:
    """The code to run for ``path``: the file itself, or a notebook's code cells in order."""
    if path.endswith(".ipynb"):
        return notebook_units(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    # Decode like the interpreter does (PEP 263 cookie, BOM), without importing tokenize's
    # opener twice.
    import io
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    return [Unit(path, raw.decode(encoding))]


def notebook_units(path: str) -> list[Unit]:
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    units = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else str(src)
        code = strip_magics(text)
        if code is None or not code.strip():
            continue
        filename = f"{path}#cell{number}"
        lines = code.splitlines(keepends=True)
        linecache.cache[filename] = (len(code), None, lines, filename)
        units.append(Unit(filename, code))
    return units


def notebook_builtins() -> dict[str, Any]:
    """Names Jupyter provides without an import, which notebooks use freely."""
    return {"display": display}


def display(*objs: Any, **kwargs: Any) -> None:
    """IPython's ``display`` outside IPython: print each object as a terminal would."""
    for obj in objs:
        print(obj if isinstance(obj, str) else repr(obj))


def strip_magics(text: str) -> str | None:
    """A cell without IPython syntax; ``None`` for a cell magic whose body is not Python.

    Magic lines become ``pass`` with the same indentation, so blocks and line numbers survive.
    """
    lines = text.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:
            return None
        lines[0] = ""
    out = []
    for line in lines:
        timed = _TIMING_MAGIC.match(line)
        if timed:
            out.append(timed.group(1) + timed.group(2))
            continue
        match = _LINE_MAGIC.match(line)
        out.append(f"{match.group(1)}pass" if match else line)
    return "\n".join(out) + "\n"


class _ConstantRewriter(ast.NodeTransformer):
    """Replace the value of module-level literal assignments named like a parameter."""

    def __init__(self, params: dict[str, Any], on_apply: Callable[[str, Any], None]) -> None:
        self.params = params
        self.on_apply = on_apply

    def rewrite(self, tree: ast.Module) -> ast.Module:
        tree.body = [self._statement(node) for node in tree.body]
        return ast.fix_missing_locations(tree)

    def _statement(self, node: ast.stmt) -> ast.stmt:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None and node.simple:
            target = node.target
        else:
            return node
        if not isinstance(target, ast.Name) or target.id not in self.params:
            return node
        value_node = node.value
        assert value_node is not None
        try:
            default = ast.literal_eval(value_node)
        except ValueError:
            return node  # not a simple literal: computed values are left alone
        value = coerce_like(default, self.params[target.id])
        try:
            new_value = ast.parse(repr(value), mode="eval").body
        except SyntaxError:
            return node  # a value without a literal form (never from JSON)
        node.value = ast.copy_location(new_value, value_node)
        self.on_apply(target.id, value)
        return node


def compile_unit(
    unit: Unit, params: dict[str, Any], on_apply: Callable[[str, Any], None]
) -> CodeType:
    """Parse, rewrite constants, compile. Raises ``SyntaxError`` pointing at the user's file."""
    tree = ast.parse(unit.source, filename=unit.filename, mode="exec")
    if params:
        tree = _ConstantRewriter(params, on_apply).rewrite(tree)
    code: CodeType = compile(tree, unit.filename, "exec", dont_inherit=True)
    return code
