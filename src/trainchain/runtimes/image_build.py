"""Building the planned images (``runtimes.images``) in a Docker engine, streaming their log.

A profile's packages are installed by ``install-requirements.sh`` in a container of the base
image with the build inputs mounted read-only at ``/mnt`` and uv's cache on a Docker volume at
``/media`` (both directories exist in Debian images, so the mounts leave nothing behind), then
the container is committed as the venv image. Nothing of the inputs or the cache lands in an
image, and a later build of any profile reuses the downloads: BuildKit's cache mounts, without
BuildKit (the SDK drives the classic builder). The rest is plain ``docker build``.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from trainchain.errors import EnvironmentBuildError
from trainchain.profiles import get_profile
from trainchain.runtimes.images import ImagePlan

INPUTS_DIR = "/mnt"  # the build inputs, read-only
CACHE_DIR = "/media"  # the cache volume
_INSTALL_STEP = "installing the pinned packages (install-requirements.sh)"


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
    """Build ``plan`` (and its parents) unless present; True when something was built."""
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
    """Build ``plan`` and yield its log line by line. A project image's parent must exist; a
    profile image builds its venv image too when that is missing or ``nocache`` is set.

    Raises ``EnvironmentBuildError`` with the failing step, the last lines of its log, and the
    requirement the installer could not install when that is the cause.
    """
    if plan.kind == "venv":
        yield from _build_venv(client, plan)
        return
    if plan.kind == "profile" and plan.parent is not None:
        if nocache or not image_exists(client, plan.parent.tag):
            yield from _build_venv(client, plan.parent)
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


def _build_venv(client: Any, plan: ImagePlan) -> Iterator[str]:
    """Run the installer in a container of the base image, then commit it as ``plan.tag``."""
    import docker.errors

    args = plan.buildargs
    base = args["BASE_IMAGE"]
    yield from _ensure_base(client, base)
    wheels = [k.removeprefix("wheels/") for k in plan.files if k.startswith("wheels/")]
    yield from get_profile(plan.profile).build_warnings(wheels)
    env = {"TRAINCHAIN_BUILD_DIR": INPUTS_DIR, "INSTALLER": args.get("INSTALLER", "uv")}
    if args.get("PIP_INDEX_URL"):
        env["PIP_INDEX_URL"] = args["PIP_INDEX_URL"]
    volume = args.get("CACHE_VOLUME")
    if volume:
        env["UV_CACHE_DIR"] = f"{CACHE_DIR}/uv"
    # exported in the command, not the container's environment: that would be committed
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    script = (
        f"export {exports}; sh {INPUTS_DIR}/trust-certs.sh; sh {INPUTS_DIR}/install-requirements.sh"
    )
    with tempfile.TemporaryDirectory(prefix="trainchain-venv-") as tmp:
        plan.write_context(Path(tmp))
        mounts = {tmp: {"bind": INPUTS_DIR, "mode": "ro"}}
        if volume:
            mounts[volume] = {"bind": CACHE_DIR, "mode": "rw"}
        yield (
            f"building {plan.tag} (venv image, profile {plan.profile}: installing in a "
            f"container of {base}, package cache {volume or 'off'})"
        )
        try:
            container = client.containers.create(
                base,
                ["/bin/sh", "-eu", "-c", script],
                entrypoint=[],
                user="0",
                volumes=mounts,
                labels={"trainchain.stage": "venv-build"},
            )
        except docker.errors.DockerException as exc:
            message = f"cannot create the build container of {plan.tag}: {exc}"
            raise EnvironmentBuildError(message) from exc
        try:
            yield from _install(client, container, plan)
        finally:
            try:
                container.remove(force=True)
            except docker.errors.DockerException:
                pass  # already gone with the engine; nothing of it stays in an image


def _install(client: Any, container: Any, plan: ImagePlan) -> Iterator[str]:
    import docker.errors

    tail: list[str] = []
    pending = ""
    try:
        container.start()
        for chunk in container.logs(stream=True, follow=True):
            pending += chunk.decode("utf-8", "replace")
            *lines, pending = pending.split("\n")
            for line in lines:
                line = _ANSI.sub("", line).rstrip()
                if line:
                    tail = (tail + [line])[-_TAIL:]
                yield line
        status = container.wait()
        code = int(status.get("StatusCode", 1))
        if code != 0:
            error = f"the install returned a non-zero code: {code}"
            raise EnvironmentBuildError(_failure(plan, _INSTALL_STEP, tail, pending, error))
        base = client.images.get(plan.buildargs["BASE_IMAGE"]).attrs.get("Config") or {}
        labels = " ".join(f"{k}={json.dumps(v)}" for k, v in plan.labels.items())
        changes = [f"LABEL {labels}", f"CMD {json.dumps(base.get('Cmd') or ['/bin/sh'])}"]
        repository, tag = plan.tag.rsplit(":", 1)
        container.commit(repository=repository, tag=tag, changes=changes)
    except docker.errors.DockerException as exc:
        raise EnvironmentBuildError(_failure(plan, _INSTALL_STEP, tail, pending, str(exc))) from exc
    if pending.strip():
        yield pending.rstrip()
    yield f"Successfully tagged {plan.tag}"


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


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_PIP_MISSING = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement|Because there is no version of|Because there are no versions of) (\S+?)"
    r"(?: and|,|\s|$)|Because (\S+) was not found in the package registry"
)
_PIP_BUILD = re.compile(r"Failed to build (\S+)|Failed building wheel for (\S+)")
_TAIL = 25
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _append_labels(dockerfile: Path, labels: dict[str, str]) -> None:
    """One ``LABEL`` line at the end: the classic builder turns the API's ``labels=`` into one
    step (and one committed layer) per label, about 5 s each on a busy machine."""
    if labels:
        line = " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in sorted(labels.items()))
        with open(dockerfile, "a", encoding="utf-8") as fh:
            fh.write(f"\nLABEL {line}\n")


def _run_build(client: Any, context: Path, plan: ImagePlan, nocache: bool) -> Iterator[str]:
    """Stream the engine's build output; turn a failure into the step and the log's tail."""
    import docker.errors

    step, pending = "", ""
    tail: list[str] = []
    error: str | None = None
    _append_labels(context / "Dockerfile", plan.labels)
    try:
        stream = client.api.build(
            path=str(context),
            tag=plan.tag,
            buildargs=plan.buildargs,
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
            f"{' / '.join(reasons)}; fix or remove the pin (requirements.txt or the profile's "
            "pins) or check the package index (--pip-index-url)"
        )
    else:
        head = f"building {plan.tag} failed at {where}: {error.strip()}"
    return head + "\n  last lines of the log:\n" + "\n".join(f"    {ln}" for ln in lines)


def _first_group(match: re.Match[str] | None) -> str:
    if match is None:
        return "?"
    return next((g for g in match.groups() if g), "?")
