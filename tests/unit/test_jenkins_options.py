"""Validation of `trainchain jenkins export` inputs: allow-lists with messages naming the fix."""

from __future__ import annotations

import pytest

from trainchain.errors import UsageError
from trainchain.jenkins.options import make_options, name_from_repo


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/team/model.git",
        "https://github.com/team/model",
        "http://git.internal:8080/scm/team/model.git",
        "ssh://git@github.com/team/model.git",
        "git@github.com:team/model.git",
        "git://example.org/model.git",
        "file:///srv/git/model.git",
    ],
)
def test_accepts_git_urls(url: str) -> None:
    assert make_options(url).repo == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "--repo is empty"),
        ("   ", "--repo is empty"),
        ("github.com/team/model", "is not a git URL"),
        ("ftp://example.org/model.git", "is not a git URL (scheme 'ftp')"),
        ("https://github.com/team/my model.git", "contains spaces, quotes"),
        ("https://github.com/team/model.git';rm -rf /", "contains spaces, quotes"),
        ("https:///team/model.git", "has no host"),
        ("https://github.com/", "names no repository path"),
    ],
)
def test_rejects_bad_urls_with_the_fix(url: str, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        make_options(url)
    assert expected in info.value.message
    assert "https://github.com/team/model.git" in info.value.message  # the example to follow
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "url",
    ["https://bob:s3cr3t-token@github.com/team/model.git", "https://ghp_abc123@github.com/t/m.git"],
)
def test_rejects_inlined_credentials_without_echoing_them(url: str) -> None:
    with pytest.raises(UsageError) as info:
        make_options(url)
    message = info.value.message
    assert "--credentials-id" in message
    assert "s3cr3t" not in message and "ghp_abc123" not in message


@pytest.mark.parametrize("branch", ["main", "release/1.2", "feature-x_y", "v2.0"])
def test_accepts_branches(branch: str) -> None:
    assert make_options("https://github.com/t/m.git", branch=branch).branch == branch


@pytest.mark.parametrize(
    "branch",
    ["", "a b", "-x", "a..b", "a//b", "a/", "x.lock", "refs/heads/main", "it's", "$(id)", "a\\b"],
)
def test_rejects_bad_branches(branch: str) -> None:
    with pytest.raises(UsageError, match="is not a valid branch name; give a branch name"):
        make_options("https://github.com/t/m.git", branch=branch)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("credentials_id", "my key", "is not a Jenkins credentials id"),
        ("db_url_credentials_id", "postgresql://u:p@h/db", "is not a Jenkins credentials id"),
        ("label", "docker'", "is not a Jenkins label expression"),
        ("docker_label", "", "is not a Jenkins label expression"),
        ("poll", "every 5 minutes", "is not a Jenkins cron spec"),
        ("poll", "* * * *", "is not a Jenkins cron spec"),
        ("monitor_timer", "", "is not a Jenkins cron spec"),
        ("name", "My Jobs", "is not usable as a Jenkins job prefix"),
    ],
)
def test_rejects_bad_options(option: str, value: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        make_options("https://github.com/t/m.git", **{option: value})


def test_cron_and_labels_that_jenkins_accepts() -> None:
    options = make_options(
        "https://github.com/t/m.git",
        poll="H(0-29)/10  *  * * 1-5",
        monitor_timer="@hourly",
        label="linux && !gpu",
        docker_label="(docker || podman) && x86",
        credentials_id="3f1c2a7e-0b1d-4c55-9f1e-2b6a1d0c9e11",
    )
    assert options.poll == "H(0-29)/10 * * * 1-5"
    assert options.monitor_timer == "@hourly"
    assert options.docker_label == "(docker || podman) && x86"


def test_empty_poll_turns_polling_off() -> None:
    assert make_options("https://github.com/t/m.git", poll="").poll == ""


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/team/Digits_CNN.git", "digits-cnn"),
        ("git@github.com:team/cat.dog.git", "cat-dog"),
        ("https://github.com/team/model/", "model"),
        ("file:///srv/git/___.git", "trainchain"),
    ],
)
def test_job_prefix_from_repository_name(url: str, name: str) -> None:
    assert name_from_repo(url) == name
    assert make_options(url).name == name


def test_ssh_detection() -> None:
    assert make_options("git@github.com:t/m.git").uses_ssh
    assert make_options("ssh://git@github.com/t/m.git").uses_ssh
    assert not make_options("https://github.com/t/m.git").uses_ssh
