"""`jobs.yaml` rendered to job XML by the real jenkins-job-builder, then checked element-wise."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests.services import require

from trainchain.jenkins import ExportOptions, export_chain, make_options

REPO = "git@github.com:team/Digits_CNN.git"
JOBS = ["fetch", "detect", "train", "tune", "promote", "monitor"]
PT = "hudson.plugins.parameterizedtrigger."


def render_with_jjb(jobs_yaml: Path, out: Path) -> dict[str, ET.Element]:
    """Run `jenkins-jobs test` as a subprocess and parse every config.xml it writes."""
    require(
        importlib.util.find_spec("jenkins_jobs") is not None,
        "jenkins-job-builder is not installed (pip install 'trainchain[jenkins]')",
    )
    ini = out.parent / "jenkins_jobs.ini"
    # No Jenkins to ask for plugin versions: JJB then renders for the latest plugins.
    ini.write_text("[job_builder]\nignore_cache=True\n[jenkins]\nquery_plugins_info=False\n")
    command = [sys.executable, "-m", "jenkins_jobs", "--conf", str(ini), "test", "--config-xml"]
    done = subprocess.run(
        [*command, "-o", str(out), str(jobs_yaml)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return {p.parent.name: ET.parse(p).getroot() for p in out.glob("*/config.xml")}


def export(tmp_path: Path, options: ExportOptions) -> tuple[Path, dict[str, ET.Element]]:
    result = export_chain(options, tmp_path / "jenkins")
    return result.out_dir, render_with_jjb(result.out_dir / "jobs.yaml", tmp_path / "xml")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ET.Element]]:
    options = make_options(
        REPO,
        branch="release/2.0",
        credentials_id="github-deploy-key",
        label="linux",
        docker_label="docker && x86",
        poll="H/10 * * * *",
        monitor_timer="H/20 * * * *",
        db_url_credentials_id="trainchain-db-url",
    )
    return export(tmp_path_factory.mktemp("full"), options)


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ET.Element]]:
    return export(
        tmp_path_factory.mktemp("min"), make_options("https://github.com/t/model", poll="")
    )


def job(xml: dict[str, ET.Element], number: int, prefix: str = "digits-cnn") -> ET.Element:
    return xml[f"{prefix}-job{number}-{JOBS[number - 1]}"]


def text(root: ET.Element, path: str) -> str:
    found = root.find(path)
    assert found is not None, f"no {path}"
    return found.text or ""


def test_six_jobs_and_the_view(full: tuple[Path, dict[str, ET.Element]]) -> None:
    _, xml = full
    expected = {f"digits-cnn-job{i}-{stage}" for i, stage in enumerate(JOBS, 1)}
    assert set(xml) == expected | {"digits-cnn-chain"}
    assert all(xml[name].tag == "project" for name in expected)  # freestyle


def test_job1_scm_url_branch_and_credentials(full: tuple[Path, dict[str, ET.Element]]) -> None:
    scm = job(full[1], 1).find("scm")
    assert scm is not None and scm.get("class") == "hudson.plugins.git.GitSCM"
    remote = "userRemoteConfigs/hudson.plugins.git.UserRemoteConfig/"
    assert text(scm, remote + "url") == REPO
    assert text(scm, remote + "credentialsId") == "github-deploy-key"
    assert text(scm, "branches/hudson.plugins.git.BranchSpec/name") == "*/release/2.0"
    for number in range(2, 7):  # only job1 clones; the others read the run from the database
        other = job(full[1], number).find("scm")
        assert other is not None and other.get("class") == "hudson.scm.NullSCM"


def test_job1_github_push_trigger_and_poll_fallback(
    full: tuple[Path, dict[str, ET.Element]],
) -> None:
    triggers = job(full[1], 1).find("triggers")
    assert triggers is not None
    assert triggers.find("com.cloudbees.jenkins.GitHubPushTrigger") is not None
    assert text(triggers, "hudson.triggers.SCMTrigger/spec") == "H/10 * * * *"
    assert triggers.find("hudson.triggers.TimerTrigger") is None


def test_job1_runs_fetch_and_writes_the_run_id(full: tuple[Path, dict[str, ET.Element]]) -> None:
    script = text(job(full[1], 1), "builders/hudson.tasks.Shell/command")
    assert (
        'RUN_ID="$(trainchain stage fetch --source "$GIT_URL" --ref "$GIT_COMMIT" '
        '--branch release/2.0)"'
    ) in script
    assert 'echo "RUN_ID=$RUN_ID" > trainchain-run.properties' in script
    assert script.index("rm -f trainchain-run.properties") < script.index("trainchain stage fetch")


def test_job1_passes_run_id_from_the_properties_file(
    full: tuple[Path, dict[str, ET.Element]],
) -> None:
    config = job(full[1], 1).find(f"publishers/{PT}BuildTrigger/configs/{PT}BuildTriggerConfig")
    assert config is not None
    assert text(config, "projects") == "digits-cnn-job2-detect"
    assert text(config, "condition") == "SUCCESS"
    assert text(config, f"configs/{PT}FileBuildParameters/propertiesFile") == (
        "trainchain-run.properties"
    )
    assert text(config, f"configs/{PT}FileBuildParameters/failTriggerOnMissing") == "true"


@pytest.mark.parametrize(
    ("number", "condition"),
    [(2, "SUCCESS"), (3, "SUCCESS"), (4, "UNSTABLE_OR_BETTER"), (5, "UNSTABLE_OR_BETTER")],
)
def test_each_job_triggers_the_next_with_run_id(
    full: tuple[Path, dict[str, ET.Element]], number: int, condition: str
) -> None:
    configs = job(full[1], number).findall(
        f"publishers/{PT}BuildTrigger/configs/{PT}BuildTriggerConfig"
    )
    assert len(configs) == 1
    config = configs[0]
    assert text(config, "projects") == f"digits-cnn-job{number + 1}-{JOBS[number]}"
    assert text(config, "condition") == condition
    assert text(config, f"configs/{PT}PredefinedBuildParameters/properties") == "RUN_ID=$RUN_ID"


def test_job6_ends_the_chain(full: tuple[Path, dict[str, ET.Element]]) -> None:
    assert job(full[1], 6).find(f"publishers/{PT}BuildTrigger") is None


@pytest.mark.parametrize("number", [2, 3, 4, 5, 6])
def test_jobs_2_to_6_declare_run_id_and_run_their_stage(
    full: tuple[Path, dict[str, ET.Element]], number: int
) -> None:
    root = job(full[1], number)
    params = root.findall(
        "properties/hudson.model.ParametersDefinitionProperty/parameterDefinitions/"
        "hudson.model.StringParameterDefinition"
    )
    assert [text(p, "name") for p in params] == ["RUN_ID"]
    assert text(params[0], "trim") == "true"
    shells = root.findall("builders/hudson.tasks.Shell")
    assert len(shells) == 1
    script = text(shells[0], "command")
    assert f'trainchain stage {JOBS[number - 1]} --run "$RUN_ID"' in script
    # the stage name appears in no other `trainchain stage` call of this job
    assert script.count("trainchain stage ") == 1


def test_job1_declares_no_run_id(full: tuple[Path, dict[str, ET.Element]]) -> None:
    assert job(full[1], 1).find("properties/hudson.model.ParametersDefinitionProperty") is None


def test_exit_3_of_tune_promote_monitor_is_unstable(
    full: tuple[Path, dict[str, ET.Element]],
) -> None:
    for number in (4, 5, 6):
        assert text(job(full[1], number), "builders/hudson.tasks.Shell/unstableReturn") == "3"
    for number in (1, 2, 3):
        assert job(full[1], number).find("builders/hudson.tasks.Shell/unstableReturn") is None


def test_job6_timer_and_the_timed_pass(full: tuple[Path, dict[str, ET.Element]]) -> None:
    root = job(full[1], 6)
    assert text(root, "triggers/hudson.triggers.TimerTrigger/spec") == "H/20 * * * *"
    script = text(root, "builders/hudson.tasks.Shell/command")
    assert 'if [ -n "$RUN_ID" ]; then' in script
    assert "trainchain revive --once" in script


def test_agents_labels(full: tuple[Path, dict[str, ET.Element]]) -> None:
    labels = {n: text(job(full[1], n), "assignedNode") for n in range(1, 7)}
    assert labels == {
        1: "linux", 2: "docker && x86", 3: "docker && x86", 4: "docker && x86",
        5: "linux", 6: "docker && x86",
    }  # fmt: skip


def test_database_url_bound_from_credentials_in_every_job(
    full: tuple[Path, dict[str, ET.Element]],
) -> None:
    binding = (
        "buildWrappers/org.jenkinsci.plugins.credentialsbinding.impl.SecretBuildWrapper/"
        "bindings/org.jenkinsci.plugins.credentialsbinding.impl.StringBinding/"
    )
    for number in range(1, 7):
        root = job(full[1], number)
        assert text(root, binding + "variable") == "TRAINCHAIN_DB_URL"
        assert text(root, binding + "credentialsId") == "trainchain-db-url"
        assert (
            root.find("buildWrappers/hudson.plugins.timestamper.TimestamperBuildWrapper")
            is not None
        )


def test_ssh_key_lent_to_fetch_only(full: tuple[Path, dict[str, ET.Element]]) -> None:
    agent = "buildWrappers/com.cloudbees.jenkins.plugins.sshagent.SSHAgentBuildWrapper"
    assert text(job(full[1], 1), agent + "/credentialIds/string") == "github-deploy-key"
    assert all(job(full[1], n).find(agent) is None for n in range(2, 7))


def test_build_pipeline_view_starts_at_job1(full: tuple[Path, dict[str, ET.Element]]) -> None:
    view = full[1]["digits-cnn-chain"]
    assert view.tag == "au.com.centrumsystems.hudson.plugin.buildpipeline.BuildPipelineView"
    assert text(view, "gridBuilder/firstJob") == "digits-cnn-job1-fetch"
    assert text(view, "noOfDisplayedBuilds") == "10"
    assert text(view, "buildViewTitle") == "trainchain: digits-cnn"
    assert text(view, "showPipelineParameters") == "true"


def test_credentials_appear_only_as_ids(full: tuple[Path, dict[str, ET.Element]]) -> None:
    id_tags = {"credentialsId", "string"}  # <string> is inside the ssh-agent's credentialIds
    for name, root in full[1].items():
        for element in root.iter():
            assert "password" not in element.tag.lower() and "token" not in element.tag.lower()
            value = element.text or ""
            for credential in ("github-deploy-key", "trainchain-db-url"):
                if value == credential:
                    assert element.tag in id_tags, f"{name}: {credential} in <{element.tag}>"
            assert "postgresql://" not in value and "sqlite:" not in value, name


def test_minimal_export_has_no_poll_labels_or_bindings(
    minimal: tuple[Path, dict[str, ET.Element]],
) -> None:
    out, xml = minimal
    assert set(xml) == {f"model-job{i}-{s}" for i, s in enumerate(JOBS, 1)} | {"model-chain"}
    job1 = job(xml, 1, "model")
    assert job1.find("triggers/com.cloudbees.jenkins.GitHubPushTrigger") is not None
    assert job1.find("triggers/hudson.triggers.SCMTrigger") is None
    assert (
        job1.find("scm/userRemoteConfigs/hudson.plugins.git.UserRemoteConfig/credentialsId") is None
    )
    assert text(job1, "scm/branches/hudson.plugins.git.BranchSpec/name") == "*/main"
    for number in range(1, 7):
        root = job(xml, number, "model")
        assert root.find("assignedNode") is None
        assert text(root, "canRoam") == "true"
        assert (
            root.find(
                "buildWrappers/org.jenkinsci.plugins.credentialsbinding.impl.SecretBuildWrapper"
            )
            is None
        )
    assert "Polling is off" in (out / "README.md").read_text()


def test_the_check_can_fail(tmp_path: Path) -> None:
    """A YAML that JJB rejects makes the render fail: the checks above are not vacuous."""
    bad = tmp_path / "jobs.yaml"
    bad.write_text("- job:\n    name: x\n    builders:\n      - shell: 'echo ${RUN_ID}'\n")
    with pytest.raises(AssertionError, match="RUN_ID"):
        render_with_jjb(bad, tmp_path / "xml")
