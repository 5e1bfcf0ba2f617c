"""`trainchain envs prune` / `images prune`: real virtualenvs and real (tiny) images go, what
the newest runs and every champion use stays."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.contract.helpers import build_options, docker_client
from tests.records import add_versions

from trainchain.cli import cli
from trainchain.errors import ConfigError
from trainchain.retention import keep_runs_setting, prune_envs, prune_images
from trainchain.runtimes import image_build, images
from trainchain.runtimes.base import EnvSpec
from trainchain.runtimes.local import LocalRuntime
from trainchain.store import Run, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'tc.db'}")
    yield store
    store.engine.dispose()


def _run(store: Store, age_days: int, status: str = "succeeded", **environment: Any) -> str:
    created = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=age_days)
    with store.session() as s:
        run = Run(name="m", source="/src", status=status, environment=environment)
        run.created_at = created
        s.add(run)
        s.flush()
        return run.id


def _champion(store: Store, run_id: str) -> None:
    add_versions(store, "m", run_id, {1: 0.9}, champion=1)


def test_envs_prune_keeps_newest_champion_and_running(store: Store, tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    runtime = LocalRuntime(home=envs)
    keys = {}
    names = ("old", "champion", "newest", "running", "recorded_nowhere")
    for minor, name in enumerate(names, start=12):  # five small real venvs: six 1.12 .. 1.16
        spec = EnvSpec(profile="generic", packages=(f"six==1.{minor}.0",))
        keys[name] = runtime.provision(spec, lambda line: None).key
    champion = _run(store, 30, key=keys["champion"], runtime="local")
    _champion(store, champion)
    _run(store, 20, key=keys["old"], runtime="local")
    _run(store, 10, status="running", key=keys["running"], runtime="local")
    _run(store, 1, key=keys["newest"], runtime="local")

    dry = prune_envs(store, envs, keep_runs=1, dry_run=True, min_age=0)
    assert {i.name for i in dry.going} == {keys["old"], keys["recorded_nowhere"]}
    assert (envs / keys["old"]).is_dir()  # a dry run removes nothing
    young = prune_envs(store, envs, keep_runs=1, dry_run=True)  # default min age: one hour
    assert not young.going

    result = CliRunner(env={"TRAINCHAIN_ENVS_DIR": str(envs), "TRAINCHAIN_DB_URL": store.url})
    out = result.invoke(cli, ["envs", "prune", "--keep-runs", "1", "--min-age", "0", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert sorted(report["removed"]) == sorted([keys["old"], keys["recorded_nowhere"]])
    assert set(report["kept"]) == {keys["champion"], keys["newest"], keys["running"]}
    left = {p.name for p in envs.iterdir() if not p.name.startswith(".")}
    assert left == {keys["champion"], keys["newest"], keys["running"]}


def test_keep_runs_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINCHAIN_KEEP_RUNS", raising=False)
    assert keep_runs_setting() is None
    monkeypatch.setenv("TRAINCHAIN_KEEP_RUNS", "5")
    assert keep_runs_setting() == 5
    for bad in ("-2", "five"):
        monkeypatch.setenv("TRAINCHAIN_KEEP_RUNS", bad)
        with pytest.raises(ConfigError, match=f"TRAINCHAIN_KEEP_RUNS='{bad}': give a whole number"):
            keep_runs_setting()


def _tiny_image(client: Any, base: str, tag: str, kind: str = "profile", parent: str = "") -> str:
    labels = {"trainchain.kind": kind, "trainchain.profile": "generic"}
    if parent:
        labels["trainchain.parent"] = parent
    plan = images.ImagePlan(
        kind=kind,
        profile="generic",
        tag=tag,
        files={"Dockerfile": f"FROM {parent or base}\nRUN echo {tag} > /tag\n".encode()},
        buildargs={"BASE_IMAGE": base},
        labels=labels,
    )
    for _line in image_build.build(client, plan):
        pass
    return tag


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_images_prune_keeps_used_images_and_their_parents(store: Store) -> None:
    base = str(build_options().base_image)
    prefix = "trainchain/test-prune"
    with docker_client() as client, contextlib.ExitStack() as cleanup:
        made = {}
        for name in ("used-parent", "unused", "champion"):
            made[name] = _tiny_image(client, base, f"{prefix}-{name}:1")
        made["used"] = _tiny_image(
            client, base, f"{prefix}-used:1", kind="project", parent=made["used-parent"]
        )
        for tag in made.values():
            cleanup.callback(_remove_quietly, client, tag)
        _champion(store, _run(store, 30, image=made["champion"], runtime="docker"))
        _run(store, 1, image=made["used"], runtime="docker")
        _run(store, 5, image=made["unused"], runtime="docker")  # older than the newest one

        dry = prune_images(store, client, 1, dry_run=True, min_age=0, match=f"{prefix}-*")
        assert [i.name for i in dry.going] == [made["unused"]]
        assert dry.freed > 0 and image_build.image_exists(client, made["unused"])
        kept = {i.name: i.keep for i in dry.items if i.keep}
        assert kept[made["used-parent"]] == "parent of a kept image"

        done = prune_images(store, client, 1, min_age=0, match=f"{prefix}-*")
        assert not done.failed
        assert not image_build.image_exists(client, made["unused"])
        for name in ("used", "used-parent", "champion"):
            assert image_build.image_exists(client, made[name])


def _remove_quietly(client: Any, tag: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(tag, force=True)


def test_server_bound_prunes_after_a_run_when_set(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from trainchain.retention import auto_prune

    envs = tmp_path / "envs"
    runtime = LocalRuntime(home=envs)
    old = runtime.provision(EnvSpec(profile="generic", packages=("six==1.15.0",)), print).key
    new = runtime.provision(EnvSpec(profile="generic", packages=("six==1.16.0",)), print).key
    _run(store, 2, key=old, runtime="local")
    _run(store, 1, key=new, runtime="local")
    two_hours_ago = dt.datetime.now().timestamp() - 7200
    for key in (old, new):
        os.utime(envs / key / ".complete", (two_hours_ago, two_hours_ago))
    assert auto_prune(store, envs, with_images=False) == []  # unset: nothing is removed
    assert (envs / old).is_dir()
    monkeypatch.setenv("TRAINCHAIN_KEEP_RUNS", "1")
    [report] = auto_prune(store, envs, with_images=False)
    assert [i.name for i in report.going] == [old]
    assert not (envs / old).exists() and (envs / new).is_dir()
