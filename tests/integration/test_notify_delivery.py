"""Every channel against real local servers: aiosmtpd (plain, STARTTLS+AUTH, implicit TLS)
and a stdlib HTTP server standing in for Slack, a webhook receiver and the GitHub API.

Also the failure paths (refused, 500, timeout, bad credentials) and `trainchain notify test`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from trainchain.cli.notify import notify
from trainchain.notify import DeliveryResult, dispatch, parse_notify
from trainchain.notify.sample import sample_report

SHA = "0123456789abcdef0123456789abcdef01234567"
USER, PASSWORD = "ml-bot@example.com", "s3cr3t-SMTP-pass"
TOKEN, HOOK_SECRET = "ghp_TOKENsecret0123456789", "hook-SECRET-42"
SLACK_PATH = "/services/T000/B000/slackSECRETxyz"
SECRETS = (PASSWORD, TOKEN, HOOK_SECRET, "slackSECRETxyz")


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost and its key, made here."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USER
            and auth_data.password.decode() == PASSWORD
        )
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(
    request: pytest.FixtureRequest, tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Mailbox]]:
    """A running aiosmtpd; param: plain | starttls (AUTH, TLS required) | smtps (implicit TLS).

    Yields the URL the notifier should use (with credentials) and the mailbox.
    """
    mode = getattr(request, "param", "plain")
    box, port = Mailbox(), free_port()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))  # the client trusts our cert
    kwargs: dict[str, Any] = {"server_hostname": "mx.test"}
    if mode == "starttls":
        kwargs |= {
            "tls_context": context,
            "require_starttls": True,
            "authenticator": box.authenticate,
            "auth_require_tls": True,
        }
        url = f"smtp://{USER.replace('@', '%40')}:{PASSWORD}@127.0.0.1:{port}"
    elif mode == "smtps":
        # implicit TLS: aiosmtpd does not count it as "TLS" for AUTH, hence require_tls False
        kwargs |= {
            "ssl_context": context,
            "authenticator": box.authenticate,
            "auth_require_tls": False,
        }
        url = f"smtps://{USER.replace('@', '%40')}:{PASSWORD}@127.0.0.1:{port}"
    else:
        url = f"smtp://127.0.0.1:{port}"
    controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield url, box
    finally:
        controller.stop()


class Recorder(ThreadingHTTPServer):
    """Records every request; answers ``status`` after ``delay`` seconds."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.status, self.delay, self.answer = 200, 0.0, b"ok"
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hung up after its timeout: expected in the timeout tests


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.server.delay:
            self.server.release.wait(self.server.delay)
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def report() -> Any:
    return sample_report("https://github.com/acme/digits.git", SHA, "main", event="succeeded")


def channels(*items: dict[str, Any]) -> list[Any]:
    return parse_notify(list(items))


def one(results: list[DeliveryResult]) -> DeliveryResult:
    assert len(results) == 1, results
    return results[0]


# --- email -----------------------------------------------------------------------------------


@pytest.mark.parametrize("smtp", ["plain", "starttls", "smtps"], indirect=True)
def test_email_is_received_with_text_html_and_chart(
    smtp: tuple[str, Mailbox], report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, box = smtp
    monkeypatch.setenv("TC_SMTP", url)
    to = ["ml-team@example.com", "lead@example.com"]
    result = one(
        dispatch(
            "succeeded",
            report,
            channels({"email": {"to": to, "smtp_url_env": "TC_SMTP", "subject_prefix": "[ci]"}}),
            backoff=0,
        )
    )
    assert result.ok, result.error
    assert result.attempts == 1 and "2 recipient(s)" in result.detail

    rcpts, msg = one_message(box)
    assert rcpts == to
    assert msg["Subject"].startswith("[ci] [TEST] digits@0123456 (main) reached the target")
    assert "val_accuracy 0.917 >= target 0.9" in msg["Subject"]
    if "smtp://127.0.0.1" not in url:  # authenticated modes logged in as our user
        assert box.logins == [USER] and msg["From"] == USER
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and rich is not None
    text = plain.get_content()
    assert "Best parameters: epochs=15, learning_rate=0.0005" in text
    assert "Model:           notify-test v3" in text and "now the champion" in text
    html = rich.get_content()
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    tree = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(tree.findall(f".//{ns}circle")) == len(report.trials)
    assert tree.find(f".//{ns}line[@class='target']") is not None
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing external


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_email_wrong_password_is_a_permanent_failure(
    smtp: tuple[str, Mailbox],
    report: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, box = smtp
    monkeypatch.setenv("TC_SMTP", url.replace(PASSWORD, "wrong-" + PASSWORD))
    caplog.set_level(logging.DEBUG)
    result = one(
        dispatch(
            "failed",
            report,
            channels({"email": {"to": ["a@example.com"], "smtp_url_env": "TC_SMTP"}}),
            retries=3,
            backoff=0,
        )
    )
    assert not result.ok and result.attempts == 1  # retrying cannot fix credentials
    assert "rejected the login" in (result.error or "") and "TC_SMTP" in (result.error or "")
    assert box.messages == []
    assert PASSWORD not in caplog.text and PASSWORD not in repr(dataclasses.asdict(result))


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_email_untrusted_certificate_is_permanent(
    smtp: tuple[str, Mailbox], report: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, box = smtp
    empty = tmp_path / "no-ca.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))  # trust nothing: our cert is self-signed
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setenv("TC_SMTP", url)
    item = {"email": {"to": ["a@example.com"], "smtp_url_env": "TC_SMTP"}}
    result = one(dispatch("succeeded", report, channels(item), retries=2, backoff=0))
    assert not result.ok and result.attempts == 1 and box.messages == []
    assert "TLS certificate not trusted" in (result.error or "")
    assert "SSL_CERT_FILE" in (result.error or "") and PASSWORD not in (result.error or "")


def test_email_refused_connection_is_retried_then_recorded(
    report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TC_SMTP", f"smtp://127.0.0.1:{free_port()}")
    result = one(
        dispatch(
            "succeeded",
            report,
            channels({"email": {"to": ["a@example.com"], "smtp_url_env": "TC_SMTP"}}),
            retries=2,
            backoff=0.01,
        )
    )
    assert not result.ok and result.attempts == 3
    assert "unreachable" in (result.error or "") and "127.0.0.1" in (result.error or "")


def test_email_missing_variable_names_it(report: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TC_NOPE", raising=False)
    result = one(
        dispatch(
            "succeeded",
            report,
            channels({"email": {"to": ["a@example.com"], "smtp_url_env": "TC_NOPE"}}),
            backoff=0,
        )
    )
    assert not result.ok and result.attempts == 1
    assert "TC_NOPE is not set" in (result.error or "") and "export TC_NOPE" in (result.error or "")


def one_message(box: Mailbox) -> tuple[list[str], EmailMessage]:
    deadline = time.monotonic() + 5  # the handler runs on the server's thread
    while not box.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(box.messages) == 1
    return box.messages[0]


# --- slack, webhook, github ------------------------------------------------------------------


def test_slack_gets_incoming_webhook_json(
    http: Recorder, report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TC_SLACK", http.url + SLACK_PATH)
    result = one(
        dispatch(
            "target_not_reached",
            report,
            channels({"slack": {"webhook_url_env": "TC_SLACK"}}),
            backoff=0,
        )
    )
    assert result.ok and result.detail == "HTTP 200" and result.channel == "slack:TC_SLACK"
    (request,) = http.requests
    assert request["path"] == SLACK_PATH
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(request["body"])
    assert "did not reach the target" in body["text"]
    assert body["blocks"][0]["type"] == "header"
    fields = [f["text"] for b in body["blocks"] if b["type"] == "section" for f in b["fields"]]
    assert any(f.startswith("*Tried*\nepochs 3..15; learning_rate 0.0005..0.01") for f in fields)
    assert all(len(b.get("fields", [])) <= 10 for b in body["blocks"])


def test_webhook_is_signed_with_hmac_and_has_a_delivery_id(
    http: Recorder, report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TC_HOOK_SECRET", HOOK_SECRET)
    result = one(
        dispatch(
            "succeeded",
            report,
            channels({"webhook": {"url": http.url + "/hooks/tc", "secret_env": "TC_HOOK_SECRET"}}),
            backoff=0,
        )
    )
    assert result.ok, result.error
    (request,) = http.requests
    headers, raw = request["headers"], request["body"]
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Trainchain-Signature-256"], expected)
    assert headers["X-Trainchain-Event"] == "succeeded"
    body = json.loads(raw)
    assert body["delivery"] == headers["X-Trainchain-Delivery"] and len(body["delivery"]) == 36
    assert body["test"] is True and body["run"]["best"]["value"] == pytest.approx(0.917)
    assert body["delivery"] in result.detail


def test_webhook_retries_on_500_with_the_same_delivery_id(http: Recorder, report: Any) -> None:
    http.status, http.answer = 500, b"boom"
    result = one(
        dispatch(
            "failed",
            report,
            channels({"webhook": {"url": http.url + "/hooks/tc"}}),
            retries=2,
            backoff=0.01,
        )
    )
    assert not result.ok and result.attempts == 3 and len(http.requests) == 3
    assert "HTTP 500: boom" in (result.error or "")
    assert len({r["headers"]["X-Trainchain-Delivery"] for r in http.requests}) == 1
    assert "X-Trainchain-Signature-256" not in http.requests[0]["headers"]  # no secret_env


def test_http_404_is_not_retried(
    http: Recorder, report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    http.status, http.answer = 404, b"no_service"
    monkeypatch.setenv("TC_SLACK", http.url + SLACK_PATH)
    result = one(
        dispatch(
            "failed",
            report,
            channels({"slack": {"webhook_url_env": "TC_SLACK"}}),
            retries=3,
            backoff=0,
        )
    )
    assert not result.ok and result.attempts == 1 and len(http.requests) == 1
    assert "HTTP 404: no_service" in (result.error or "") and "TC_SLACK" in (result.error or "")


def test_timeout_is_retried_and_recorded(http: Recorder, report: Any) -> None:
    http.delay = 5.0
    started = time.monotonic()
    result = one(
        dispatch(
            "succeeded",
            report,
            channels({"webhook": {"url": http.url + "/slow"}}),
            retries=1,
            backoff=0.01,
            timeout=0.3,
        )
    )
    assert not result.ok and result.attempts == 2
    assert "did not answer within 0.3s" in (result.error or "")
    assert time.monotonic() - started < 4  # bounded by our timeout, not by the server


def test_refused_connection_is_retried_and_recorded(report: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    result = one(
        dispatch("succeeded", report, channels({"webhook": {"url": url}}), retries=2, backoff=0.01)
    )
    assert not result.ok and result.attempts == 3
    assert "unreachable (connection refused)" in (result.error or "")


@pytest.mark.parametrize(
    ("event", "state"),
    [
        ("started", "pending"),
        ("succeeded", "success"),
        ("target_not_reached", "failure"),
        ("failed", "error"),
    ],
)
def test_github_commit_status(
    http: Recorder, monkeypatch: pytest.MonkeyPatch, event: str, state: str
) -> None:
    monkeypatch.setenv("TC_GH", TOKEN)
    http.status, http.answer = 201, b'{"id": 1}'
    run = sample_report("git@github.com:acme/digits.git", SHA, "main", event=event)
    item = {
        "github_status": {
            "token_env": "TC_GH",
            "api_url": http.url + "/api/v3/",
            "target_url": "https://tc.example.com/runs/{run_id}",
        },
        "on": ["started", "succeeded", "target_not_reached", "failed"],
    }
    result = one(dispatch(event, run, channels(item), backoff=0))
    assert result.ok, result.error
    (request,) = http.requests
    assert request["path"] == f"/api/v3/repos/acme/digits/statuses/{SHA}"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Accept"] == "application/vnd.github+json"
    body = json.loads(request["body"])
    assert body["state"] == state and body["context"] == "trainchain/test"
    assert body["target_url"] == f"https://tc.example.com/runs/{run.run_id}"
    assert 0 < len(body["description"]) <= 140
    if event in ("succeeded", "target_not_reached"):
        assert "val_accuracy 0.917" in body["description"]


def test_channels_only_get_their_events(
    http: Recorder, report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TC_GH", TOKEN)
    items = channels(
        {"webhook": {"url": http.url + "/a"}},  # default: not "started"
        {"github_status": {"token_env": "TC_GH", "api_url": http.url}, "on": ["started"]},
    )
    assert [r.channel for r in dispatch("started", report, items, backoff=0)] == ["github_status"]
    assert [r.channel for r in dispatch("failed", report, items, backoff=0)] == [
        f"webhook:127.0.0.1:{http.server_address[1]}/a"
    ]


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_no_secret_reaches_logs_or_results(
    http: Recorder,
    smtp: tuple[str, Mailbox],
    report: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every channel fails once (HTTP 500 / bad SMTP login) and succeeds once; grep for secrets."""
    smtp_url, box = smtp
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TC_SLACK", http.url + SLACK_PATH)
    monkeypatch.setenv("TC_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("TC_GH", TOKEN)
    monkeypatch.setenv("TC_SMTP", smtp_url)
    items = channels(
        {"email": {"to": ["a@example.com"], "smtp_url_env": "TC_SMTP"}},
        {"slack": {"webhook_url_env": "TC_SLACK"}},
        {"webhook": {"url": http.url + "/hook", "secret_env": "TC_HOOK_SECRET"}},
        {"github_status": {"token_env": "TC_GH", "api_url": http.url}},
    )
    http.status, http.answer = 500, f"echo {TOKEN} {HOOK_SECRET}".encode()  # a leaky server
    failed = dispatch("failed", report, items, retries=1, backoff=0)
    http.status, http.answer = 200, b"ok"
    sent = dispatch("succeeded", report, items, retries=0, backoff=0)
    assert [r.ok for r in failed] == [True, False, False, False]  # plain SMTP: no AUTH offered
    assert [r.ok for r in sent] == [True, True, True, True]
    persisted = json.dumps([dataclasses.asdict(r) for r in failed + sent])
    for secret in SECRETS:
        assert secret not in persisted, secret
        assert secret not in caplog.text, secret
    assert "***" in persisted  # the leaky answer was scrubbed, not dropped
    assert len(box.messages) == 2


# --- trainchain notify test ------------------------------------------------------------------


def write_config(path: Path, notify_items: list[dict[str, Any]]) -> None:
    text = yaml.safe_dump({"metric": "val_accuracy", "notify": notify_items})
    (path / "trainchain.yaml").write_text(text.replace("'on':", "on:"), encoding="utf-8")


def test_cli_sends_on_every_channel(
    tmp_path: Path, http: Recorder, smtp: tuple[str, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, box = smtp
    monkeypatch.setenv("TC_SMTP", url)
    monkeypatch.setenv("TC_SLACK", http.url + SLACK_PATH)
    write_config(
        tmp_path,
        [
            {"email": {"to": ["ml-team@example.com"], "smtp_url_env": "TC_SMTP"}},
            {"slack": {"webhook_url_env": "TC_SLACK"}, "on": ["failed"]},  # forced anyway
        ],
    )
    result = CliRunner().invoke(notify, ["test", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "ok     email:ml-team@example.com: accepted by 127.0.0.1" in result.output
    assert "ok     slack:TC_SLACK: HTTP 200" in result.output
    assert "[TEST]" in one_message(box)[1]["Subject"] and len(http.requests) == 1


def test_cli_exits_1_when_a_channel_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TC_MISSING", raising=False)
    write_config(tmp_path, [{"slack": {"webhook_url_env": "TC_MISSING"}}])
    result = CliRunner().invoke(notify, ["test", str(tmp_path), "--retries", "0"])
    assert result.exit_code == 1
    assert "FAILED slack:TC_MISSING: environment variable TC_MISSING is not set" in result.output


def test_cli_without_channels_is_a_config_error(tmp_path: Path) -> None:
    from trainchain.errors import ConfigError

    result = CliRunner().invoke(notify, ["test", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    assert "no trainchain.yaml in" in str(result.exception)
    write_config(tmp_path, [])
    result = CliRunner().invoke(notify, ["test", str(tmp_path)])
    assert isinstance(result.exception, ConfigError) and "no notify: channels" in str(
        result.exception
    )
