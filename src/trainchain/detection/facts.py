"""One pass over a parsed file: the imports, framework calls, fits and Keras 2 signs it holds.

Names are resolved through the file's imports after the pass (flow-insensitive, as a reader
would), so ``from tensorflow import keras; keras.layers.Conv2D`` and
``import tensorflow as tf; tf.keras.layers.Conv2D`` give the same ``keras.layers.Conv2D``.
Only code counts: a comment or a string that mentions keras is never seen.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from trainchain.detection import knowledge as kb
from trainchain.detection.pyast import dotted as dotted_name

# methods whose call is a sign of training (receiver resolved later when possible)
TRAIN_METHODS = frozenset(
    {"fit", "fit_generator", "train_on_batch", "partial_fit", "backward", "train"}
)
_WATCHED_METHODS = TRAIN_METHODS | set(kb.LEGACY_METHODS) | {"step"}  # optimizer.step()


@dataclass(frozen=True)
class Import:
    module: str  # absolute module as written ("" for "from . import x")
    level: int  # relative import level (0 = absolute)
    line: int
    names: tuple[str, ...] = ()  # for "from m import a, b"


@dataclass(frozen=True)
class Call:
    qualname: str  # normalized ("keras.layers.Conv2D")
    line: int
    keywords: tuple[str, ...]
    literals: tuple[tuple[str, object], ...] = ()  # keyword -> literal value


@dataclass(frozen=True)
class MethodCall:
    method: str
    receiver: str | None  # normalized qualname of what the receiver was built from, if known
    line: int
    literals: tuple[tuple[str, object], ...] = ()
    keywords: tuple[str, ...] = ()
    positional: int = 0
    receiver_call: str | None = None  # unresolved receiver built by this function (last name)


@dataclass
class FileFacts:
    rel: str
    imports: list[Import] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)  # calls of framework names only
    methods: list[MethodCall] = field(default_factory=list)
    bases: list[tuple[str, str, int]] = field(default_factory=list)  # class, base qualname, line
    legacy_imports: list[tuple[str, int, str]] = field(default_factory=list)  # symbol, line, why
    has_main_guard: bool = False
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> imported qualname
    returns: dict[str, str] = field(default_factory=dict)  # function -> framework qualname

    def frameworks_used(self) -> set[str]:
        found = {kb.framework_of(c.qualname) for c in self.calls}
        found |= {kb.framework_of(kb.normalize(i.module)) for i in self.imports if not i.level}
        found.discard(None)
        return found  # type: ignore[return-value]


def analyze(rel: str, tree: ast.Module) -> FileFacts:
    collector = _Collector()
    collector.visit(tree)
    facts = FileFacts(rel, imports=collector.imports, has_main_guard=has_main_guard(tree))
    aliases = facts.aliases = collector.aliases
    var_types: dict[str, str] = {}
    var_calls: dict[str, str] = {}  # var -> last name of a non-framework callee (build_model)
    for var, dotted in collector.assigned:
        qual = resolve(dotted, aliases)
        if qual and kb.framework_of(qual):
            var_types.setdefault(var, qual)
        else:
            var_calls.setdefault(var, dotted.rsplit(".", 1)[-1])
    for func, returned in collector.returns:
        kind, name = returned
        qual = var_types.get(name) if kind == "var" else resolve(name, aliases)
        if qual and kb.framework_of(qual):
            facts.returns.setdefault(func, qual)
    for dotted, node in collector.calls:
        qual = resolve(dotted, aliases)
        if qual and kb.framework_of(qual):
            facts.calls.append(Call(qual, node.lineno, _keywords(node), _literals(node)))
    for method, receiver, node in collector.methods:
        recv, via = None, None
        if isinstance(receiver, str):
            recv = var_types.get(receiver) or resolve(receiver, aliases)
            recv = recv if recv and kb.framework_of(recv) else None
            via = None if recv else var_calls.get(receiver)
        elif receiver is not None:  # Sequential().fit(...): the receiver is a call
            recv = resolve(receiver[0], aliases)
            via = None if recv else receiver[0].rsplit(".", 1)[-1]
        facts.methods.append(
            MethodCall(
                method, recv, node.lineno, _literals(node), _keywords(node), len(node.args), via
            )
        )
    for cls, dotted, line in collector.bases:
        qual = resolve(dotted, aliases)
        if qual:
            facts.bases.append((cls, qual, line))
    facts.legacy_imports = _legacy_imports(collector.imports)
    return facts


class _Collector(ast.NodeVisitor):
    def __init__(self) -> None:
        self.imports: list[Import] = []
        self.aliases: dict[str, str] = {}
        self.calls: list[tuple[str, ast.Call]] = []
        self.methods: list[tuple[str, str | tuple[str] | None, ast.Call]] = []
        self.assigned: list[tuple[str, str]] = []  # var -> dotted name of the called constructor
        self.bases: list[tuple[str, str, int]] = []
        self.returns: list[tuple[str, tuple[str, str]]] = []  # function -> ("call"|"var", name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.append(Import(alias.name, 0, node.lineno))
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".", 1)[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        names = tuple(a.name for a in node.names)
        self.imports.append(Import(module, node.level, node.lineno, names))
        if node.level:
            return  # project-local names are not framework names
        for alias in node.names:
            if alias.name != "*":
                self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        dotted = dotted_name(func)
        if dotted:
            self.calls.append((dotted, node))
        if isinstance(func, ast.Attribute) and func.attr in _WATCHED_METHODS:
            value = func.value
            receiver: str | tuple[str] | None = dotted_name(value)
            if receiver is None and isinstance(value, ast.Call):
                inner = dotted_name(value.func)
                receiver = (inner,) if inner else None
            self.methods.append((func.attr, receiver, node))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call):
            dotted = dotted_name(node.value.func)
            if dotted:
                for target in node.targets:
                    name = dotted_name(target)
                    if name:
                        self.assigned.append((name, dotted))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for item in ast.walk(node):
            if isinstance(item, ast.Return) and item.value is not None:
                value = item.value
                if isinstance(value, ast.Call) and (dotted := dotted_name(value.func)):
                    self.returns.append((node.name, ("call", dotted)))
                elif isinstance(value, ast.Name):
                    self.returns.append((node.name, ("var", value.id)))
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            dotted = dotted_name(base)
            if dotted:
                self.bases.append((node.name, dotted, node.lineno))
        self.generic_visit(node)


def resolve(dotted: str, aliases: dict[str, str]) -> str | None:
    head, _, rest = dotted.partition(".")
    base = aliases.get(head)
    if base is None:
        return None
    return kb.normalize(f"{base}.{rest}" if rest else base)


def _keywords(node: ast.Call) -> tuple[str, ...]:
    return tuple(k.arg for k in node.keywords if k.arg)


def _literals(node: ast.Call) -> tuple[tuple[str, object], ...]:
    out = []
    for kw in node.keywords:
        if (
            kw.arg
            and isinstance(kw.value, ast.Constant)
            and isinstance(kw.value.value, int | float | str | bool)
        ):
            out.append((kw.arg, kw.value.value))
    return tuple(out)


def has_main_guard(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            sides = [node.test.left, *node.test.comparators]
            names = {s.id for s in sides if isinstance(s, ast.Name)}
            consts = {s.value for s in sides if isinstance(s, ast.Constant)}
            if "__name__" in names and "__main__" in consts:
                return True
    return False


def _legacy_imports(imports: list[Import]) -> list[tuple[str, int, str]]:
    found = []
    for imp in imports:
        if imp.level:
            continue
        module = kb.normalize(imp.module)
        for prefix, why in kb.LEGACY_MODULES.items():
            if module == prefix or module.startswith(prefix + "."):
                found.append((module, imp.line, why))
                break
        if kb.framework_of(module) == "keras":
            for name in imp.names:
                if name in kb.LEGACY_NAMES:
                    found.append((f"{module}.{name}", imp.line, kb.LEGACY_NAMES[name]))
    return found
