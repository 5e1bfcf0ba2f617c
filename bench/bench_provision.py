"""Environment provisioning: cold, warm, and after a code-only change (which must build nothing).

For the local runtime (a virtualenv of the sklearn profile in a temporary TRAINCHAIN_ENVS_DIR)
and, when a Docker engine answers, the docker runtime (the sklearn image built with no layer
cache, then reused); plus the size of the newest image of every profile present locally.
The project is a copy of ``examples/sklearn-digits``; the code-only change edits a constant and
a comment, and the script asserts that the environment key (venv name / image tag) is unchanged
and that nothing was built.

Run: ``python bench/bench_provision.py [--repeat 5] [--no-docker] [--cold-repeat 1] [--no-write]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, docker_runtime, machine, ratio, write_section  # noqa: E402

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
    from trainchain import images

    spec = detect_spec(project)
    plan = images.env_plan(spec.profile, spec.packages, spec.project_requirements, runtime.options)
    client = runtime.client
    start = time.perf_counter()
    for step in [p for p in (plan.parent, plan) if p is not None]:
        for _line in images.build(client, step, nocache=True):  # no layer cache: a real cold build
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


def image_sizes(runtime: Any) -> list[str]:
    from trainchain import images

    newest: dict[str, dict[str, Any]] = {}
    for row in images.list_images(runtime.client):  # newest first
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
    args = parser.parse_args()
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
