"""job2 — detect + provision: read the code, choose a profile, build or reuse its environment."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainchain import paths
from trainchain.errors import ConfigError, DetectionError
from trainchain.profiles import (
    detect,
    env_packages,
    framework_packages,
    get_profile,
    package_name,
    search_space,
)
from trainchain.runtimes.base import EnvSpec
from trainchain.stages.context import StageContext, StageResult, split_params
from trainchain.stages.inputs import plan_inputs, replay_downloads

if TYPE_CHECKING:
    from trainchain.detection.result import Detection


@dataclass(frozen=True)
class DetectResult:
    profile: str
    entrypoint: str
    detection: dict[str, Any]
    env_spec: EnvSpec
    space: dict[str, dict[str, Any]] = field(default_factory=dict)


def run(ctx: StageContext) -> StageResult:
    """Detect, check the inputs, then provision the environment on the run's runtime."""
    from trainchain.space import describe

    config, run_ = ctx.config, ctx.run
    declared, fixed = split_params(run_.config)
    found = detect_project(
        ctx.snapshot,
        config.entrypoint,
        config.profile,
        declared,
        source=run_.source,
        fixed=fixed,
        from_cli=set((run_.options or {}).get("params") or {}),
    )
    runtime = ctx.runtime
    # before any build: a missing input or a download that cannot happen stops the run
    # here; a known dataset is prefetched into the machine's cache
    plan = plan_inputs(
        found.detection,
        config.data,
        paths.datasets_dir(),
        trials_online=runtime.trials_online,
        say=ctx.say,
        replays=runtime.replays_downloads,
    )
    for note in plan.notes:
        ctx.say(note)
    env = runtime.provision(found.env_spec, lambda line: ctx.emit({"kind": "build", "line": line}))
    if plan.replays:  # library downloads for offline trials: replayed in their image
        cache = paths.datasets_dir()
        replay_downloads(
            plan,
            lambda command: runtime.replay_download(env, command, cache, run_.id),
            cache,
            runtime.datasets_mount or str(cache),
            ctx.say,
        )
    ctx.store.update_run(
        run_.id,
        profile=found.profile,
        detection={
            **found.detection,
            "space": found.space,
            "env_packages": list(found.env_spec.packages),
            "project_requirements": list(found.env_spec.project_requirements),
            "data_plan": plan.data,
        },
        environment={**asdict(env), "profile": found.profile},
    )
    ctx.say(
        f"profile {found.profile}, entrypoint {found.entrypoint}, environment {env.key} "
        f"({'built' if env.created else 'reused'} on {runtime.name})"
    )
    for name, spec in found.space.items():
        ctx.say(f"search space: {name} {describe(spec)} — {spec.get('why') or 'declared'}")
    return StageResult(
        {
            "profile": found.profile,
            "entrypoint": found.entrypoint,
            "environment": env.key,
            "created": env.created,
        }
    )


def detect_project(
    snapshot: Path,
    entrypoint: str | None,
    profile: str | None,
    declared: dict[str, Any],
    source: str = "the repository",
    fixed: Mapping[str, Any] | None = None,
    from_cli: Collection[str] = (),
) -> DetectResult:
    """Run the detector over the fetched commit and derive the environment and search space.

    ``fixed`` are the parameter values given by ``--param`` (names in ``from_cli``) or as plain
    values under ``params:``; one that reaches nothing is a ``ConfigError`` before any build.
    """
    from trainchain.space import space_from_config

    try:
        detection = detect(snapshot, entrypoint=entrypoint, declared_params=declared or None)
    except DetectionError as exc:  # speak of the user's repository, not our snapshot of it
        raise DetectionError(exc.message.replace(str(snapshot), source)) from exc
    settable = settable_constants(snapshot / detection.entrypoint) if fixed else set()
    check_fixed_params(detection, fixed or {}, from_cli, settable)
    info = detection.to_dict()
    chosen = profile or info["profile"]
    get_profile(chosen)  # an unknown forced profile fails here, with the choices
    spec = EnvSpec(
        profile=chosen,
        packages=env_packages(chosen, tuple(info.get("imports") or ())),
        project_requirements=project_requirements(info.get("requirements") or []),
    )
    space = search_space(detection)
    if declared:
        space = {**space, **space_from_config(declared)}
    return DetectResult(chosen, info["entrypoint"], info, spec, space)


def settable_constants(entrypoint: Path) -> set[str]:
    """Names of the module-level literal assignments the agent can rewrite (``X = None`` too,
    which is no tunable parameter but takes a ``--param`` value all the same)."""
    import ast

    from trainchain.agent.source import read_units
    from trainchain.detection.pyast import module_assignments

    names: set[str] = set()
    try:
        units = read_units(str(entrypoint))
    except (OSError, ValueError):
        return names
    for unit in units:
        try:
            tree = ast.parse(unit.source)
        except SyntaxError:
            continue
        names.update(name for name, value, _ in module_assignments(tree) if _is_literal(value))
    return names


def _is_literal(node: Any) -> bool:
    import ast

    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def check_fixed_params(
    detection: Detection,
    fixed: Mapping[str, Any],
    from_cli: Collection[str] = (),
    settable: Collection[str] = (),
) -> None:
    """Every fixed value must reach the script the way the agent applies it: a discovered
    parameter (a prompt also by a name it contains, as the agent matches it), a module-level
    literal the agent rewrites (``settable``), a knob of the profile (the Keras ones for a
    Keras script), or anything when the code reads ``TRAINCHAIN_PARAMS`` itself."""
    from trainchain.agent.prompts import match_param

    if detection.reads_params:
        return
    known = [p.name for p in detection.parameters]
    known += sorted(set(settable) - set(known))
    known += get_profile(detection.profile).knob_names
    prompts = [p.prompt for p in detection.parameters if p.source == "prompt" and p.prompt]
    problems = []
    for name, value in fixed.items():
        if name in known or any(match_param(text, {name: value}) for text in prompts):
            continue
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = (
            f"did you mean {' or '.join(close)}?"
            if close
            else (f"known: {', '.join(known)}" if known else "no parameter was found")
        )
        where = (
            f"--param {name}={value}"
            if name in from_cli
            else (f"params: {name}: {value} in trainchain.yaml")
        )
        problems.append(f"{where} matches no parameter of {detection.entrypoint} ({hint})")
    if problems:
        raise ConfigError(
            "; ".join(problems) + ". Fix the name; a value the script reads itself goes "
            "under params: in trainchain.yaml with a range (type/low/high), or read "
            "TRAINCHAIN_PARAMS in the script"
        )


def project_requirements(requirements: list[str]) -> tuple[str, ...]:
    """The project's own requirements, minus the framework the profile already pins."""
    keep = []
    owned = framework_packages()
    for line in requirements:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if package_name(line) in owned:
            continue
        keep.append(line)
    return tuple(keep)
