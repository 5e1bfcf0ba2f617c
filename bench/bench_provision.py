"""Environment provisioning: cold, warm, and after a code-only change (which must build nothing).

For the local runtime (a virtualenv of the sklearn profile in a temporary TRAINCHAIN_ENVS_DIR)
and, when a Docker engine answers, the docker runtime (the sklearn image built with no layer
cache, then reused); plus the size of the newest image of every profile present locally.
The project is a copy of ``examples/sklearn-digits``; the code-only change edits a constant and
a comment, and the script asserts that the environment key (venv name / image tag) is unchanged
and that nothing was built.

Run: ``python bench/bench_provision.py [--repeat 5] [--no-docker] [--cold-repeat 1] [--no-write]``.

``--uv-warm [PROFILE]`` measures uv with a warm cache, compiling at install against after (in
the background), and a trial's start (its imports) in each venv.

``--installers [PROFILE]`` instead measures pip against uv on the same pins (default: the keras
profile's): a virtualenv with pip (its download cache as it is, then empty), with uv (an empty
cache, then warm), and the profile image built with no layer cache by each.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, docker_runtime, load, machine, ratio, write_section  # noqa: E402

EXAMPLE = ROOT / "examples" / "sklearn-digits"


def detect_spec(project: Path) -> Any:
    """The EnvSpec job2 derives for ``project`` (detection included, as in a run)."""
    from trainchain.stages.detect import detect_project

    return detect_project(project, None, None, {}).env_spec


def code_only_change(project: Path) -> None:
    train = project / "train.py"
    text = train.read_text()
    assert "N_ESTIMATORS = 2" in text
    train.write_text(
        text.replace("N_ESTIMATORS = 2", "N_ESTIMATORS = 3  # a code-only change") + "\n# edited\n"
    )


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_local(
    project: Path, root: Path, repeat: int, cold_repeat: int
) -> tuple[list[str], dict[str, Any]]:
    from trainchain.runtimes.local import LocalRuntime

    spec = detect_spec(project)
    colds = []
    for n in range(cold_repeat):  # each cold build in a new, empty envs directory
        runtime = LocalRuntime(root / f"envs-{n}")
        seconds, env = timed(lambda r=runtime: r.provision(spec, lambda _l: None))
        assert env.created, "a cold provision must build the venv"
        colds.append(seconds)
    warm = []
    for _ in range(repeat):
        seconds, env = timed(lambda: runtime.provision(detect_spec(project), lambda _l: None))
        assert not env.created
        warm.append(seconds)
    code_only_change(project)
    changed = detect_spec(project)
    assert changed.key() == spec.key(), (
        f"code-only change moved the env key {spec.key()} -> {changed.key()}"
    )
    after = []
    for _ in range(repeat):
        seconds, env = timed(lambda: runtime.provision(detect_spec(project), lambda _l: None))
        assert not env.created, "a code-only change must build nothing"
        after.append(seconds)
    size = sum(
        f.stat().st_size for f in (root / "envs-0").rglob("*") if f.is_file() and not f.is_symlink()
    )
    facts = {"key": spec.key(), "packages": " ".join(spec.packages), "size_mb": size / 1e6}
    return _rows(
        "local (venv)",
        colds,
        warm,
        after,
        spec.key(),
        changed.key(),
        "new envs directory; pip's download cache as it was",
    ), facts


def bench_docker(runtime: Any, project: Path, repeat: int) -> tuple[list[str], dict[str, Any]]:
    from trainchain.runtimes import image_build, images

    spec = detect_spec(project)
    plan = images.env_plan(spec.profile, spec.packages, spec.project_requirements, runtime.options)
    client = runtime.client
    start = time.perf_counter()
    for step in [p for p in (plan.parent, plan) if p is not None]:
        for _line in image_build.build(client, step, nocache=True):  # no layer cache
            pass
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeat):
        seconds, env = timed(lambda: runtime.provision(detect_spec(project), lambda _l: None))
        assert not env.created and env.image == plan.tag
        warm.append(seconds)
    code_only_change(project)
    changed = detect_spec(project)
    new_plan = images.env_plan(
        changed.profile, changed.packages, changed.project_requirements, runtime.options
    )
    assert new_plan.tag == plan.tag, (
        f"code-only change moved the image tag {plan.tag} -> {new_plan.tag}"
    )
    after = []
    for _ in range(repeat):
        seconds, env = timed(lambda: runtime.provision(detect_spec(project), lambda _l: None))
        assert not env.created, "a code-only change must build nothing"
        after.append(seconds)
    size = client.images.get(plan.tag).attrs.get("Size", 0) / 1e6
    return _rows(
        "docker (image)",
        [cold],
        warm,
        after,
        plan.tag,
        new_plan.tag,
        "no layer cache: every step rebuilt, wheels downloaded in the build",
    ), {"tag": plan.tag, "size_mb": size}


def _rows(
    label: str,
    cold: list[float],
    warm: list[float],
    after: list[float],
    key: str,
    key2: str,
    cold_case: str,
) -> list[str]:
    c, w, a = statistics.median(cold), statistics.median(warm), statistics.median(after)
    runs = "ran once" if len(cold) == 1 else f"median of {len(cold)}"
    return [
        f"| {label} | cold ({cold_case}) | {c:.1f} s | {runs} | built |",
        f"| {label} | warm (same spec again) | {w * 1000:.0f} ms | median of {len(warm)} | reused; "
        f"{ratio(c, w)} faster than cold |",
        f"| {label} | after a code-only change | {a * 1000:.0f} ms | median of {len(after)} | "
        f"nothing built; key `{key}` -> `{key2}` ({'unchanged' if key == key2 else 'CHANGED'}) |",
    ]


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    """Set (or with "" remove) environment variables for the duration of a block."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v:
                os.environ[k] = v
            else:
                os.environ.pop(k, None)
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def bench_installers(profile: str, root: Path, repeat: int, docker: Any, venvs: bool = True) -> str:
    """pip vs uv on the same pins: venvs (cold and warm caches) and the profile image."""
    from trainchain.profiles import profile_packages
    from trainchain.runtimes.base import EnvSpec
    from trainchain.runtimes.local import LocalRuntime

    spec = EnvSpec(profile, profile_packages(profile))
    uv_cache, pip_cache = root / "uv-cache", root / "pip-cache"
    counter = iter(range(1000))

    def venv(**env: str) -> tuple[float, str]:
        runtime = LocalRuntime(root / f"envs-{next(counter)}")
        lines: list[str] = []
        with environ(**env):
            seconds, built = timed(lambda: runtime.provision(spec, lines.append))
        assert built.created, "each build goes into a new envs directory"
        used = "uv" if any(line.startswith("$ uv pip install") for line in lines) else "pip"
        if any("retrying with pip" in line for line in lines):
            used = "pip (after uv failed)"
        shutil.rmtree(runtime.envs)
        return seconds, used

    rows: list[tuple[str, float, str, str]] = []  # case, seconds, installer, load

    def measured(case: str, seconds: float, used: str) -> float:
        rows.append((case, seconds, used, load()))
        print(f"{case}: {seconds:.1f} s ({used}, load {load()})", flush=True)
        return seconds

    lines: list[str] = []
    if venvs:
        pip_warm = measured(
            "pip, its download cache as it is (warm here)", *venv(TRAINCHAIN_UV="off")
        )
        measured("uv, empty cache (downloads everything)", *venv(UV_CACHE_DIR=str(uv_cache)))
        warm = [venv(UV_CACHE_DIR=str(uv_cache)) for _ in range(repeat)]
        uv_warm = statistics.median(s for s, _ in warm)
        measured(f"uv, warm cache (median of {repeat})", uv_warm, warm[0][1])
        pip_cold = measured(
            "pip, empty cache (downloads everything)",
            *venv(TRAINCHAIN_UV="off", PIP_CACHE_DIR=str(pip_cache)),
        )
        lines = [
            f"| venv | {case} | {seconds:.1f} s | {ratio(seconds, pip_warm)} | "
            f"{ratio(seconds, pip_cold)} | {used} | {avg} |"
            for case, seconds, used, avg in rows
        ]
    if docker is not None:
        lines += bench_image_installers(docker, profile)
    return "\n".join(
        [
            f"## pip vs uv: the {profile} profile's pins (`bench/bench_provision.py --installers`)",
            "",
            f"{machine('pip', 'uv', 'docker')}.",
            "",
            f"Pins: {' '.join(spec.packages)}. Each venv is built by `LocalRuntime.provision` "
            "into a new directory (`uv venv` + `uv pip install`, or `venv` + `pip install`), "
            "bytecode compiled by both. Images: the profile image built with no layer cache, "
            "once per installer; inside the build uv has no cache (the Docker SDK's classic "
            "builder has no cache mounts), so an image build is always uv's cold case.",
            "",
            "| what | case | time | vs pip (warm cache) | vs pip (empty cache) | installer used | "
            "load (1/5/15) |",
            "|---|---|---|---|---|---|---|",
            *lines,
        ]
    )


def bench_uv_warm(profile: str, root: Path, repeat: int) -> str:
    """uv with its cache warm: the venv usable without compiling (then compiled in the
    background) against compiling at install, and what a trial's start pays for each."""
    import subprocess

    from trainchain.profiles import profile_packages
    from trainchain.runtimes.base import EnvSpec
    from trainchain.runtimes.installer import COMPILED_MARK
    from trainchain.runtimes.local import LocalRuntime

    spec = EnvSpec(profile, profile_packages(profile))
    imports = {"keras": "import tensorflow, keras", "keras-legacy": "import tensorflow"}.get(
        profile, "import " + ", ".join(p.split("==")[0].replace("-", "_") for p in spec.packages)
    )
    counter = iter(range(1000))

    def build(**env: str) -> tuple[float, Path]:
        runtime = LocalRuntime(root / f"envs-{next(counter)}")
        with environ(**env):
            seconds, built = timed(lambda: runtime.provision(spec, lambda _l: None))
        assert built.created
        return seconds, Path(built.python)

    def start(python: Path) -> float:  # a trial's imports: the interpreter, then the framework
        seconds, done = timed(
            lambda: subprocess.run([str(python), "-c", imports], capture_output=True, check=False)
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return seconds

    def compiled(python: Path) -> None:
        mark = python.parents[1] / COMPILED_MARK
        while not mark.exists():
            time.sleep(0.1)

    _, python = build()  # the uv cache holds every wheel from here on (not timed)
    compiled(python)
    shutil.rmtree(python.parents[2])
    figures: dict[str, list[float]] = {}
    loads = []
    for _ in range(repeat):  # interleaved: both ways see the same load
        seconds, python = build(UV_COMPILE_BYTECODE="1")
        figures.setdefault("compiled at install: build", []).append(seconds)
        figures.setdefault("compiled at install: trial start", []).append(start(python))
        shutil.rmtree(python.parents[2])
        seconds, python = build()
        figures.setdefault("compiled after: build (usable)", []).append(seconds)
        began = time.perf_counter()
        figures.setdefault("compiled after: first trial start", []).append(start(python))
        compiled(python)
        figures.setdefault("compiled after: background compile done", []).append(
            time.perf_counter() - began
        )
        figures.setdefault("compiled after: next trial start", []).append(start(python))
        shutil.rmtree(python.parents[2])
        loads.append(load())
    med = {k: statistics.median(v) for k, v in figures.items()}
    rows = [
        f"| {k} | {m:.1f} s | {min(figures[k]):.1f}-{max(figures[k]):.1f} s |"
        for k, m in med.items()
    ]
    return "\n".join(
        [
            f"## uv, warm cache: compile at install or after (`bench/bench_provision.py "
            f"--uv-warm {profile}`)",
            "",
            f"{machine('uv')}. Load after each round: {'; '.join(loads)}.",
            "",
            f"Pins: {' '.join(spec.packages)}; uv's cache warm (one untimed build first). "
            f"{repeat} rounds, each building one venv each way (`LocalRuntime.provision`, a new "
            "directory): `UV_COMPILE_BYTECODE=1` (before), and trainchain's way now: installed "
            "without compiling, the venv usable at once, its packages compiled in the background "
            f'at low priority. A trial start is `python -c "{imports}"` in the venv: the first '
            "one starts right after the build (while the background compile runs; it compiles "
            "what it imports itself), the next one after the compile finished. Medians, min-max.",
            "",
            "| what | median | min-max |",
            "|---|---|---|",
            *rows,
            "",
            summary(med),
        ]
    )


def summary(med: dict[str, float]) -> str:
    """The uv-warm figures as ratios: usable venv, and build + first trial start."""
    before = med["compiled at install: build"] + med["compiled at install: trial start"]
    after = med["compiled after: build (usable)"] + med["compiled after: first trial start"]
    usable = med["compiled after: build (usable)"]
    return (
        f"Venv usable: {usable:.1f} s, {ratio(usable, med['compiled at install: build'])} the "
        f"compiling build. Build + first trial start: {after:.1f} s against {before:.1f} s "
        f"({ratio(after, before)}): the first trial compiles what it imports (+"
        f"{med['compiled after: first trial start'] - med['compiled at install: trial start']:.1f}"
        " s), once; later trials find everything compiled."
    )


def bench_image_installers(docker: Any, profile: str) -> list[str]:
    from dataclasses import replace

    from trainchain.runtimes import image_build, images

    docker.client.api.timeout = 3600  # removing a GB image on a loaded machine takes minutes
    base = docker.options.resolved_base()
    bench_base = base.split(":")[0] + ":bench-installers"
    docker.client.images.get(base).tag(bench_base)
    results: dict[str, tuple[float, str]] = {}  # installer -> (seconds, load after)
    try:
        for installer in ("pip", "uv"):
            options = replace(docker.options, base_image=bench_base, installer=installer)
            plan = images.profile_plan(profile, options)
            start = time.perf_counter()
            log = list(image_build.build(docker.client, plan, nocache=True))
            results[installer] = (time.perf_counter() - start, load())
            print(f"image, {installer}: {results[installer][0]:.1f} s", flush=True)
            used = "uv" if any(line.startswith("installing with uv") for line in log) else "pip"
            assert used == installer, f"the {installer} build used {used}"
            docker.client.images.remove(plan.tag, force=True)
    finally:
        docker.client.images.remove(bench_base)
        docker.client.images.prune(filters={"dangling": True, "label": "trainchain.stage=build"})
    (pip_s, pip_load), (uv_s, uv_load) = results["pip"], results["uv"]
    return [
        f"| image | pip, no layer cache | {pip_s:.1f} s | 1.00x | - | pip | {pip_load} |",
        f"| image | uv, no layer cache | {uv_s:.1f} s | {ratio(uv_s, pip_s)} | - | uv "
        f"| {uv_load} |",
    ]


def image_sizes(runtime: Any) -> list[str]:
    from trainchain.runtimes import image_build

    newest: dict[str, dict[str, Any]] = {}
    for row in image_build.list_images(runtime.client):  # newest first
        if row["kind"] == "profile" and row["tag"] != "<none>":
            newest.setdefault(row["profile"], row)
    return [
        f"| {p} | `{r['tag']}` | {r['size_mb'] / 1000:.2f} GB |" for p, r in sorted(newest.items())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm and code-only measurements")
    parser.add_argument(
        "--cold-repeat", type=int, default=1, help="cold venv builds (each minutes)"
    )
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--installers", nargs="?", const="keras", metavar="PROFILE", help="pip vs uv (see above)"
    )
    parser.add_argument(
        "--images-only", action="store_true", help="with --installers: the images, no venvs"
    )
    parser.add_argument(
        "--uv-warm", nargs="?", const="keras", metavar="PROFILE", help="uv compile now or later"
    )
    args = parser.parse_args()
    if args.uv_warm:
        with tempfile.TemporaryDirectory(prefix="bench-uv-warm-") as tmp:
            text = bench_uv_warm(args.uv_warm, Path(tmp), args.repeat)
        print(text)
        if not args.no_write:
            write_section("uv-warm", text)
        return
    if args.installers:
        docker, why = (None, "--no-docker given") if args.no_docker else docker_runtime()
        with tempfile.TemporaryDirectory(prefix="bench-installers-") as tmp:
            text = bench_installers(
                args.installers, Path(tmp), args.repeat, docker, not args.images_only
            )
        if docker is None:
            text += f"\n\nImages not measured: {why}."
        else:
            docker.close()
        print(text)
        if not args.no_write:
            write_section("installers-images" if args.images_only else "installers", text)
        return
    rows: list[str] = []
    notes: list[str] = []
    sizes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-provision-") as tmp:
        root = Path(tmp)
        project = root / "project"
        shutil.copytree(EXAMPLE, project)
        local_rows, facts = bench_local(project, root, args.repeat, args.cold_repeat)
        rows += local_rows
        notes.append(
            f"local venv `{facts['key']}`: {facts['packages']}, {facts['size_mb']:.0f} MB on disk"
        )
        docker, why = (None, "--no-docker given") if args.no_docker else docker_runtime()
        if docker is not None:
            shutil.rmtree(project)
            shutil.copytree(EXAMPLE, project)
            # A base tag of our own gives the image a tag nobody else uses, so the cold build
            # below never replaces an image another process is running.
            base = docker.options.resolved_base()
            bench_base = base.split(":")[0] + ":bench-provision"
            docker.client.images.get(base).tag(bench_base)
            from dataclasses import replace

            docker.options = replace(docker.options, base_image=bench_base)
            try:
                docker_rows, dfacts = bench_docker(docker, project, args.repeat)
                rows += docker_rows
                notes.append(
                    f"docker image `{dfacts['tag']}` ({dfacts['size_mb'] / 1000:.2f} GB), built "
                    f"with no layer cache on the local base `{base}`; removed afterwards"
                )
                docker.client.images.remove(dfacts["tag"], force=True)
            finally:
                docker.client.images.remove(bench_base)
            sizes = image_sizes(docker)
            docker.close()
        else:
            notes.append(f"docker runtime not measured: {why}")
    text = "\n".join(
        [
            "## Environment provisioning: cold, warm, code-only change "
            "(`bench/bench_provision.py`)",
            "",
            f"{machine('pip', 'docker')}.",
            "",
            "Project: a copy of `examples/sklearn-digits` (profile sklearn). Each figure includes "
            "job2's detection of the project, as in a run. The code-only change edits a constant "
            "and "
            "a comment in `train.py`; the script asserts the environment key is unchanged and that "
            "nothing was built.",
            "",
            "| runtime | case | time | runs | result |",
            "|---|---|---|---|---|",
            *rows,
            "",
            *[f"- {n}" for n in notes],
            f"- local: pip's download cache ({os.environ.get('PIP_CACHE_DIR') or '~/.cache/pip'}) "
            "was left as "
            "it was, so the cold venv build downloads little; on a new machine add the wheels' "
            "download time.",
            "- warm and code-only figures include job2's detection of the project and, for "
            "docker, the "
            "engine's image lookup.",
        ]
    )
    if sizes:
        text += (
            "\n\nNewest profile image of each profile present in the local engine:\n\n"
            "| profile | tag | size |\n|---|---|---|\n" + "\n".join(sizes)
        )
    print(text)
    if not args.no_write:
        write_section("provision", text)


if __name__ == "__main__":
    main()
