"""Which file to run: the rule, in order, and the reason it gives.

1. ``entrypoint:`` of trainchain.yaml (passed in by the caller);
2. a script with ``if __name__ == "__main__"`` whose training scope trains;
3. ``train.py``, ``main.py``, ``model.py``, ``project.py`` (that order; shallowest first) that
   call a training API (one that only builds a model waits until after step 5);
4. the only script, when it trains;
5. a script, whatever its name, whose training scope calls a training API (``fit``,
   ``fit_generator``, ``partial_fit``, ``train_on_batch``, a loss's ``backward``); one that no
   other candidate imports first (the helper a script imports is not the entrypoint);
6. a notebook that trains.
Ties within a step go to the preferred name, then the shallowest path, then the alphabet.
When nothing trains, the error names the scripts that could not be parsed, with the error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainchain.detection.evidence import EvidenceItem
from trainchain.detection.facts import has_main_guard
from trainchain.detection.sources import ProjectFiles, SourceFile
from trainchain.errors import DetectionError

PREFERRED = ("train.py", "main.py", "model.py", "project.py")
_NOT_ENTRYPOINTS = ("setup.py", "conftest.py", "noxfile.py", "__init__.py", "manage.py")
LOOKED_FOR = (
    'a script with `if __name__ == "__main__":` that trains, '
    + ", ".join(PREFERRED)
    + ", a single script, or a notebook (*.ipynb)"
)

Signs = Callable[[str], list[EvidenceItem]]
# calls that train (a model's fit, a loss's backward), as opposed to building a model
TRAINING_CALLS = ("fit", "fit_generator", "partial_fit", "train_on_batch", "backward")
Imported = Callable[[str], list[str]]


def choose(
    files: ProjectFiles,
    declared: str | None,
    signs: Signs,
    fits: Signs | None = None,
    imported: Imported | None = None,
) -> tuple[str, str]:
    """(entrypoint relative path, reason). Raises ``DetectionError`` when none trains.

    ``signs(rel)``: why the scope of ``rel`` looks like training; ``fits(rel)``: the training
    API calls of that scope; ``imported(rel)``: the project files ``rel`` imports.
    """
    if declared:
        return _declared(files, declared), "entrypoint: in trainchain.yaml"
    scripts = [s for s in files.sources.values() if s.kind == "py" and _candidate(s.rel)]
    mains = [s.rel for s in scripts if s.tree is not None and has_main_guard(s.tree)]
    with_signs = [(rel, signs(rel)) for rel in sorted(mains, key=_rank)]
    training = [(rel, why) for rel, why in with_signs if why]
    if training:
        rel, why = training[0]
        more = (
            f"; {len(training)} such scripts, preferred by name then depth"
            if len(training) > 1
            else ""
        )
        return rel, f'{rel} has `if __name__ == "__main__":` and trains ({_sign(why)}){more}'
    named = sorted((s.rel for s in scripts if s.rel.rsplit("/", 1)[-1] in PREFERRED), key=_rank)
    builder: tuple[str, str] | None = None  # a named script that builds a model, fits none
    for rel in named:
        source = files.sources[rel]
        if source.tree is None:
            return rel, f"{rel} is a conventional entrypoint name (it does not parse)"
        why = signs(rel)
        if why and fits is not None and not fits(rel):
            builder = builder or (
                rel,
                f"{rel} is a conventional entrypoint name and builds a "
                f"model ({_sign(why)}); no script calls a training API",
            )
        elif why:
            return rel, f"{rel} is a conventional entrypoint name and trains ({_sign(why)})"
    if len(scripts) == 1:
        rel = scripts[0].rel
        why = signs(rel) if scripts[0].tree is not None else []
        if why or scripts[0].tree is None:
            return rel, f"{rel} is the only script" + (f" and trains ({_sign(why)})" if why else "")
    if fits is not None:
        found = _calls_training(scripts, fits, imported)
        if found is not None:
            return found
    if builder is not None:
        return builder
    notebooks = sorted((s.rel for s in files.sources.values() if s.kind == "ipynb"), key=_rank)
    for rel in notebooks:
        why = signs(rel)
        if why:
            return rel, f"{rel} is a notebook that trains ({_sign(why)}) and no script does"
    broken = [s for s in files.sources.values() if s.tree is None and _candidate(s.rel)]
    unparsed = ""
    if broken:
        unparsed = (
            "; could not parse "
            + ", ".join(
                f"{s.rel}:{s.error[0]} ({s.error[1]})"
                if s.error and s.error[0]
                else f"{s.rel} ({s.error[1] if s.error else 'unreadable'})"
                for s in broken[:5]
            )
            + (f" and {len(broken) - 5} more" if len(broken) > 5 else "")
        )
    raise DetectionError(
        f"no training entrypoint in {files.root}: looked for {LOOKED_FOR}; "
        f"found {len(scripts)} script(s) and {len(notebooks)} notebook(s), none trains a model"
        f"{unparsed}. Set `entrypoint: path/to/train.py` in "
        f"{Path(files.root, 'trainchain.yaml')}"
    )


def _calls_training(
    scripts: list[SourceFile], fits: Signs, imported: Imported | None
) -> tuple[str, str] | None:
    """Step 5: the scripts whose scope calls a training API, the top-level one first."""
    training = [(s.rel, why) for s in scripts if s.tree is not None and (why := fits(s.rel))]
    if not training:
        return None
    names = {rel for rel, _ in training}
    helpers = {dep for rel in names for dep in (imported(rel) if imported else []) if dep != rel}
    training.sort(key=lambda item: (item[0] in helpers, _rank(item[0])))
    rel, why = training[0]
    others = [s.rel for s in scripts if s.rel != rel]
    reason = f"{rel} calls a training API ({_sign(why)})"
    not_training = [r for r in others if r not in names]
    if not_training:
        reason += (
            "; "
            + ", ".join(not_training[:3])
            + (" do not" if len(not_training) > 1 else " does not")
        )
    if len(training) > 1:
        reason += (
            f"; {len(training)} scripts train, preferred: not imported by another, "
            "then by name and depth"
        )
    return rel, reason


def _declared(files: ProjectFiles, declared: str) -> str:
    rel = Path(declared).as_posix().removeprefix("./")
    if rel in files.sources:
        return rel
    known = ", ".join(sorted(files.sources)[:8]) or "none"
    if Path(files.root, rel).is_file():
        raise DetectionError(
            f"entrypoint {declared!r} in trainchain.yaml is not a Python script or notebook; "
            f"point entrypoint: at a .py or .ipynb file (found: {known})"
        )
    raise DetectionError(
        f"entrypoint {declared!r} in trainchain.yaml does not exist in {files.root}; "
        f"set entrypoint: to one of: {known}"
    )


def _candidate(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    if name in _NOT_ENTRYPOINTS or name.startswith("test_") or name.endswith("_test.py"):
        return False
    return not any(p in ("tests", "test", "docs") for p in parts[:-1])


def _rank(rel: str) -> tuple[int, int, str]:
    name = rel.rsplit("/", 1)[-1]
    order = PREFERRED.index(name) if name in PREFERRED else len(PREFERRED)
    nb = name.removesuffix(".ipynb") + ".py"
    if name.endswith(".ipynb") and nb in PREFERRED:
        order = PREFERRED.index(nb)
    return (order, rel.count("/"), rel)


def _sign(items: list[EvidenceItem]) -> str:
    first = items[0]
    return f"{first.symbol} at {first.file}:{first.line}"
