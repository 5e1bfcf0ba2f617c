"""``detect(path)``: read a project once and say how to train it, with the reasons.

Pure: no network, no import or execution of the project. Every file is read once and parsed
once (``sources.scan``); per-file facts are computed lazily, only for the files the decision
needs (candidate entrypoints and what they import).
"""

from __future__ import annotations

import ast
import functools
import gc
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainchain.detection import knowledge as kb
from trainchain.detection.downloads import find_downloads
from trainchain.detection.entrypoint import choose
from trainchain.detection.evidence import Claimant, Evidence, EvidenceItem
from trainchain.detection.inputs import Input, find_inputs, stdin_answers, stdin_file
from trainchain.detection.params import extract, reads_params_env
from trainchain.detection.project import ProjectFacts, ProjectIndex
from trainchain.detection.requirements import parse_requirements
from trainchain.detection.result import Detection, Parameter, Skipped
from trainchain.detection.sources import SKIP_DIRS, SourceFile, scan
from trainchain.errors import DetectionError

log = logging.getLogger(__name__)


def detect(
    path: Path,
    profiles: Sequence[Claimant],
    entrypoint: str | None = None,
    declared_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Detection:
    """Detect profile, entrypoint and parameters of the project at ``path``.

    ``profiles`` are asked in order, the first that claims the project wins (the registry in
    ``trainchain.profiles`` passes its own; ``trainchain.profiles.detect`` is the usual entry).
    ``entrypoint`` and ``declared_params`` come from trainchain.yaml (``entrypoint:`` and
    ``params:``). Raises ``DetectionError`` when nothing trains or the entrypoint does not parse.
    """
    with _gc_paused():
        return _detect(Path(path), profiles, entrypoint, declared_params)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: parsing allocates many AST nodes that all stay alive until the
    end, and every collection would walk them again (it doubled the time on 1,000 files)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _detect(
    root: Path,
    profiles: Sequence[Claimant],
    entrypoint: str | None,
    declared_params: Mapping[str, Mapping[str, Any]] | None,
) -> Detection:
    if not root.is_dir():
        raise DetectionError(
            f"project path {str(root)!r} is not a directory; pass the folder that holds the "
            "training code (e.g. `trainchain detect .`)"
        )
    files = scan(root)
    index = ProjectIndex(files)
    rel, reason = choose(files, entrypoint, index.training_signs, index.training_calls, index.scope)
    source = files.sources[rel]
    if source.tree is None:
        raise DetectionError(_unparseable(source, root))
    requirements = parse_requirements(files.other_files)
    project = index.project_facts(rel, requirements)
    profile, evidence = _choose_profile(project, profiles)
    facts = index.facts(rel)
    aliases = facts.aliases if facts else {}
    parameters = extract(source.tree, rel, aliases, profile.framework)
    inputs = find_inputs(
        root,
        {m: t for m in project.scope if (t := files.sources[m].tree) is not None},
        {m: f.aliases for m, f in project.files.items()},
        functools.cache(functools.partial(_repository_paths, root)),
    )
    parameters = _stdin_defaults(parameters, source.tree, root, inputs)
    parameters += _declared(declared_params, {p.name for p in parameters})
    family, family_item = _family(project, profile.framework)
    items = [EvidenceItem(rel, None, "entrypoint", reason), *evidence.items]
    trees = {m: t for m in project.scope if (t := files.sources[m].tree) is not None}
    if family_item is not None and family_item not in items:
        items.append(family_item)
    detection = Detection(
        profile=profile.name,
        framework=profile.framework,
        model_family=family,
        entrypoint=rel,
        entrypoint_reason=reason,
        profile_reason=evidence.reason,
        parameters=tuple(parameters),
        evidence=tuple(items),
        requirements=tuple(r.text for r in requirements),
        imports=project.imports,
        skipped=tuple(
            Skipped(s.rel, s.error[0], s.error[1]) for s in files.sources.values() if s.error
        ),
        framework_facts=profile.facts(project),
        reads_params=any(
            reads_params_env(files.sources[r].tree) for r in index.scope(rel) if r in files.sources
        ),
        inputs=tuple(inputs),
        downloads=tuple(find_downloads(trees, {m: f.aliases for m, f in project.files.items()})),
    )
    log.debug("detected %s in %s: %s", detection.profile, root, evidence.reason)
    return detection


def _stdin_defaults(
    parameters: list[Parameter], tree: ast.Module, root: Path, inputs: list[Input]
) -> list[Parameter]:
    """Prompts of a script that reads them from a repository file (``sys.stdin =
    open("input.txt")``) default to that file's answers, in order: the author's values."""
    found = stdin_file(tree, root, inputs)
    prompts = [p for p in parameters if p.source == "prompt" and p.default is None]
    if found is None or not prompts:
        return parameters
    rel, line = found
    answers = stdin_answers(root, rel, len(prompts))
    defaults = {}
    for param, answer in zip(prompts, answers, strict=False):
        value = coerce_answer(answer, param.type)
        if value is not None:
            defaults[param.name] = replace(param, default=value, required=False)
    if defaults:
        log.debug("prompts answered by %s (sys.stdin at line %s): %s", rel, line, defaults)
    return [defaults.get(p.name, p) for p in parameters]


def coerce_answer(text: str, ptype: str) -> Any:
    """A prompt's answer read as the script casts it; None when it does not parse."""
    try:
        if ptype == "int":
            return int(text)
        if ptype == "float":
            return float(text)
    except ValueError:
        return None
    return text if ptype == "str" and text else None


def _repository_paths(root: Path) -> set[str]:
    """Every file and directory of the repository (relative, POSIX), VCS folders aside."""
    out: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        reldir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        prefix = "" if reldir == "." else reldir + "/"
        out.update(prefix + n for n in (*dirnames, *filenames))
    return out


def _unparseable(source: SourceFile, root: Path) -> str:
    line, message = source.error or (None, "unreadable")
    where = f"{source.rel}:{line}" if line else source.rel
    return (
        f"cannot parse the entrypoint {where}: {message}; fix the file, or set "
        f"`entrypoint:` in {root / 'trainchain.yaml'} to the script that trains"
    )


def _choose_profile(
    project: ProjectFacts, profiles: Sequence[Claimant]
) -> tuple[Claimant, Evidence]:
    for profile in profiles:
        evidence = profile.detect(project)
        if evidence is not None:
            return profile, evidence
    names = ", ".join(p.name for p in profiles) or "none"
    raise DetectionError(
        f"no profile claims {project.entrypoint} (asked: {names}); register a fallback "
        "profile that always claims, as the built-in generic one does"
    )


def _family(project: ProjectFacts, framework: str) -> tuple[str, EvidenceItem | None]:
    """The model family and the layer or estimator that shows it."""
    if framework == "generic":
        return "other", None
    items = project.fitted.get(framework, []) + project.built.get(framework, [])
    named = [(_class_name(item.symbol), item) for item in items]
    if framework == "sklearn":  # the estimator that is fitted, not every one built
        family = next((kb.family_of(n) for n, _ in named if kb.family_of(n)), None) or "other"
    else:
        family = kb.pick_family([n for n, _ in named])
    for name, item in named:
        if kb.family_of(name) == family:
            why = f"model family {family}: {name} is built"
            return family, EvidenceItem(item.file, item.line, item.symbol, why)
    return family, None


def _class_name(symbol: str) -> str:
    """``keras.layers.Conv2D`` -> ``Conv2D``; ``sklearn.svm.SVC.fit`` -> ``SVC``."""
    parts = symbol.split(" ", 1)[0].split(".")
    while len(parts) > 1 and not parts[-1][:1].isupper():
        parts.pop()
    return parts[-1]


def _declared(declared: Mapping[str, Mapping[str, Any]] | None, known: set[str]) -> list[Parameter]:
    """``params:`` of trainchain.yaml not found in the script: passed via TRAINCHAIN_PARAMS.

    A declared name that the script already exposes keeps its discovered source (that is how
    the value reaches the script); the declared range still applies in the search space.
    """
    out = []
    for name, spec in (declared or {}).items():
        if name in known:
            continue
        spec = spec if isinstance(spec, Mapping) else {}
        kind = str(spec.get("type", "float"))
        ptype = {"categorical": "str"}.get(kind, kind)
        out.append(
            Parameter(
                name,
                "config",
                ptype,
                spec.get("default"),
                "trainchain.yaml",
                None,
                choices=tuple(spec["choices"]) if spec.get("choices") else None,
            )
        )
    return out
