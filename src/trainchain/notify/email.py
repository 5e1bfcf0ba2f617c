"""Email over SMTP (standard library): a plain-text body plus an HTML part with the chart.

The server comes from the environment variable named by ``smtp_url_env``:
``smtp://user:password@host:port`` (STARTTLS whenever the server offers it; default port 25)
or ``smtps://user:password@host:port`` (implicit TLS; default port 465). User and password
are percent-decoded, so ``p%40ss`` is ``p@ss``. A password is never sent over a plain
connection except to a loopback address.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from trainchain.errors import NotifyError
from trainchain.notify import message
from trainchain.notify.base import ALL_EVENTS, Notifier, PermanentNotifyError
from trainchain.notify.config import EmailChannel, NotifyEvent
from trainchain.notify.html import html_body

if TYPE_CHECKING:
    from collections.abc import Iterable

    from trainchain.report import RunReport

_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class SmtpServer:
    scheme: str  # smtp | smtps
    host: str
    port: int
    user: str | None
    password: str | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_smtp_url(url: str, env_name: str) -> SmtpServer:
    """Read ``smtp[s]://[user[:password]@]host[:port]``; errors never quote the password."""
    fix = f"set {env_name} to smtp://user:password@host:587 or smtps://user:password@host:465"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PermanentNotifyError(f"{env_name} is not a valid SMTP URL ({exc}); {fix}") from exc
    if parts.scheme not in _PORTS or not parts.hostname:
        shown = f"{parts.scheme}://..." if parts.scheme else "a value without scheme"
        raise PermanentNotifyError(f"{env_name} holds {shown}, not an SMTP URL; {fix}")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpServer(parts.scheme, parts.hostname, port or _PORTS[parts.scheme], user, password)


def build_message(
    settings: EmailChannel, sender: str, event: str, report: RunReport
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{settings.subject_prefix} {message.headline(event, report)}".strip()
    msg["From"] = sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "trainchain")
    msg["X-Trainchain-Event"] = event
    msg["X-Trainchain-Run"] = report.run_id
    msg.set_content(message.text_body(event, report))
    msg.add_alternative(html_body(event, report), subtype="html")
    return msg


class SmtpNotifier(Notifier):
    def __init__(
        self,
        settings: EmailChannel,
        events: Iterable[NotifyEvent | str] = ALL_EVENTS,
        *,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(events)
        self.settings = settings
        self.secret_envs = (settings.smtp_url_env,)
        self.timeout = timeout
        more = f"+{len(settings.to) - 1}" if len(settings.to) > 1 else ""
        self.name = f"email:{settings.to[0]}{more}"

    def server(self) -> SmtpServer:
        url = self.read_secret(self.settings.smtp_url_env, "SMTP URL (smtp://user:pass@host:port)")
        server = parse_smtp_url(url, self.settings.smtp_url_env)
        self.add_secret(server.password or "")
        return server

    def sender(self, server: SmtpServer) -> str:
        if self.settings.from_:
            return self.settings.from_
        if server.user and "@" in server.user:
            return server.user
        return f"trainchain@{socket.gethostname()}"

    def send(self, event: str, report: RunReport) -> str:
        server = self.server()
        sender = self.sender(server)
        msg = build_message(self.settings, sender, event, report)
        try:
            refused = self._transmit(server, msg, sender)
        except NotifyError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise translate(exc, server, self.settings.smtp_url_env, self.timeout) from exc
        accepted = len(self.settings.to) - len(refused)
        detail = f"accepted by {server.address} for {accepted} recipient(s)"
        if refused:
            detail += f"; refused: {', '.join(sorted(refused))}"
        return detail

    def _transmit(self, server: SmtpServer, msg: EmailMessage, sender: str) -> dict[str, object]:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if server.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        with client:
            client.ehlo()
            secure = server.scheme == "smtps"
            if not secure and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                secure = True
            if server.user:
                if not secure and not server.is_loopback():
                    raise PermanentNotifyError(
                        f"{server.address} offers no STARTTLS; refusing to send the "
                        f"password in clear; use smtps:// in {self.settings.smtp_url_env} or a "
                        "server with STARTTLS"
                    )
                client.login(server.user, server.password or "")
            refused = client.send_message(msg, sender, list(self.settings.to))
        return dict(refused)


def translate(exc: BaseException, server: SmtpServer, env_name: str, timeout: float) -> NotifyError:
    """An smtplib/ssl/socket error as a NotifyError naming the server and the fix."""
    where = f"SMTP server {server.address} (from ${env_name})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentNotifyError(
            f"{where} rejected the login of {server.user!r} ({exc.smtp_code}); "
            f"check the user and password in {env_name}"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentNotifyError(f"{where}: {exc}; drop the user from {env_name} or use TLS")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        names = ", ".join(sorted(exc.recipients))
        return PermanentNotifyError(f"{where} refused every recipient ({names}); check email.to")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return PermanentNotifyError(
            f"{where} refused the sender {exc.sender!r} ({exc.smtp_code}); set email.from to an "
            "address this account may send as"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        error_cls = PermanentNotifyError if exc.smtp_code >= 500 else NotifyError
        return error_cls(f"{where} answered {exc.smtp_code} {text}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentNotifyError(
            f"{where}: TLS certificate not trusted ({exc.verify_message}); install its CA in the "
            "system store or point SSL_CERT_FILE at it"
        )
    if isinstance(exc, ssl.SSLError):
        return PermanentNotifyError(
            f"{where}: TLS failed ({exc.reason}); use smtps:// for implicit TLS (port 465) and "
            "smtp:// for STARTTLS (ports 25/587)"
        )
    if isinstance(exc, TimeoutError):
        return NotifyError(f"{where} did not answer within {timeout:g}s; check host and port")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return NotifyError(f"{where} closed the connection ({exc}); retry later")
    if isinstance(exc, OSError):
        reason = (exc.strerror or str(exc)).lower()
        return NotifyError(f"{where} is unreachable ({reason}); check host and port in {env_name}")
    return NotifyError(f"{where} failed: {type(exc).__name__}: {exc}")
