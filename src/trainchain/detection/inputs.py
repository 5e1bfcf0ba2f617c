"""Inputs the repository lacks: paths the training scope reads that are not in the commit.

A path counts when it is a string the code gives to a data-loading call (Keras
``flow_from_directory`` / ``image_dataset_from_directory``, pandas ``read_*``, ``np.load``,
``open`` for reading, torchvision ``ImageFolder``...). The string may be a literal, a
module-level constant, ``+`` of those, or ``os.path.join`` / ``Path(...) /`` of those; anything
computed at run time is not guessed. Relative paths are read from the repository's root (the
trial's working directory); an absolute path that exists only on the author's machine is
reported too, with the repository file of the same name as its suggested mapping.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from trainchain.detection import knowledge as kb
from trainchain.detection.pyast import dotted

# method names that read a directory or file given as first argument (any receiver)
_READER_METHODS = {
    "flow_from_directory": ("directory", "directory"),
    "flow_from_dataframe": ("directory", "directory"),
}
# qualified callables (after alias resolution) -> (argument keyword, kind)
_READERS = {
    "keras.utils.image_dataset_from_directory": ("directory", "directory"),
    "keras.utils.text_dataset_from_directory": ("directory", "directory"),
    "keras.utils.audio_dataset_from_directory": ("directory", "directory"),
    "keras.preprocessing.image_dataset_from_directory": ("directory", "directory"),
    "keras.preprocessing.text_dataset_from_directory": ("directory", "directory"),
    "numpy.load": ("file", "file"),
    "numpy.loadtxt": ("fname", "file"),
    "numpy.genfromtxt": ("fname", "file"),
    "numpy.fromfile": ("file", "file"),
    "torchvision.datasets.ImageFolder": ("root", "directory"),
    "torchvision.datasets.DatasetFolder": ("root", "directory"),
    "PIL.Image.open": ("fp", "file"),
    "cv2.imread": ("filename", "file"),
    "joblib.load": ("filename", "file"),
    "scipy.io.loadmat": ("file_name", "file"),
    "h5py.File": ("name", "file"),
}
_PANDAS_READERS = (
    "read_csv",
    "read_table",
    "read_excel",
    "read_json",
    "read_parquet",
    "read_pickle",
    "read_feather",
    "read_hdf",
    "read_fwf",
    "read_orc",
)
_NOT_PATHS = ("://", "\n")


@dataclass(frozen=True)
class Input:
    """A path the script reads that the repository does not hold."""

    path: str  # as the script names it
    kind: str  # "directory" | "file"
    call: str  # the reading call ("flow_from_directory", "open", "pandas.read_csv")
    file: str
    line: int
    name: str  # the NAME for --data NAME=PATH
    repo_file: str | None = None  # an absolute path whose file the repository holds

    @property
    def hint(self) -> str:
        if self.repo_file:
            return (
                f"{self.path} is read from the repository's {self.repo_file} (the same file "
                f"name); to give another file: --data {self.path}=PATH"
            )
        return (
            f"give it with --data {self.name}=PATH, or `data: {{{self.name}: PATH}}` in "
            "trainchain.yaml"
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "path": self.path,
            "kind": self.kind,
            "call": self.call,
            "file": self.file,
            "line": self.line,
            "name": self.name,
            "hint": self.hint,
        }
        if self.repo_file:
            out["repo_file"] = self.repo_file
        return out


def find_inputs(
    root: Path,
    trees: dict[str, ast.Module],
    aliases: dict[str, dict[str, str]],
    known_files: Callable[[], set[str]],
) -> list[Input]:
    """The inputs of the training scope ``trees`` (rel -> AST) missing from ``root``.

    ``known_files()``: every file of the repository (POSIX, relative), asked only when an
    absolute path needs it (walking a 10,000-image dataset is not free).
    """
    found: dict[tuple[str, str], Input] = {}
    for rel, tree in trees.items():
        consts = string_constants(tree)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            for path, kind, how in _read_paths(call, aliases.get(rel, {}), consts):
                item = _missing(root, path, kind, how, rel, call.lineno, known_files)
                if item is not None:
                    found.setdefault((item.path, item.call), item)
    return list(found.values())


def string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` (and of other such names), assigned once."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name = node.targets[0].id
            value = string_value(node.value, out)
            if name in seen:
                out.pop(name, None)
            elif value is not None:
                out[name] = value
            seen.add(name)
    return out


def string_value(node: ast.expr | None, consts: dict[str, str]) -> str | None:
    """The text of a string expression known without running the code, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Div):
        left, right = string_value(node.left, consts), string_value(node.right, consts)
        if left is None or right is None:
            return None
        return left + right if isinstance(node.op, ast.Add) else _join(left, right)
    if isinstance(node, ast.Call):
        name = dotted(node.func) or ""
        if name.endswith("path.join") and node.args and not node.keywords:
            parts = [string_value(a, consts) for a in node.args]
            if all(p is not None for p in parts):
                return _join(*[p for p in parts if p is not None])
        if name.rsplit(".", 1)[-1] in ("Path", "PurePath", "PosixPath") and len(node.args) == 1:
            return string_value(node.args[0], consts)
    return None


def _join(*parts: str) -> str:
    return str(PurePosixPath(*parts))


def _arg(call: ast.Call, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[0] if call.args else None


def _read_paths(
    call: ast.Call, aliases: dict[str, str], consts: dict[str, str]
) -> Iterator[tuple[str, str, str]]:
    """(path, kind, call name) for each path this call reads."""
    func = call.func
    name = dotted(func) or ""
    qual = qualify(name, aliases)
    if isinstance(func, ast.Attribute) and func.attr in _READER_METHODS:
        keyword, kind = _READER_METHODS[func.attr]
        if func.attr == "flow_from_dataframe" and not any(k.arg == keyword for k in call.keywords):
            return
        yield from _text(_arg(call, keyword), kind, func.attr, consts)
    elif qual in _READERS:
        keyword, kind = _READERS[qual]
        yield from _text(_arg(call, keyword), kind, qual, consts)
    elif qual.startswith("pandas.") and qual.rsplit(".", 1)[-1] in _PANDAS_READERS:
        yield from _text(_arg(call, "filepath_or_buffer"), "file", qual, consts)
    elif name in ("open", "io.open") and _reads(call):
        yield from _text(_arg(call, "file"), "file", "open", consts)


def qualify(name: str, aliases: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    base = aliases.get(head)
    if base is None:
        return name
    return kb.normalize(f"{base}.{rest}" if rest else base)


def _reads(call: ast.Call) -> bool:
    mode: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    if mode is None:
        return True
    text = mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else None
    return text is not None and not set(text) & set("wax+")


def _text(
    node: ast.expr | None, kind: str, how: str, consts: dict[str, str]
) -> Iterator[tuple[str, str, str]]:
    value = string_value(node, consts)
    if value and value.strip() and not any(s in value for s in _NOT_PATHS):
        yield value.strip(), kind, how


def _missing(
    root: Path,
    path: str,
    kind: str,
    how: str,
    rel: str,
    line: int,
    known_files: Callable[[], set[str]],
) -> Input | None:
    if "{" in path or "*" in path or path.startswith("~"):
        return None  # a template, a glob or a home path: not a literal location
    pure = PurePosixPath(path)
    if pure.is_absolute():
        if os.path.lexists(path) and not _under(path, root):
            return None  # exists here too (/dev/null, /etc/...)
        mapped = _repo_suffix(pure, known_files())
        return Input(path, kind, how, rel, line, path, mapped)
    clean = os.path.normpath(path)
    if clean.startswith(".."):
        return None  # outside the repository: the operator's layout, not the script's
    if (root / clean).exists():
        return None
    parts = clean.split("/")
    # the NAME to give: the first part of the path the repository does not have
    name = next(
        "/".join(parts[: i + 1])
        for i in range(len(parts))
        if not (root / "/".join(parts[: i + 1])).exists()
    )
    return Input(path, kind, how, rel, line, name)


def _under(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _repo_suffix(pure: PurePosixPath, known_files: set[str]) -> str | None:
    """The longest tail of an absolute path that names a repository file (``input.txt``)."""
    parts = pure.parts[1:]
    for start in range(len(parts)):
        tail = "/".join(parts[start:])
        if tail in known_files:
            return tail
    return None


def stdin_file(tree: ast.Module, root: Path, inputs: list[Input]) -> tuple[str, int] | None:
    """``sys.stdin = open(PATH)`` in the entrypoint, when PATH is a repository file (directly
    or through its absolute-path mapping): (repository path, line)."""
    consts = string_constants(tree)
    mapped = {i.path: i.repo_file for i in inputs if i.repo_file}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        if not any(dotted(t) == "sys.stdin" for t in node.targets):
            continue
        if dotted(node.value.func) not in ("open", "io.open"):
            continue
        path = string_value(_arg(node.value, "file"), consts)
        if not path:
            continue
        rel = mapped.get(path) or (None if os.path.isabs(path) else os.path.normpath(path))
        if rel and (root / rel).is_file():
            return rel, node.lineno
    return None


def stdin_answers(root: Path, rel: str, count: int) -> list[str]:
    """The first ``count`` answers the file gives to ``input()``: its lines, in order."""
    try:
        lines = (root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines[:count]]
