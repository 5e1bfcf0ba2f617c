"""What `trainchain jenkins export` is asked for, validated before anything is written.

Every value checked here ends up inside YAML, a shell script or a Groovy string, so the checks
are allow-lists: a value that passes cannot break out of its quoting in any of the three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from trainchain.errors import UsageError

_URL_SCHEMES = ("https", "http", "ssh", "git", "file")
# scp-like syntax git accepts: git@github.com:team/model.git
_SCP_URL = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/+-]+$")
_SAFE_URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#@!&+,;=%-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_CREDENTIALS_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
# Jenkins label expressions: `docker`, `linux && docker`, `(a || b) && !gpu`
_LABEL = re.compile(r"^[A-Za-z0-9_.\-&|!() ]+$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CRON_FIELD = re.compile(r"^[A-Za-z0-9*/,()\-]+$")
_CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


@dataclass(frozen=True)
class ExportOptions:
    """The validated inputs of one export. Build it with :func:`make_options`."""

    repo: str
    branch: str
    name: str  # job name prefix: <name>-job1-fetch ...
    credentials_id: str | None
    label: str | None  # where fetch and promote run
    docker_label: str | None  # where detect/provision, train, tune and monitor run
    poll: str  # pollSCM fallback spec; "" disables polling
    monitor_timer: str  # TimerTrigger spec of the monitor job
    db_url_credentials_id: str | None  # secret text bound to TRAINCHAIN_DB_URL

    @property
    def uses_ssh(self) -> bool:
        """True when git talks SSH to the repository (the ssh-agent can lend it a key)."""
        return self.repo.startswith("ssh://") or _SCP_URL.match(self.repo) is not None


def make_options(
    repo: str,
    branch: str = "main",
    name: str | None = None,
    credentials_id: str | None = None,
    label: str | None = None,
    docker_label: str | None = None,
    poll: str = "H/5 * * * *",
    monitor_timer: str = "H/15 * * * *",
    db_url_credentials_id: str | None = None,
) -> ExportOptions:
    """Validate every input and return the options; raise ``UsageError`` naming the fix."""
    repo = check_repo_url(repo)
    return ExportOptions(
        repo=repo,
        branch=check_branch(branch),
        name=check_name(name) if name else name_from_repo(repo),
        credentials_id=_check_id("--credentials-id", credentials_id),
        label=_check_label("--label", label),
        docker_label=_check_label("--docker-label", docker_label),
        poll=check_cron("--poll", poll, allow_empty=True),
        monitor_timer=check_cron("--monitor-timer", monitor_timer, allow_empty=False),
        db_url_credentials_id=_check_id("--db-url-credentials-id", db_url_credentials_id),
    )


def check_repo_url(url: str) -> str:
    """A git URL Jenkins' git plugin can clone, without an inlined password or token."""
    url = url.strip()
    hint = (
        "give a git URL such as https://github.com/team/model.git or git@github.com:team/model.git"
    )
    if not url:
        raise UsageError(f"--repo is empty; {hint}")
    if _SCP_URL.match(url):
        return url
    if not _SAFE_URL_CHARS.match(url):
        raise UsageError(f"--repo {url!r} contains spaces, quotes or other characters; {hint}")
    parts = urlsplit(url)
    if parts.scheme not in _URL_SCHEMES:
        raise UsageError(f"--repo {url!r} is not a git URL (scheme {parts.scheme!r}); {hint}")
    if parts.scheme != "file" and not parts.hostname:
        raise UsageError(f"--repo {url!r} has no host; {hint}")
    if parts.password is not None or (parts.scheme in ("http", "https") and parts.username):
        shown = url.replace(parts.netloc, parts.hostname or "HOST")
        raise UsageError(
            f"--repo {shown!r} carries credentials in the URL; store them in Jenkins as a "
            "credential and pass its id with --credentials-id instead"
        )
    if parts.path.strip("/") == "":
        raise UsageError(f"--repo {url!r} names no repository path; {hint}")
    return url


def check_branch(branch: str) -> str:
    """A plain branch name (git's ref rules, plus no shell or Groovy metacharacters)."""
    fix = "give a branch name such as main or release/1.2"
    bad = (
        not _BRANCH.match(branch)
        or ".." in branch
        or "//" in branch
        or branch.endswith(("/", ".", ".lock"))
        or branch.startswith("refs/")
    )
    if bad:
        raise UsageError(f"--branch {branch!r} is not a valid branch name; {fix}")
    return branch


def check_name(name: str) -> str:
    if not _NAME.match(name) or len(name) > 60:
        raise UsageError(
            f"--name {name!r} is not usable as a Jenkins job prefix; use lowercase letters, "
            "digits and dashes (at most 60), e.g. digits-cnn"
        )
    return name


def name_from_repo(repo: str) -> str:
    """`https://github.com/team/Digits_CNN.git` -> `digits-cnn`."""
    last = repo.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if last.endswith(".git"):
        last = last[: -len(".git")]
    name = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:60].strip("-")
    return name or "trainchain"


def check_cron(option: str, spec: str, *, allow_empty: bool) -> str:
    """A one-line Jenkins cron spec: five fields (H allowed) or an @alias."""
    spec = " ".join(spec.split())
    if spec == "" and allow_empty:
        return spec
    fields = spec.split(" ")
    ok = spec in _CRON_ALIASES or (
        len(fields) == 5 and all(_CRON_FIELD.match(field) for field in fields)
    )
    if not ok:
        disable = ' or "" to disable it' if allow_empty else ""
        raise UsageError(
            f"{option} {spec!r} is not a Jenkins cron spec; give five fields such as "
            f"'H/5 * * * *' or an alias such as @hourly{disable}"
        )
    return spec


def _check_id(option: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not _CREDENTIALS_ID.match(value) or len(value) > 200:
        raise UsageError(
            f"{option} {value!r} is not a Jenkins credentials id; pass the id shown under "
            "Manage Jenkins > Credentials (letters, digits, '.', '_', '-', ':'), never the secret"
        )
    return value


def _check_label(option: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or not _LABEL.match(value):
        raise UsageError(
            f"{option} {value!r} is not a Jenkins label expression; use labels joined with "
            "&&, || and !, e.g. docker or 'linux && docker'"
        )
    return value
