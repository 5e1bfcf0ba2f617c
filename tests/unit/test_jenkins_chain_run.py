"""The exported freestyle jobs run for real: each job's shell builder, as JJB renders it, runs
under `/bin/sh -xe` (what Jenkins' Shell builder does) with the real `trainchain stage` commands.

No Jenkins controller runs here: this test plays its part in a few lines — the git plugin's
`GIT_URL`/`GIT_COMMIT`, one workspace per job, `unstableReturn` -> UNSTABLE, and the
parameterized trigger's condition and parameters, read from the same job XML.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests.cli import trainchain, write_project
from tests.services import require

from trainchain.jenkins import export_chain, make_options

PT = "hudson.plugins.parameterizedtrigger."
ALLOWED = {"SUCCESS": {"SUCCESS"}, "UNSTABLE_OR_BETTER": {"SUCCESS", "UNSTABLE"}}

# A fast sklearn script whose accuracy stays below the target: tune, promote and monitor exit 3.
TRAIN = """\
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

C = 0.0001
MAX_ITER = 50

x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
model = LogisticRegression(C=C, max_iter=MAX_ITER).fit(x_train, y_train)
print(f"test_accuracy: {model.score(x_test, y_test):.4f}")
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def render(jobs_yaml: Path, out: Path) -> dict[str, ET.Element]:
    require(
        importlib.util.find_spec("jenkins_jobs") is not None,
        "jenkins-job-builder is not installed (pip install 'trainchain[jenkins]')",
    )
    ini = out.parent / "jenkins_jobs.ini"
    ini.write_text("[job_builder]\nignore_cache=True\n[jenkins]\nquery_plugins_info=False\n")
    done = subprocess.run(
        [sys.executable, "-m", "jenkins_jobs", "--conf", str(ini), "test", "--config-xml"]
        + ["-o", str(out), str(jobs_yaml)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return {p.parent.name: ET.parse(p).getroot() for p in out.glob("*/config.xml")}


def build(job: ET.Element, workspace: Path, env: dict[str, str]) -> tuple[str, str]:
    """One build of a freestyle job: its shell builder under `sh -xe`; returns (result, log)."""
    shell = job.find("builders/hudson.tasks.Shell")
    assert shell is not None
    workspace.mkdir(parents=True, exist_ok=True)
    script = workspace.parent / f"{workspace.name}.sh"
    script.write_text(shell.findtext("command") or "")
    done = subprocess.run(
        ["/bin/sh", "-xe", str(script)], cwd=workspace, env=env, capture_output=True, text=True
    )
    unstable = shell.findtext("unstableReturn")
    if done.returncode == 0:
        result = "SUCCESS"
    elif unstable is not None and done.returncode == int(unstable):
        result = "UNSTABLE"
    else:
        result = "FAILURE"
    return result, done.stdout + done.stderr


def downstream(
    job: ET.Element, result: str, workspace: Path, env: dict[str, str]
) -> tuple[str, dict[str, str]] | None:
    """The parameterized trigger: next job and its parameters, or None when it does not fire."""
    config = job.find(f"publishers/{PT}BuildTrigger/configs/{PT}BuildTriggerConfig")
    if config is None or result not in ALLOWED[config.findtext("condition") or ""]:
        return None
    params: dict[str, str] = {}
    from_file = config.findtext(f"configs/{PT}FileBuildParameters/propertiesFile")
    predefined = config.findtext(f"configs/{PT}PredefinedBuildParameters/properties")
    lines = (workspace / from_file).read_text() if from_file else predefined or ""
    for line in lines.splitlines():
        key, _, value = line.partition("=")
        # Jenkins expands $VARS of the upstream build in predefined parameters.
        params[key] = value.replace("$RUN_ID", env.get("RUN_ID", ""))
    return config.findtext("projects") or "", params


@pytest.mark.slow  # trains: a sklearn baseline and two tuning trials
def test_exported_jobs_run_the_chain(tmp_path: Path) -> None:
    require(shutil.which("trainchain") is not None, "the trainchain command is not on PATH")
    repo = write_project(
        tmp_path / "repo",
        {"train.py": TRAIN, "requirements.txt": "scikit-learn\n",
         "trainchain.yaml": "max_trials: 2\ntarget: 0.999\nseed: 7\n"},
    )  # fmt: skip
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "model")
    url = f"file://{repo}"
    exported = export_chain(make_options(url, name="digits"), tmp_path / "jenkins")
    jobs = render(exported.out_dir / "jobs.yaml", tmp_path / "xml")

    base = {**os.environ, "TRAINCHAIN_DB_URL": f"sqlite:///{tmp_path / 'jenkins.db'}"}
    base.pop("RUN_ID", None)
    name: str | None = "digits-job1-fetch"
    commit = git(repo, "rev-parse", "HEAD")
    params = {"GIT_URL": url, "GIT_COMMIT": commit}  # what the git plugin sets for job1
    results: dict[str, str] = {}
    while name:
        env = {**base, **params}
        result, log = build(jobs[name], tmp_path / "workspaces" / name, env)
        results[name] = result
        assert result != "FAILURE", f"{name} failed:\n{log}"
        following = downstream(jobs[name], result, tmp_path / "workspaces" / name, env)
        name, params = following if following else (None, {})

    assert results == {
        "digits-job1-fetch": "SUCCESS", "digits-job2-detect": "SUCCESS",
        "digits-job3-train": "SUCCESS", "digits-job4-tune": "UNSTABLE",
        "digits-job5-promote": "UNSTABLE", "digits-job6-monitor": "UNSTABLE",
    }  # fmt: skip
    run_id = (
        tmp_path / "workspaces" / "digits-job1-fetch" / "trainchain-run.properties"
    ).read_text()
    run_id = run_id.strip().removeprefix("RUN_ID=")
    shown = trainchain(
        "runs", "show", run_id, "--json", env={"TRAINCHAIN_DB_URL": base["TRAINCHAIN_DB_URL"]}
    )
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["status"] == "target_not_reached"
    assert report["commit"] == commit and report["branch"] == "main"
    assert report["model"] is not None  # promote registered the best model despite exit 3
    assert all(state in ("succeeded", "skipped") for state in report["stages"].values())


def test_a_job_without_run_id_fails_clearly(tmp_path: Path) -> None:
    exported = export_chain(make_options("https://github.com/t/m.git"), tmp_path / "jenkins")
    jobs = render(exported.out_dir / "jobs.yaml", tmp_path / "xml")
    env = {k: v for k, v in os.environ.items() if k != "RUN_ID"}
    result, log = build(jobs["m-job3-train"], tmp_path / "ws", {**env, "RUN_ID": ""})
    assert result == "FAILURE"
    assert "RUN_ID is empty: the chain starts at job1" in log
