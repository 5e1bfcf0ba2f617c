"""A profile image built with no layer cache: the previous recipe with pip vs this one.

Cases, run interleaved ``--rounds`` times (each image removed after it is measured):

- **pip, previous recipe**: the five-Dockerfile recipe of revision ``--previous`` (two-stage
  Dockerfile, ``INSTALLER=pip``), as it was before the venv image and the template;
- **uv, previous recipe**: the same with uv inside the build (no cache: the classic builder
  has no cache mounts) — last session's 0.75x;
- **this recipe, uv, empty cache**: the venv image built in a container with a new, empty
  cache volume (downloads everything), then the rendered Dockerfile; no layer cache;
- **this recipe, uv, warm cache**: the same with the cache volume that earlier builds filled
  (the usual case: any earlier build of any profile on the engine leaves its downloads).

Then one more warm-cache build is split by its log: the install container, the commit, the
Dockerfile build on top.

Every image's installed distributions are listed (``importlib.metadata``) and compared with the
pip build's: the same content. Run:
``python bench/bench_image_build.py [--profile sklearn] [--rounds 2] [--no-write]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, docker_runtime, load, machine, ratio, write_section  # noqa: E402

PREVIOUS = "527131f"  # main before the template: images/<profile>/Dockerfile, two stages
LIST = (
    "import importlib.metadata as m; "
    "print(' '.join(sorted(f\"{d.metadata['Name'].lower()}=={d.version}\" "
    "for d in m.distributions())))"
)


def previous_plan(profile: str, options: Any, installer: str) -> Any:
    """The image of the previous recipe (files from git), tagged for this bench."""
    from trainchain.runtimes import images

    def old(path: str) -> bytes:
        return subprocess.run(
            ["git", "show", f"{PREVIOUS}:{path}"], cwd=ROOT, capture_output=True, check=True
        ).stdout

    venv = images.venv_plan(profile, replace(options, installer=installer))
    profile_image = images.profile_plan(profile, options)
    files: dict[str, Any] = {
        "Dockerfile": old(f"images/{profile}/Dockerfile"),
        **{name: old(f"images/{name}") for name in images.VENV_SCRIPTS + ("entrypoint.sh",)},
    }
    files.update({k: v for k, v in venv.files.items() if k not in files})
    files.update({k: v for k, v in profile_image.files.items() if k.startswith("agent/")})
    return images.ImagePlan(
        kind="previous",
        profile=profile,
        tag=f"trainchain/bench-previous-{installer}:{uuid.uuid4().hex[:8]}",
        files=files,
        buildargs={"BASE_IMAGE": venv.buildargs["BASE_IMAGE"], "INSTALLER": installer},
    )


def distributions(client: Any, tag: str) -> str:
    out = client.containers.run(
        tag, entrypoint=["/opt/venv/bin/python", "-c", LIST], remove=True, network_mode="none"
    )
    return str(out.decode().strip())


def build_once(client: Any, plan: Any) -> tuple[float, list[str]]:
    from trainchain.runtimes import image_build

    start = time.perf_counter()
    log = list(image_build.build(client, plan, nocache=True))
    return time.perf_counter() - start, log


def phases(client: Any, plan: Any) -> dict[str, float]:
    """One build of ``plan`` (no layer cache) split by its log: the install container (start to
    its last line), the commit of the venv image, and the Dockerfile build on top."""
    from trainchain.runtimes import image_build

    marks: list[tuple[float, str]] = []
    start = time.perf_counter()
    for line in image_build.build(client, plan, nocache=True):
        marks.append((time.perf_counter() - start, line))
    venv_tag = plan.parent.tag
    begin = next(t for t, line in marks if line.startswith(f"building {venv_tag}"))
    first = next(t for t, line in marks if line.startswith("installing with"))
    at = next(i for i, (_t, line) in enumerate(marks) if line == f"Successfully tagged {venv_tag}")
    tagged, last = marks[at][0], marks[at - 1][0]  # the install's last line, then the commit
    return {
        "create + start the container": first - begin,
        "uv venv + install + compile": last - first,
        "commit the venv image": tagged - last,
        "Dockerfile build on top": marks[-1][0] - tagged,
        "total": marks[-1][0],
    }


def remove(client: Any, plan: Any) -> None:
    for step in (plan, plan.parent):
        if step is not None:
            client.images.remove(step.tag, force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sklearn")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from trainchain.profiles import get_profile
    from trainchain.runtimes import images

    docker, why = docker_runtime()
    if docker is None:
        sys.exit(f"no Docker engine: {why}")
    client = docker.client
    client.api.timeout = 3600
    base = docker.options.resolved_base()
    bench_base = base.split(":")[0] + ":bench-image-build"  # tags nobody else uses
    client.images.get(base).tag(bench_base)
    options = replace(docker.options, base_image=bench_base, installer="uv")
    warm_volume = f"trainchain-bench-cache-{uuid.uuid4().hex[:8]}"
    times: dict[str, list[float]] = {}
    loads: dict[str, list[str]] = {}
    content: dict[str, str] = {}
    try:
        warmup = images.profile_plan(args.profile, replace(options, cache_volume=warm_volume))
        build_once(client, warmup)  # fills the warm cache; not measured
        remove(client, warmup)
        for n in range(args.rounds):
            cases = {
                "pip, previous recipe (two-stage Dockerfile)": previous_plan(
                    args.profile, options, "pip"
                ),
                "uv, previous recipe (no cache in the build)": previous_plan(
                    args.profile, options, "uv"
                ),
                "uv, this recipe, empty cache volume": images.profile_plan(
                    args.profile, replace(options, cache_volume=f"{warm_volume}-empty-{n}")
                ),
                "uv, this recipe, warm cache volume": images.profile_plan(
                    args.profile, replace(options, cache_volume=warm_volume)
                ),
            }
            order = list(cases.items())
            order = order[n % len(order) :] + order[: n % len(order)]  # each case leads once
            for case, plan in order:
                seconds, _log = build_once(client, plan)
                times.setdefault(case, []).append(seconds)
                loads.setdefault(case, []).append(load())
                content.setdefault(case, distributions(client, plan.tag))
                print(f"round {n + 1}: {case}: {seconds:.1f} s (load {load()})", flush=True)
                remove(client, plan)
            client.volumes.get(f"{warm_volume}-empty-{n}").remove(force=True)
        split = phases(client, warmup)
        remove(client, warmup)
    finally:
        client.images.remove(bench_base)
        try:
            client.volumes.get(warm_volume).remove(force=True)
        except Exception:  # noqa: BLE001 - absent when the warm-up failed
            pass
    pip_case = "pip, previous recipe (two-stage Dockerfile)"
    warm_case = "uv, this recipe, warm cache volume"
    pip = statistics.median(times[pip_case])
    rows = []
    for case, values in times.items():
        same = "same" if content[case] == content[pip_case] else "DIFFERENT"
        rows.append(
            f"| {case} | {statistics.median(values):.1f} s | "
            f"{', '.join(f'{v:.1f}' for v in values)} | {ratio(statistics.median(values), pip)} | "
            f"{same} | {'; '.join(loads[case])} |"
        )
    pins = " ".join(get_profile(args.profile).pins)
    text = "\n".join(
        [
            "## Profile image, no layer cache: pip vs this recipe (`bench/bench_image_build.py`)",
            "",
            f"{machine('uv', 'docker')}.",
            "",
            f"Profile {args.profile} ({pins}), base `{base}`, CA certificates "
            f"{'given' if options.ca_certs else 'none'}. {args.rounds} rounds, the four cases "
            "interleaved in each (each round starts with the next case); every build with "
            "`nocache=True` (no layer reused), each image "
            "removed after it was measured. Content: the installed distributions of each image "
            "(`importlib.metadata`) compared with the pip build's.",
            "",
            "| case | median | each round | vs pip | distributions | load (1/5/15) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Where the warm-cache build's time goes (one more build, load {load()}): "
            + ", ".join(f"{k} {v:.1f} s" for k, v in split.items())
            + ".",
        ]
    )
    docker.close()
    print(text)
    if content[pip_case] != content[warm_case]:
        print("pip:", content[pip_case], "\nthis:", content[warm_case])
    if not args.no_write:
        write_section("image-build", text)


if __name__ == "__main__":
    main()
