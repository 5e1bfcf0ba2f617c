"""`trainchain jenkins export` through click's CliRunner, from the top-level lazy group."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from trainchain.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["jenkins", "export", *args])
    return result.exit_code, result.output


def test_export_writes_the_three_files(tmp_path: Path) -> None:
    out = tmp_path / "ci" / "jenkins"
    code, output = run(
        "--repo", "https://github.com/team/digits-cnn.git", "--branch", "dev", "--out", str(out),
        "--credentials-id", "gh-token", "--docker-label", "docker",
    )  # fmt: skip
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == ["Jenkinsfile", "README.md", "jobs.yaml"]
    assert f"wrote {out / 'jobs.yaml'}" in output
    assert "view: digits-cnn-chain" in output
    document = yaml.safe_load((out / "jobs.yaml").read_text())
    names = [entry["job"]["name"] for entry in document if "job" in entry]
    assert names == [
        "digits-cnn-job1-fetch", "digits-cnn-job2-detect", "digits-cnn-job3-train",
        "digits-cnn-job4-tune", "digits-cnn-job5-promote", "digits-cnn-job6-monitor",
    ]  # fmt: skip
    job1 = document[0]["job"]
    assert job1["scm"][0]["git"] == {
        "url": "https://github.com/team/digits-cnn.git",
        "branches": ["*/dev"],
        "credentials-id": "gh-token",
    }
    # HTTPS: no ssh-agent wrapper; the README tells how fetch authenticates instead.
    assert all("ssh-agent-credentials" not in str(w) for w in job1["wrappers"])
    readme = (out / "README.md").read_text()
    assert "https://JENKINS/github-webhook/" in readme
    assert "up\nfor adoption" in readme and "does **not** show Pipeline jobs" in readme
    assert "TRAINCHAIN_DB_URL" in readme and "labelled `docker`" in readme
    assert "git credential helper" in readme
    assert "stage('monitor')" in (out / "Jenkinsfile").read_text()


def test_default_out_dir_is_jenkins(tmp_path: Path) -> None:
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path) as cwd:
        result = runner.invoke(cli, ["jenkins", "export", "--repo", "git@github.com:t/m.git"])
        assert result.exit_code == 0, result.output
        assert (Path(cwd) / "jenkins" / "jobs.yaml").is_file()


def test_export_overwrites_a_previous_export(tmp_path: Path) -> None:
    assert run("--repo", "https://github.com/t/m.git", "--out", str(tmp_path))[0] == 0
    assert (
        run("--repo", "https://github.com/t/m.git", "--branch", "b2", "--out", str(tmp_path))[0]
        == 0
    )
    assert "*/b2" in (tmp_path / "jobs.yaml").read_text()


def test_missing_repo_is_a_usage_error() -> None:
    code, output = run()
    assert code == 2
    assert "Missing option '--repo'" in output


def test_bad_url_names_the_value_and_the_fix(tmp_path: Path) -> None:
    code, output = run("--repo", "not a url", "--out", str(tmp_path / "x"))
    assert code == 2
    assert "--repo 'not a url'" in output and "give a git URL such as" in output
    assert "Traceback" not in output
    assert not (tmp_path / "x").exists()  # nothing written on bad input


def test_token_in_url_is_refused_and_not_echoed(tmp_path: Path) -> None:
    code, output = run("--repo", "https://me:ghp_SECRET@github.com/t/m.git", "--out", str(tmp_path))
    assert code == 2
    assert "ghp_SECRET" not in output and "--credentials-id" in output


def test_bad_branch_and_cron(tmp_path: Path) -> None:
    code, output = run("--repo", "https://github.com/t/m.git", "--branch", "a..b")
    assert code == 2 and "--branch 'a..b' is not a valid branch name" in output
    code, output = run("--repo", "https://github.com/t/m.git", "--poll", "sometimes")
    assert code == 2 and "--poll 'sometimes' is not a Jenkins cron spec" in output


def test_out_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    code, output = run("--repo", "https://github.com/t/m.git", "--out", str(target))
    assert code == 2
    assert "file" in output and "Traceback" not in output


def test_help_lists_export() -> None:
    result = CliRunner().invoke(cli, ["jenkins", "--help"])
    assert result.exit_code == 0 and "export" in result.output


def test_unwritable_out_names_the_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "jenkins"
    code, output = run("--repo", "https://github.com/t/m.git", "--out", str(out))
    assert code == 2
    assert f"cannot write the Jenkins export into --out {out}" in output
    assert "pass a directory you can write to" in output


def test_export_checks_jobs_yaml_with_jenkins_job_builder() -> None:
    from trainchain.errors import TrainchainError
    from trainchain.jenkins.validate import check_jobs_yaml

    good = "- job:\n    name: ok\n    builders:\n      - shell: echo hi\n"
    assert check_jobs_yaml(good) == 1
    broken = "- job:\n    name: bad\n    builders:\n      - no-such-builder: 1\n"
    with pytest.raises(TrainchainError, match="jenkins-job-builder rejected"):
        check_jobs_yaml(broken)
