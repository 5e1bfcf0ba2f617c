"""Training images: build contexts, content-hash tags, builds that stream their log, listing.

An image is named by a hash of everything that goes into it (Dockerfile, shared scripts, pinned
packages, the agent, extra CA certificates, local wheels, the base image), so an unchanged
environment is found by its tag and never rebuilt. Two kinds are stacked:

- the **profile image** ``trainchain/<profile>:<hash>`` from ``images/<profile>/Dockerfile``;
- the **project image** ``trainchain/project-<profile>:<hash>`` from ``images/project/Dockerfile``:
  the project's own requirements on top, and with ``bake`` its code in ``/app``.

The Docker SDK is imported inside functions only (the CLI imports this module at start-up).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trainchain
from trainchain.errors import ConfigError, EnvironmentBuildError
from trainchain.profiles.table import package_name, profile_names, profile_packages
from trainchain.settings import operator_settings

log = logging.getLogger(__name__)

REPOSITORY = "trainchain"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
SHARED_FILES = ("entrypoint.sh", "trust-certs.sh", "install-requirements.sh")
# never baked into an image: VCS data, caches, and what a run writes next to the code
_BAKE_IGNORE = {
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ipynb_checkpoints",
    "node_modules",
}
Source = bytes | Path


@dataclass(frozen=True)
class BuildOptions:
    """How images are built (not what goes into them), each documented in docs/docker.md."""

    base_image: str | None = None  # None: $TRAINCHAIN_BASE_IMAGE, else python:3.11-slim
    ca_certs: Path | None = None  # a directory of extra .crt files to trust while building
    pip_index_url: str | None = None
    wheels: Path | None = None  # a directory of local wheels (the torch CPU wheel)
    installer: str = "uv"  # "uv" (when this machine has it; pip otherwise) or "pip"

    @classmethod
    def from_env(cls) -> BuildOptions:
        """``TRAINCHAIN_BASE_IMAGE``, ``TRAINCHAIN_CA_CERTS``, ``TRAINCHAIN_PIP_INDEX_URL``,
        ``TRAINCHAIN_WHEELS``, ``TRAINCHAIN_UV=off`` (what CI and the docker runtime use)."""
        from trainchain.runtimes.installer import find_uv

        settings = operator_settings()
        return cls(
            base_image=settings.base_image,
            ca_certs=settings.ca_certs,
            pip_index_url=settings.pip_index_url,
            wheels=settings.wheels,
            installer="uv" if find_uv() else "pip",
        )

    def resolved_base(self) -> str:
        return self.base_image or operator_settings().base_image or DEFAULT_BASE_IMAGE


@dataclass(frozen=True)
class ImagePlan:
    """One image to build or reuse: its tag and the files of its build context."""

    kind: str  # "profile" | "project"
    profile: str
    tag: str
    files: dict[str, Source] = field(repr=False)  # context path -> content or file to copy
    buildargs: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    parent: ImagePlan | None = None  # the profile image a project image is built on

    def write_context(self, target: Path) -> None:
        for rel, source in self.files.items():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                dest.write_bytes(source)
            else:
                shutil.copy(source, dest)  # with its mode: tools/uv stays executable


def images_dir() -> Path:
    """``$TRAINCHAIN_IMAGES_DIR`` or ``images/`` next to the source tree."""
    configured = os.environ.get("TRAINCHAIN_IMAGES_DIR")
    source_tree = Path(trainchain.__file__).resolve().parents[2]
    path = Path(configured) if configured else source_tree / "images"
    if not (path / "entrypoint.sh").is_file():
        raise EnvironmentBuildError(
            f"image definitions not found in {path}: set TRAINCHAIN_IMAGES_DIR to the 'images' "
            "directory of a trainchain checkout"
        )
    return path


def image_profiles() -> list[str]:
    """Profiles that have a Dockerfile (every profile of the table should)."""
    root = images_dir()
    return [name for name in profile_names() if (root / name / "Dockerfile").is_file()]


def profile_plan(profile: str, options: BuildOptions | None = None) -> ImagePlan:
    """The profile image: pinned packages from the profile table, agent, CA certs, wheels."""
    from trainchain.runtimes.staging import agent_dir

    options = options or BuildOptions()
    packages = profile_packages(profile)  # ConfigError for an unknown profile
    root = images_dir()
    dockerfile = root / profile / "Dockerfile"
    if not dockerfile.is_file():
        raise ConfigError(
            f"profile {profile!r} has no Dockerfile ({dockerfile}): choose one of "
            f"{', '.join(image_profiles())} or use --runtime local"
        )
    files: dict[str, Source] = {"Dockerfile": dockerfile}
    for name in SHARED_FILES:
        files[name] = root / name
    files["requirements.txt"] = "".join(f"{p}\n" for p in packages).encode()
    agent = agent_dir()
    for path in sorted(p for p in agent.rglob("*.py") if p.is_file()):
        files[f"agent/{path.relative_to(agent).as_posix()}"] = path
    files.update(_dir_files("certs", options.ca_certs, (".crt", ".pem"), "--ca-certs"))
    files.update(_dir_files("wheels", options.wheels, (".whl", ".tar.gz", ".zip"), "--wheels"))
    base = options.resolved_base()
    digest = _digest(files, extra=[base])  # tools/ (the installer) is not part of the content
    files.update(_installer_files(options.installer))
    buildargs = {"BASE_IMAGE": base, "INSTALLER": options.installer}
    if options.pip_index_url:
        buildargs["PIP_INDEX_URL"] = options.pip_index_url
    return ImagePlan(
        kind="profile",
        profile=profile,
        tag=f"{REPOSITORY}/{profile}:{digest}",
        files=files,
        buildargs=buildargs,
        labels=_labels("profile", profile, digest, base_image=base),
    )


def project_plan(
    profile: str,
    requirements: tuple[str, ...] = (),
    project: Path | None = None,
    options: BuildOptions | None = None,
) -> ImagePlan:
    """The project's layer on the profile image; ``project`` given: bake its code into /app."""
    options = options or BuildOptions()
    parent = profile_plan(profile, options)
    root = images_dir()
    files: dict[str, Source] = {
        "Dockerfile": root / "project" / "Dockerfile",
        "requirements.txt": "".join(f"{r}\n" for r in requirements).encode(),
        "project/.trainchain-baked": b"",  # keeps project/ in the context when not baking
    }
    if project is not None:
        files.update(_project_files(project))
    digest = _digest(files, extra=[parent.tag])
    buildargs = {"PROFILE_IMAGE": parent.tag, "BAKED": "1" if project is not None else "0"}
    if options.pip_index_url:
        buildargs["PIP_INDEX_URL"] = options.pip_index_url
    name = f"baked-{_slug(project.resolve().name)}" if project is not None else f"project-{profile}"
    return ImagePlan(
        kind="project",
        profile=profile,
        tag=f"{REPOSITORY}/{name}:{digest}",
        files=files,
        buildargs=buildargs,
        labels=_labels("baked" if project else "project", profile, digest, parent=parent.tag),
        parent=parent,
    )


def env_extras(
    profile: str, packages: tuple[str, ...], project_requirements: tuple[str, ...]
) -> tuple[str, ...]:
    """What an environment needs beyond the profile's pins: extra import pins, then the
    project's own requirements (both go into the project layer)."""
    pinned = {package_name(p) for p in profile_packages(profile)}
    return tuple(p for p in packages if package_name(p) not in pinned) + project_requirements


def env_plan(
    profile: str,
    packages: tuple[str, ...],
    project_requirements: tuple[str, ...],
    options: BuildOptions | None = None,
) -> ImagePlan:
    """The image for an ``EnvSpec``: the profile image, plus a project layer when the spec
    needs more than the profile's pins."""
    extra = env_extras(profile, packages, project_requirements)
    if not extra:
        return profile_plan(profile, options)
    return project_plan(profile, extra, None, options)


def image_exists(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise EnvironmentBuildError(f"cannot inspect image {tag}: {exc}") from exc
    return True


def ensure_image(client: Any, plan: ImagePlan, sink: Callable[[str], None]) -> bool:
    """Build ``plan`` (and its parent) unless present; True when something was built."""
    built = False
    if plan.parent is not None:
        built = ensure_image(client, plan.parent, sink)
    if image_exists(client, plan.tag):
        sink(f"image {plan.tag} is up to date (reused)")
        return built
    for line in build(client, plan):
        sink(line)
    return True


def build(client: Any, plan: ImagePlan, nocache: bool = False) -> Iterator[str]:
    """Build ``plan`` and yield its log line by line (its parent must exist).

    Raises ``EnvironmentBuildError`` with the failing step, the last lines of its log, and the
    requirement pip could not install when that is the cause.
    """
    if plan.kind == "profile":
        yield from _ensure_base(client, plan.buildargs["BASE_IMAGE"])
    if plan.profile == "pytorch" and not any(k.endswith(".whl") for k in plan.files):
        yield (
            "warning: no --wheels given: PyPI's torch for Linux is the CUDA build (GBs of "
            "nvidia-* packages); pass the CPU wheel's directory with --wheels DIR"
        )
    with tempfile.TemporaryDirectory(prefix="trainchain-build-") as tmp:
        context = Path(tmp)
        plan.write_context(context)
        yield f"building {plan.tag} ({plan.kind} image, profile {plan.profile})"
        yield from _run_build(client, context, plan, nocache)


def list_images(client: Any) -> list[dict[str, Any]]:
    """trainchain images in the engine, newest first: tag, kind, profile, size, created."""
    rows = []
    for image in client.images.list(filters={"label": "trainchain.kind"}):
        labels = image.labels or {}
        for tag in image.tags or ["<none>"]:
            rows.append(
                {
                    "tag": tag,
                    "kind": labels.get("trainchain.kind", ""),
                    "profile": labels.get("trainchain.profile", ""),
                    "size_mb": round(image.attrs.get("Size", 0) / 1e6, 1),
                    "created": image.attrs.get("Created", ""),
                    "id": image.short_id,
                }
            )
    return sorted(rows, key=lambda r: r["created"], reverse=True)


def _ensure_base(client: Any, base: str) -> Iterator[str]:
    """The base image must be local or pullable; say how to make one when neither works."""
    import docker.errors

    if image_exists(client, base):
        return
    yield f"base image {base} is not present locally; pulling it"
    try:
        client.images.pull(base)
    except docker.errors.DockerException as exc:
        raise EnvironmentBuildError(
            f"base image {base!r} is not present and cannot be pulled ({exc}): build a local one "
            "with scripts/base-image.sh and pass --base-image trainchain/base:bookworm "
            "(or set TRAINCHAIN_BASE_IMAGE)"
        ) from exc


def _dir_files(
    prefix: str, directory: Path | None, suffixes: tuple[str, ...], option: str
) -> dict[str, Source]:
    files: dict[str, Source] = {f"{prefix}/.keep": b""}  # the COPY needs the directory
    if directory is None:
        return files
    if not directory.is_dir():
        raise ConfigError(
            f"{option} {directory}: not a directory; pass a directory of {'/'.join(suffixes)} files"
        )
    found = sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(suffixes))
    if not found:
        raise ConfigError(f"{option} {directory}: no {'/'.join(suffixes)} files in it")
    for path in found:
        files[f"{prefix}/{path.name}"] = path
    return files


def _installer_files(installer: str) -> dict[str, Source]:
    """``tools/uv``: this machine's uv binary for the build stage (no download, same version);
    without it (or with installer "pip") the image builds with pip."""
    from trainchain.runtimes.installer import find_uv

    files: dict[str, Source] = {"tools/.keep": b""}
    uv = find_uv() if installer == "uv" else None
    if uv is not None:
        files["tools/uv"] = Path(uv)
    return files


def _project_files(project: Path) -> dict[str, Source]:
    if not project.is_dir():
        raise ConfigError(f"project {project} is not a directory: pass the project's folder")
    files: dict[str, Source] = {}
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if any(part in _BAKE_IGNORE for part in rel.parts) or not path.is_file():
            continue
        files[f"project/{rel.as_posix()}"] = path
    return files


def _digest(files: dict[str, Source], extra: list[str]) -> str:
    digest = hashlib.sha256()
    for item in extra:
        digest.update(item.encode() + b"\0")
    for rel in sorted(files):
        source = files[rel]
        digest.update(rel.encode() + b"\0")
        if isinstance(source, bytes):
            digest.update(hashlib.sha256(source).digest())
        elif rel.startswith("wheels/"):  # large: a wheel's name and size identify it
            digest.update(f"{source.stat().st_size}".encode())
        else:
            digest.update(hashlib.sha256(source.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _labels(kind: str, profile: str, digest: str, **extra: str) -> dict[str, str]:
    labels = {
        "trainchain.kind": kind,
        "trainchain.profile": profile,
        "trainchain.hash": digest,
        "trainchain.version": trainchain.__version__,
    }
    labels.update({f"trainchain.{k.replace('_', '-')}": v for k, v in extra.items()})
    return labels


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "project"


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_PIP_MISSING = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement|Because there is no version of|Because there are no versions of) (\S+?)"
    r"(?: and|,|\s|$)|Because (\S+) was not found in the package registry"
)
_PIP_BUILD = re.compile(r"Failed to build (\S+)|Failed building wheel for (\S+)")
_TAIL = 25
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run_build(client: Any, context: Path, plan: ImagePlan, nocache: bool) -> Iterator[str]:
    """Stream the engine's build output; turn a failure into the step and the log's tail."""
    import docker.errors

    step, pending = "", ""
    tail: list[str] = []
    error: str | None = None
    try:
        stream = client.api.build(
            path=str(context),
            tag=plan.tag,
            buildargs=plan.buildargs,
            labels=plan.labels,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=nocache,
            decode=True,
        )
        for chunk in stream:  # read to the end even after an error: that closes the response
            if "error" in chunk:
                error = error or str(chunk["error"])
            pending += chunk.get("stream", "")
            *lines, pending = pending.split("\n")
            for line in lines:
                line = _ANSI.sub("", line).rstrip()
                match = _STEP.match(line)
                if match:
                    step, tail = line, []
                elif line:
                    tail = (tail + [line])[-_TAIL:]
                yield line
    except docker.errors.DockerException as exc:
        raise EnvironmentBuildError(_failure(plan, step, tail, pending, str(exc))) from exc
    if error is not None:
        raise EnvironmentBuildError(_failure(plan, step, tail, pending, error))
    if pending.strip():
        yield pending.rstrip()


def _failure(plan: ImagePlan, step: str, tail: list[str], pending: str, error: str) -> str:
    lines = [*tail, *([_ANSI.sub("", pending).rstrip()] if pending.strip() else [])][-_TAIL:]
    text = "\n".join(lines)
    where = step or "before the first step"
    missing = _PIP_MISSING.search(text)
    broken = _PIP_BUILD.search(text)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        head = (
            f"building {plan.tag} failed at {where}: TLS certificate verification failed; "
            "behind a TLS-intercepting proxy pass its CA with --ca-certs DIR "
            "(e.g. /usr/local/share/ca-certificates) or TRAINCHAIN_CA_CERTS"
        )
    elif missing or broken:
        requirement = _first_group(missing or broken)
        reasons = [
            ln.strip() for ln in lines if ln.lstrip().startswith(("ERROR", "error:", "cause:"))
        ] or lines[-3:]
        installer = "uv" if any(ln.lstrip().startswith("cause:") for ln in lines) else "pip"
        head = (
            f"cannot install requirement {requirement!r} in {plan.tag}: {installer} says: "
            f"{' / '.join(reasons)}; fix or remove the pin (requirements.txt or the profile "
            "table) or check the package index (--pip-index-url)"
        )
    else:
        head = f"building {plan.tag} failed at {where}: {error.strip()}"
    return head + "\n  last lines of the log:\n" + "\n".join(f"    {ln}" for ln in lines)


def _first_group(match: re.Match[str] | None) -> str:
    if match is None:
        return "?"
    return next((g for g in match.groups() if g), "?")
