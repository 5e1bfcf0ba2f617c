"""Find a project's Python sources and notebooks, read each once and parse each once.

Notebooks are turned into Python: their code cells joined in order, one source line per line,
IPython magics and shell escapes replaced by ``pass`` at the same indentation so line numbers
and blocks survive. A line number in a notebook therefore counts lines over its code cells.
"""

from __future__ import annotations

import ast
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# directories that never hold the project's own training code
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".ipynb_checkpoints",
        ".venv",
        "venv",
        "env",
        ".env",
        "node_modules",
        "site-packages",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "build",
        "dist",
        ".eggs",
        ".idea",
        ".vscode",
    }
)
REQUIREMENT_FILES = ("requirements.txt", "pyproject.toml")
# cell magics whose body is still Python; any other %%magic cell is dropped
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
# line magics whose argument is a Python statement: keep the statement
_PYTHON_LINE_MAGIC = re.compile(r"^(\s*)%(?:time|timeit|prun)\s+(?:-\S+\s+)*(?=\S)")
_LINE_MAGIC = re.compile(r"^(\s*)(?:[%!]|\w+\s*=\s*[%!])")
_HELP = re.compile(r"^(\s*)[\w.]+\?\??\s*$|^(\s*)\?")


@dataclass
class SourceFile:
    """One parsed source: a ``.py`` file or a notebook's code."""

    rel: str  # path relative to the project root, POSIX separators
    kind: str  # "py" | "ipynb"
    tree: ast.Module | None
    error: tuple[int | None, str] | None = None  # (line, message) when it does not parse
    cell_starts: list[int] = field(default_factory=list)  # notebooks: first line of each cell

    def cell_of(self, line: int) -> int:
        """The 1-based code cell that holds ``line`` (notebooks only)."""
        cell = 0
        for index, start in enumerate(self.cell_starts):
            if start <= line:
                cell = index + 1
        return cell


@dataclass
class ProjectFiles:
    root: Path
    sources: dict[str, SourceFile]  # rel -> source, in walk order
    other_files: dict[str, bytes]  # requirement files found at the root: name -> content
    module_paths: set[str]  # "pkg/mod" and "pkg" for every module and package (local imports)


def scan(root: Path) -> ProjectFiles:
    """Walk ``root`` (skipping virtualenvs, VCS and build folders) and parse every source."""
    sources: dict[str, SourceFile] = {}
    module_paths: set[str] = set()
    with warnings.catch_warnings():
        # invalid escapes in user code warn at parse time; they are not our business
        warnings.simplefilter("ignore")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
            )
            reldir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            prefix = "" if reldir == "." else reldir + "/"
            has_python = False
            for name in sorted(filenames):
                if name.endswith(".py"):
                    has_python = True
                    rel = prefix + name
                    module_paths.add(rel[:-3])
                    sources[rel] = _parse_py(rel, _read(Path(dirpath, name)))
                elif name.endswith(".ipynb"):
                    rel = prefix + name
                    sources[rel] = _parse_notebook(rel, _read(Path(dirpath, name)))
            if has_python and prefix:
                module_paths.add(reldir)
    other = {}
    for name in REQUIREMENT_FILES:
        path = root / name
        if path.is_file():
            other[name] = _read(path)
    return ProjectFiles(root, sources, other, module_paths)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:  # unreadable file: report it as skipped, not fatal
        return b"\0" + str(exc).encode()


def _parse_py(rel: str, data: bytes) -> SourceFile:
    try:
        # bytes let the compiler honour PEP 263 coding cookies and BOMs
        return SourceFile(rel, "py", ast.parse(data, filename=rel))
    except SyntaxError as exc:
        return SourceFile(rel, "py", None, (exc.lineno, exc.msg))
    except ValueError as exc:  # null bytes (Python 3.11)
        return SourceFile(rel, "py", None, (None, str(exc)))


def _parse_notebook(rel: str, data: bytes) -> SourceFile:
    try:
        source, starts = notebook_source(data)
    except ValueError as exc:
        return SourceFile(rel, "ipynb", None, (None, f"not a readable notebook: {exc}"))
    try:
        tree = ast.parse(source, filename=rel)
    except SyntaxError as exc:
        src = SourceFile(rel, "ipynb", None, cell_starts=starts)
        line = exc.lineno
        where = f" (code cell {src.cell_of(line)})" if line else ""
        src.error = (line, f"{exc.msg}{where}")
        return src
    return SourceFile(rel, "ipynb", tree, cell_starts=starts)


def notebook_source(data: bytes | str) -> tuple[str, list[int]]:
    """A notebook's code cells as Python and the first line of each cell.

    Raises ``ValueError`` when ``data`` is not notebook JSON.
    """
    try:
        nb = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"invalid JSON ({exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells", []), list):
        raise ValueError("no 'cells' list")
    lines: list[str] = []
    starts: list[int] = []
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        starts.append(len(lines) + 1)
        lines.extend(_strip_magics(text.splitlines()))
    return "\n".join(lines) + "\n", starts


def _strip_magics(cell: list[str]) -> list[str]:
    if cell and cell[0].startswith("%%"):
        magic = cell[0][2:].split(maxsplit=1)[0] if cell[0][2:].strip() else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return [""] * len(cell)  # %%bash, %%writefile...: not Python; keep the numbering
        cell = ["pass", *cell[1:]]
    out = []
    for line in cell:
        keep = _PYTHON_LINE_MAGIC.match(line)
        if keep:
            out.append(keep.group(1) + line[keep.end() :])
            continue
        match = _LINE_MAGIC.match(line) or _HELP.match(line)
        if match:
            indent = next((g for g in match.groups() if g is not None), "")
            out.append(indent + "pass")
        else:
            out.append(line)
    return out
