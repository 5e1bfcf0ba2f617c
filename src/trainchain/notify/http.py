"""One JSON POST with the standard library, its failures translated to NotifyError.

Redirects are not followed: a redirect could carry the Authorization header or a signed body
to another host. Error messages name ``what`` (a secret-free label chosen by the caller),
never the URL, which may itself be the secret (Slack webhook URLs are).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from trainchain import __version__
from trainchain.errors import NotifyError
from trainchain.notify.base import PermanentNotifyError

USER_AGENT = f"trainchain/{__version__}"
_RETRYABLE = {408, 425, 429}  # and every 5xx


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str  # at most 1000 characters


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    what: str,
    fix: str,
    timeout: float,
) -> HttpAnswer:
    """POST ``body`` (JSON bytes); return the 2xx answer or raise NotifyError naming ``what``.

    ``fix`` is the advice given for 4xx answers (wrong URL, token or permissions).
    """
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    request.add_header("User-Agent", USER_AGENT)
    for key, value in headers.items():
        request.add_header(key, value)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            text = response.read(1000).decode("utf-8", "replace")
            return HttpAnswer(response.status, text)
    except urllib.error.HTTPError as exc:
        snippet = _snippet(exc)
        message = f"{what} answered HTTP {exc.code}{snippet}"
        if exc.code in _RETRYABLE or exc.code >= 500:
            raise NotifyError(f"{message}; the service failed, retry later") from exc
        raise PermanentNotifyError(f"{message}; {fix}") from exc
    except TimeoutError as exc:
        raise NotifyError(
            f"{what} did not answer within {timeout:g}s; check that it is reachable"
        ) from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise NotifyError(
                f"{what} did not answer within {timeout:g}s; check that it is reachable"
            ) from exc
        raise NotifyError(
            f"{what} is unreachable ({_reason(reason)}); check the host and port"
        ) from exc
    except ValueError as exc:  # the message would quote the URL, which may be the secret
        raise PermanentNotifyError(
            f"{what} has a malformed URL; it must look like https://host/path"
        ) from exc
    except OSError as exc:  # e.g. the connection was reset mid-response
        raise NotifyError(f"{what} failed: {type(exc).__name__}: {_reason(exc)}") from exc


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    finally:
        exc.close()
    return f": {' '.join(text.split())[:200]}" if text else ""
