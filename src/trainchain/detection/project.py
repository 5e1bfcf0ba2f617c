"""What a project trains: facts over the training scope, as the profiles read them.

The training scope is the entrypoint plus the project modules it imports, transitively, so a
helper script elsewhere in the repository cannot change the verdict. Within the scope, a
framework *trains* when an object it built has ``fit`` called on it (or, for PyTorch, a loss
is back-propagated); only when no such call resolves do the models and layers built decide.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from trainchain.detection import knowledge as kb
from trainchain.detection.entrypoint import TRAINING_CALLS
from trainchain.detection.evidence import EvidenceItem
from trainchain.detection.facts import TRAIN_METHODS, FileFacts, Import, analyze
from trainchain.detection.requirements import ProjectRequirement, legacy_pins
from trainchain.detection.sources import ProjectFiles

_FIT = frozenset({"fit", "fit_generator", "train_on_batch", "partial_fit"})
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass
class ProjectFacts:
    """The read-only view a ``Profile.detect`` gets."""

    entrypoint: str
    scope: list[str]
    files: dict[str, FileFacts]  # facts of the scope's parseable files
    requirements: list[ProjectRequirement]
    imports: tuple[str, ...]  # third-party top-level modules used in the scope
    fitted: dict[str, list[EvidenceItem]] = field(default_factory=dict)
    built: dict[str, list[EvidenceItem]] = field(default_factory=dict)

    @property
    def trained(self) -> dict[str, list[EvidenceItem]]:
        """Framework -> evidence that it trains: fitted objects first, else what is built."""
        return self.fitted or self.built

    @cached_property
    def legacy_apis(self) -> list[EvidenceItem]:
        return list(_dedupe(_legacy_apis(self.files.values())))

    @cached_property
    def legacy_pins(self) -> list[EvidenceItem]:
        return legacy_pins(self.requirements)

    @property
    def has_requirements(self) -> bool:
        return bool(self.requirements)

    def calls(self) -> Iterator[tuple[str, int, str, tuple[tuple[str, object], ...]]]:
        for facts in self.files.values():
            for call in facts.calls:
                yield facts.rel, call.line, call.qualname, call.literals


class ProjectIndex:
    """Lazy, memoized per-file facts plus local-import resolution over a scanned project."""

    def __init__(self, files: ProjectFiles) -> None:
        self.files = files
        self._facts: dict[str, FileFacts | None] = {}
        self._closure: dict[str, list[str]] = {}

    def facts(self, rel: str) -> FileFacts | None:
        if rel not in self._facts:
            source = self.files.sources.get(rel)
            tree = source.tree if source else None
            self._facts[rel] = analyze(rel, tree) if tree is not None else None
        return self._facts[rel]

    def scope(self, rel: str, extra_root: str = "") -> list[str]:
        """``rel`` and the project files it imports, transitively (breadth first)."""
        key = rel + "\0" + extra_root
        if key in self._closure:
            return self._closure[key]
        seen, queue = [rel], [rel]
        while queue:
            facts = self.facts(queue.pop(0))
            if facts is None:
                continue
            for imp in facts.imports:
                for target in self.local_targets(facts.rel, imp, extra_root):
                    if target not in seen:
                        seen.append(target)
                        queue.append(target)
        self._closure[key] = seen
        return seen

    def local_targets(self, rel: str, imp: Import, extra_root: str = "") -> list[str]:
        """The project files an import refers to; empty when it is not a project module."""
        here = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if imp.level:
            parts = here.split("/") if here else []
            base = "/".join(parts[: len(parts) - (imp.level - 1)]) if imp.level > 1 else here
            roots = [base]
        else:
            roots = list(dict.fromkeys([here, extra_root, "", "src"]))
        module = imp.module.replace(".", "/")
        for root in roots:
            path = "/".join(p for p in (root, module) if p)
            if module and path not in self.files.module_paths:
                continue
            found = []
            if path:
                candidates = (path + ".py", path + "/__init__.py")
                found = [f for f in candidates if f in self.files.sources]
            for name in imp.names:  # "from pkg import mod" imports a submodule
                sub = f"{path}/{name}.py" if path else f"{name}.py"
                if sub in self.files.sources:
                    found.append(sub)
            return found
        return []

    def is_local(self, rel: str, imp: Import, extra_root: str) -> bool:
        if imp.level:
            return True
        here = rel.rsplit("/", 1)[0] if "/" in rel else ""
        top = imp.module.split(".", 1)[0]
        for root in dict.fromkeys([here, extra_root, "", "src"]):
            if ("/".join(p for p in (root, top) if p)) in self.files.module_paths:
                return True
        return False

    def training_signs(self, rel: str) -> list[EvidenceItem]:
        """Why the scope of ``rel`` looks like training (empty: it does not)."""
        signs: list[EvidenceItem] = []
        for member in self.scope(rel):
            facts = self.facts(member)
            if facts is None:
                continue
            signs.extend(_fitted(facts))
            signs.extend(_built(facts))
            signs.extend(
                EvidenceItem(member, m.line, m.method, f"calls .{m.method}()")
                for m in facts.methods
                if m.method in TRAIN_METHODS
            )
            if signs:
                break  # one is enough to call it training
        return signs

    def training_calls(self, rel: str) -> list[EvidenceItem]:
        """The calls of a training API (``fit``, ``backward``...) in the scope of ``rel``,
        its own file first; a model that is only built does not count."""
        found: list[EvidenceItem] = []
        for member in self.scope(rel):
            facts = self.facts(member)
            if facts is None:
                continue
            strong = [item for item in _fitted(facts)]
            strong += [
                EvidenceItem(member, m.line, m.method, f"calls .{m.method}()")
                for m in facts.methods
                if m.method in TRAINING_CALLS and m.method != "backward"
            ]
            strong += [
                EvidenceItem(member, m.line, f"{m.receiver}.step", "an optimizer step")
                for m in facts.methods
                if m.method == "step" and (m.receiver or "").startswith("torch.optim.")
            ]
            found.extend(strong)
        return found

    def project_facts(
        self, entrypoint: str, requirements: list[ProjectRequirement]
    ) -> ProjectFacts:
        ep_dir = entrypoint.rsplit("/", 1)[0] if "/" in entrypoint else ""
        scope = self.scope(entrypoint, ep_dir)
        files = {rel: f for rel in scope if (f := self.facts(rel)) is not None}
        imports = sorted(
            {
                imp.module.split(".", 1)[0]
                for f in files.values()
                for imp in f.imports
                if not self.is_local(f.rel, imp, ep_dir)
                and imp.module.split(".", 1)[0] not in _STDLIB
            }
        )
        project = ProjectFacts(entrypoint, scope, files, requirements, tuple(imports))
        returns: dict[str, str] = {}  # functions of the scope that return a framework model
        for facts in files.values():
            for func, qual in facts.returns.items():
                returns.setdefault(func, qual)
        for facts in files.values():
            for item in _fitted(facts, returns):
                project.fitted.setdefault(_framework(item.symbol), []).append(item)
            for item in _built(facts):
                project.built.setdefault(_framework(item.symbol), []).append(item)
        project.fitted = {k: list(_dedupe(v)) for k, v in project.fitted.items()}
        project.built = {k: list(_dedupe(v)) for k, v in project.built.items()}
        return project


def _framework(symbol: str) -> str:
    return kb.framework_of(symbol.split(" ", 1)[0]) or "other"


def _is_trainer(qual: str) -> bool:
    fw = kb.framework_of(qual)
    if fw == "keras":
        return qual.startswith("keras.")  # a keras model, built or loaded
    if fw == "sklearn":
        return bool(kb.sklearn_estimator(qual)) or qual.startswith(
            ("sklearn.pipeline.", "sklearn.model_selection.")
        )
    return qual in kb.TORCH_TRAINERS


def _fitted(facts: FileFacts, returns: dict[str, str] | None = None) -> Iterator[EvidenceItem]:
    """Fit calls on a framework object: built here, or returned by a scope function
    (``model = build_model(); model.fit(...)``)."""
    uses_torch = "pytorch" in facts.frameworks_used()
    for m in facts.methods:
        receiver = m.receiver or (returns or {}).get(m.receiver_call or "")
        if m.method in _FIT and receiver and _is_trainer(receiver):
            how = f" returned by {m.receiver_call}()" if not m.receiver else ""
            yield EvidenceItem(
                facts.rel,
                m.line,
                f"{receiver}.{m.method}",
                f".{m.method}() is called on a {receiver}{how}",
            )
        elif m.method == "backward" and uses_torch:
            yield EvidenceItem(
                facts.rel, m.line, "torch.Tensor.backward", "a loss is back-propagated with PyTorch"
            )


def _built(facts: FileFacts) -> Iterator[EvidenceItem]:
    for call in facts.calls:
        q = call.qualname
        if q in kb.KERAS_MODEL_CLASSES or kb.is_keras_application(q):
            yield EvidenceItem(facts.rel, call.line, q, "builds a Keras model")
        elif kb.keras_layer(q):
            yield EvidenceItem(facts.rel, call.line, q, "builds a Keras layer")
        elif q == "tensorflow.GradientTape":
            yield EvidenceItem(facts.rel, call.line, q, "a TensorFlow training loop")
        elif kb.torch_layer(q) or q.startswith("torch.optim.") or q in kb.TORCH_TRAINERS:
            yield EvidenceItem(facts.rel, call.line, q, "builds a PyTorch model or trainer")
        elif kb.sklearn_estimator(q):
            yield EvidenceItem(facts.rel, call.line, q, "builds an estimator")
    for cls, base, line in facts.bases:
        if base in kb.TORCH_MODULE_BASES:
            yield EvidenceItem(facts.rel, line, f"{base} ({cls})", f"{cls} is a {base}")
        elif base in kb.KERAS_MODEL_CLASSES:
            yield EvidenceItem(facts.rel, line, f"{base} ({cls})", f"{cls} is a {base}")


def _legacy_apis(all_facts: Iterable[FileFacts]) -> Iterator[EvidenceItem]:
    for facts in all_facts:
        for symbol, line, why in facts.legacy_imports:
            yield EvidenceItem(facts.rel, line, symbol, why)
        for call in facts.calls:
            tail = call.qualname.rsplit(".", 1)[-1]
            if kb.framework_of(call.qualname) == "keras" and tail in kb.LEGACY_NAMES:
                yield EvidenceItem(facts.rel, call.line, call.qualname, kb.LEGACY_NAMES[tail])
            if (
                tail in kb.KERAS_OPTIMIZERS
                and call.qualname.startswith("keras.")
                and ("lr" in call.keywords)
            ):
                yield EvidenceItem(
                    facts.rel,
                    call.line,
                    f"{call.qualname}(lr=...)",
                    "the optimizer argument lr= was removed in Keras 3",
                )
        for m in facts.methods:
            if m.method in kb.LEGACY_METHODS:
                yield EvidenceItem(facts.rel, m.line, m.method, kb.LEGACY_METHODS[m.method])


def _dedupe(items: list[EvidenceItem] | Iterator[EvidenceItem]) -> Iterator[EvidenceItem]:
    seen = set()
    for item in items:
        key = (item.file, item.symbol)
        if key not in seen:
            seen.add(key)
            yield item
