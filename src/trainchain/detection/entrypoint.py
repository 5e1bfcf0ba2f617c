"""Which file to run: the rule, in order, and the reason it gives.

1. ``entrypoint:`` of trainchain.yaml (passed in by the caller);
2. a script with ``if __name__ == "__main__"`` whose training scope trains;
3. ``train.py``, ``main.py``, ``model.py``, ``project.py`` (that order; shallowest first) that
   train;
4. the only script, when it trains;
5. a notebook that trains.
Ties within a step go to the preferred name, then the shallowest path, then the alphabet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainchain.detection.facts import has_main_guard
from trainchain.detection.sources import ProjectFiles
from trainchain.errors import DetectionError
from trainchain.profiles.base import EvidenceItem

PREFERRED = ("train.py", "main.py", "model.py", "project.py")
_NOT_ENTRYPOINTS = ("setup.py", "conftest.py", "noxfile.py", "__init__.py", "manage.py")
LOOKED_FOR = ('a script with `if __name__ == "__main__":` that trains, '
              + ", ".join(PREFERRED) + ", a single script, or a notebook (*.ipynb)")

Signs = Callable[[str], list[EvidenceItem]]


def choose(files: ProjectFiles, declared: str | None, signs: Signs) -> tuple[str, str]:
    """(entrypoint relative path, reason). Raises ``DetectionError`` when none trains."""
    if declared:
        return _declared(files, declared), "entrypoint: in trainchain.yaml"
    scripts = [s for s in files.sources.values() if s.kind == "py" and _candidate(s.rel)]
    mains = [s.rel for s in scripts if s.tree is not None and has_main_guard(s.tree)]
    with_signs = [(rel, signs(rel)) for rel in sorted(mains, key=_rank)]
    training = [(rel, why) for rel, why in with_signs if why]
    if training:
        rel, why = training[0]
        more = f"; {len(training)} such scripts, preferred by name then depth" if len(
            training) > 1 else ""
        return rel, f'{rel} has `if __name__ == "__main__":` and trains ({_sign(why)}){more}'
    named = sorted((s.rel for s in scripts if s.rel.rsplit("/", 1)[-1] in PREFERRED), key=_rank)
    for rel in named:
        source = files.sources[rel]
        if source.tree is None:
            return rel, f"{rel} is a conventional entrypoint name (it does not parse)"
        why = signs(rel)
        if why:
            return rel, f"{rel} is a conventional entrypoint name and trains ({_sign(why)})"
    if len(scripts) == 1:
        rel = scripts[0].rel
        why = signs(rel) if scripts[0].tree is not None else []
        if why or scripts[0].tree is None:
            return rel, f"{rel} is the only script" + (f" and trains ({_sign(why)})" if why else "")
    notebooks = sorted((s.rel for s in files.sources.values() if s.kind == "ipynb"), key=_rank)
    for rel in notebooks:
        why = signs(rel)
        if why:
            return rel, f"{rel} is a notebook that trains ({_sign(why)}) and no script does"
    raise DetectionError(
        f"no training entrypoint in {files.root}: looked for {LOOKED_FOR}; "
        f"found {len(scripts)} script(s) and {len(notebooks)} notebook(s), none trains a model. "
        f"Set `entrypoint: path/to/train.py` in {Path(files.root, 'trainchain.yaml')}"
    )


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
