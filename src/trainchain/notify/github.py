"""GitHub commit statuses: ``POST {api_url}/repos/{owner}/{repo}/statuses/{sha}``.

``started`` sets ``pending``; ``succeeded`` -> ``success``, ``target_not_reached`` ->
``failure``, ``failed`` -> ``error`` (the pipeline broke, not the model). A test notification
uses the context ``<context>/test`` so it never overwrites a real status.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from trainchain.notify import message
from trainchain.notify.base import ALL_EVENTS, Notifier, PermanentNotifyError
from trainchain.notify.config import GithubStatusChannel, NotifyEvent
from trainchain.notify.http import encode, post_json

if TYPE_CHECKING:
    from collections.abc import Iterable

    from trainchain.report import RunReport

STATES = {
    "started": "pending",
    "succeeded": "success",
    "target_not_reached": "failure",
    "failed": "error",
}
# https://host/owner/name(.git), ssh://git@host/owner/name, git@host:owner/name.git
_REMOTE = re.compile(
    r"^(?:[a-z+]+://[^/]+/|[^@/\s]+@[^:/\s]+:)(?:.*/)?([^/]+)/([^/]+?)(?:\.git)?/?$"
)
_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


def repo_from_source(source: str) -> str | None:
    """``owner/name`` from a clone URL, or None for a local path."""
    match = _REMOTE.match(source.strip())
    return f"{match.group(1)}/{match.group(2)}" if match else None


class GithubStatusNotifier(Notifier):
    def __init__(
        self,
        settings: GithubStatusChannel,
        events: Iterable[NotifyEvent | str] = ALL_EVENTS,
        *,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(events)
        self.settings = settings
        self.secret_envs = (settings.token_env,)
        self.timeout = timeout
        self.name = f"github_status:{settings.repo}" if settings.repo else "github_status"

    def _repo(self, report: RunReport) -> str:
        repo = self.settings.repo or repo_from_source(report.source)
        if not repo:
            raise PermanentNotifyError(
                f"cannot tell the GitHub repository of source {report.source!r}; "
                "set github_status.repo: owner/name in trainchain.yaml"
            )
        return repo

    def _sha(self, report: RunReport) -> str:
        if not report.commit or not _SHA.match(report.commit):
            raise PermanentNotifyError(
                f"run {report.run_id} has no commit SHA (got {report.commit!r}); "
                "commit statuses need a git source pushed to GitHub"
            )
        return report.commit

    def send(self, event: str, report: RunReport) -> str:
        repo, sha = self._repo(report), self._sha(report)
        token = self.read_secret(self.settings.token_env, "GitHub token (scope repo:status)")
        context = self.settings.context + ("/test" if message.is_test(report) else "")
        payload = {
            "state": STATES[event],
            "description": message.short_description(event, report, limit=140),
            "context": context,
        }
        if self.settings.target_url:
            payload["target_url"] = self.settings.target_url.replace("{run_id}", report.run_id)
        api = self.settings.api_url.rstrip("/")
        answer = post_json(
            f"{api}/repos/{repo}/statuses/{sha}",
            encode(payload),
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            what=f"GitHub statuses API for {repo}@{sha[:7]} ({api})",
            fix=f"check that ${self.settings.token_env} may write statuses on {repo} "
            "(401: bad token, 404: no access or wrong repo/sha, 422: invalid field)",
            timeout=self.timeout,
        )
        return f"HTTP {answer.status}, {payload['state']} on {repo}@{sha[:7]} ({context})"
