"""Repository URLs: which ones git may be given, how they are shown, how git is called.

Anyone who can reach the API or push a webhook can name a URL, so git only ever sees a URL
after ``--`` (never an option such as ``--upload-pack=...``), of an allowed scheme, with
``GIT_ALLOW_PROTOCOL`` set so that a redirect or submodule cannot switch to another transport.
Credentials in a URL (``https://user:token@host/...``) are kept for git and redacted
everywhere a person or a log can read them.
"""

from __future__ import annotations

import os
import re

from trainchain.errors import UsageError

REMOTE_SCHEMES = ("https", "ssh")
# what git may speak, also for redirects and submodules (`file` for local paths only)
GIT_PROTOCOLS = "https:ssh:file"
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")  # git@github.com:a/b.git
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def is_remote(source: str) -> bool:
    """A URL (``scheme://``, ``user@host:path``), as opposed to a path on this machine."""
    return "://" in source or bool(_SCP_LIKE.match(source))


def check_source(source: str, allow_local: bool) -> str:
    """``source`` if git may be given it, else a ``UsageError`` naming the fix.

    ``allow_local`` is for the operator's command line: a local path (or ``file://``) there is
    the operator's own checkout; through the API or a webhook it would read the server's disk.
    """
    text = source.strip()
    shown = redact(text)
    if not text:
        raise UsageError("repository URL is empty; give https://host/owner/repo.git")
    if text.startswith("-"):
        raise UsageError(
            f"repository URL {shown!r} starts with '-' (git would read it as an option); "
            "give https://host/owner/repo.git or git@host:owner/repo.git"
        )
    if any(ord(c) < 32 for c in text):
        raise UsageError(f"repository URL {shown!r} contains control characters")
    if _SCP_LIKE.match(text):
        return text
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme in REMOTE_SCHEMES or (scheme == "file" and allow_local):
            return text
        allowed = "https://, ssh://, git@host:path" + (", file://" if allow_local else "")
        raise UsageError(
            f"repository URL {shown!r} uses the scheme {scheme!r}, which trainchain does not "
            f"let git use; allowed: {allowed}"
        )
    if allow_local:
        return text
    raise UsageError(
        f"{shown!r} is a path on the server, not a repository URL; only the command line "
        "(`trainchain projects add PATH`, `trainchain run PATH`) may name local paths"
    )


def redact(text: str) -> str:
    """``https://user:token@host/x`` -> ``https://***@host/x`` (anywhere in ``text``)."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('scheme')}***@", text)


def strip_credentials(url: str) -> str:
    """The URL without its user-info: two URLs differing only in credentials match."""
    return _CREDENTIALS.sub(lambda m: m.group("scheme"), url)


def git_environ() -> dict[str, str]:
    """The environment git runs in: never prompts, speaks only the allowed protocols."""
    return {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": GIT_PROTOCOLS,
        "GIT_PROTOCOL_FROM_USER": "0",
    }
