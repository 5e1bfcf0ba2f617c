"""Training images: what goes into them, and the content-hash tags that name them.

An image is named by a hash of everything that goes into it (the rendered Dockerfile, shared
scripts, pinned packages, the agent, extra CA certificates, local wheels, the base image), so
an unchanged environment is found by its tag and never rebuilt. Three kinds are stacked:

- the **venv image** ``trainchain/<profile>-venv:<hash>``: the base image plus ``/opt/venv``
  with the profile's pins and the CA bundle, built by running ``install-requirements.sh`` in a
  container with the build inputs and the package cache mounted, then committing it (the
  classic builder the Docker SDK drives has no cache mounts; see ``image_build``);
- the **profile image** ``trainchain/<profile>:<hash>``: ``profile.Dockerfile`` rendered for
  the profile (its environment variables) on the venv image, adding the user, agent and
  entrypoint;
- the **project image** ``trainchain/project-<profile>:<hash>`` from ``project.Dockerfile``:
  the project's own requirements on top, and with ``bake`` its code in ``/app``.

The recipe files ship inside the package (``image_files/``, read with ``importlib.resources``),
so an installed trainchain builds images without a source checkout. The Docker SDK is imported
inside functions only (the CLI imports this module at start-up).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import trainchain
from trainchain.errors import ConfigError
from trainchain.profiles import Profile, get_profile, package_name, profile_names
from trainchain.settings import operator_settings

REPOSITORY = "trainchain"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
DEFAULT_CACHE_VOLUME = "trainchain-build-cache"
VENV_SCRIPTS = ("trust-certs.sh", "install-requirements.sh")
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
    # the Docker volume holding uv's cache across venv builds; None: no cache
    cache_volume: str | None = DEFAULT_CACHE_VOLUME

    @classmethod
    def from_env(cls) -> BuildOptions:
        """``TRAINCHAIN_BASE_IMAGE``, ``TRAINCHAIN_CA_CERTS``, ``TRAINCHAIN_PIP_INDEX_URL``,
        ``TRAINCHAIN_WHEELS``, ``TRAINCHAIN_UV=off``, ``TRAINCHAIN_BUILD_CACHE`` (a volume
        name, or ``off``) — what CI and the docker runtime use."""
        from trainchain.runtimes.installer import find_uv

        settings = operator_settings()
        cache_volume = settings.build_cache
        return cls(
            base_image=settings.base_image,
            ca_certs=settings.ca_certs,
            pip_index_url=settings.pip_index_url,
            wheels=settings.wheels,
            installer="uv" if find_uv() else "pip",
            cache_volume=None if cache_volume in ("", "off", "0") else cache_volume,
        )

    def resolved_base(self) -> str:
        return self.base_image or operator_settings().base_image or DEFAULT_BASE_IMAGE


@dataclass(frozen=True)
class ImagePlan:
    """One image to build or reuse: its tag and the files of its build context."""

    kind: str  # "venv" | "profile" | "project"
    profile: str
    tag: str
    files: dict[str, Source] = field(repr=False)  # context path -> content or file to copy
    buildargs: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    parent: ImagePlan | None = None  # the image this one is built on

    def write_context(self, target: Path) -> None:
        for rel, source in self.files.items():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                dest.write_bytes(source)
            else:
                shutil.copy(source, dest)  # with its mode: tools/uv stays executable


def recipe_file(name: str) -> bytes:
    """A file of the image recipe, from the installed package (``image_files/``)."""
    return resources.files("trainchain.runtimes").joinpath("image_files", name).read_bytes()


class _Template(string.Template):
    delimiter = "@"  # ``$`` belongs to the Dockerfile's own ARG syntax


def render_dockerfile(profile_name: str) -> bytes:
    """``profile.Dockerfile`` for one profile: its name, description and image variables."""
    profile = get_profile(profile_name)
    template = _Template(recipe_file("profile.Dockerfile").decode())
    env = "".join(f" \\\n    {key}={_env_value(profile, key)}" for key in profile.image_env)
    text = template.substitute(profile=profile.name, description=profile.description, env=env)
    return text.encode()


def _env_value(profile: Profile, key: str) -> str:
    value = profile.image_env[key]
    if not re.fullmatch(r"[A-Za-z0-9_./:,+=@-]*", value):
        raise ConfigError(
            f"profile {profile.name!r}: image variable {key}={value!r} needs quoting; "
            "use letters, digits and ._/:,+=@- only"
        )
    return value


def image_profiles() -> list[str]:
    """Profiles an image can be built for: every registered one (one Dockerfile template)."""
    return profile_names()


def venv_plan(profile: str, options: BuildOptions | None = None) -> ImagePlan:
    """The venv image: base + /opt/venv with the profile's pins + the CA bundle."""
    options = options or BuildOptions()
    packages = get_profile(profile).pins  # ConfigError for an unknown profile
    files: dict[str, Source] = {name: recipe_file(name) for name in VENV_SCRIPTS}
    files["requirements.txt"] = "".join(f"{p}\n" for p in packages).encode()
    files.update(_dir_files("certs", options.ca_certs, (".crt", ".pem"), "--ca-certs"))
    files.update(_dir_files("wheels", options.wheels, (".whl", ".tar.gz", ".zip"), "--wheels"))
    base = options.resolved_base()
    digest = _digest(files, extra=[base])  # tools/ (the installer) is not part of the content
    files.update(_installer_files(options.installer))
    buildargs = {"BASE_IMAGE": base, "INSTALLER": options.installer}
    if options.pip_index_url:
        buildargs["PIP_INDEX_URL"] = options.pip_index_url
    if options.cache_volume:
        buildargs["CACHE_VOLUME"] = options.cache_volume
    return ImagePlan(
        kind="venv",
        profile=profile,
        tag=f"{REPOSITORY}/{profile}-venv:{digest}",
        files=files,
        buildargs=buildargs,
        labels=_labels("venv", profile, digest, base_image=base),
    )


def profile_plan(profile: str, options: BuildOptions | None = None) -> ImagePlan:
    """The profile image: the rendered Dockerfile, agent and entrypoint on the venv image."""
    from trainchain.runtimes.staging import agent_dir

    parent = venv_plan(profile, options)
    files: dict[str, Source] = {
        "Dockerfile": render_dockerfile(profile),
        "entrypoint.sh": recipe_file("entrypoint.sh"),
    }
    agent = agent_dir()
    for path in sorted(p for p in agent.rglob("*.py") if p.is_file()):
        files[f"agent/{path.relative_to(agent).as_posix()}"] = path
    digest = _digest(files, extra=[parent.tag])
    return ImagePlan(
        kind="profile",
        profile=profile,
        tag=f"{REPOSITORY}/{profile}:{digest}",
        files=files,
        buildargs={"VENV_IMAGE": parent.tag},
        labels=_labels("profile", profile, digest, parent=parent.tag),
        parent=parent,
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
    files: dict[str, Source] = {
        "Dockerfile": recipe_file("project.Dockerfile"),
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
    pinned = {package_name(p) for p in get_profile(profile).pins}
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


def _dir_files(
    prefix: str, directory: Path | None, suffixes: tuple[str, ...], option: str
) -> dict[str, Source]:
    files: dict[str, Source] = {f"{prefix}/.keep": b""}  # the directory exists when mounted
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
    """``tools/uv``: this machine's uv binary for the venv build (no download, same version);
    without it (or with installer "pip") the venv is built with pip."""
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
