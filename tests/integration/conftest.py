"""Fixtures shared across integration modules: the real SMTP (aiosmtpd) and HTTP receivers."""

from tests.integration.test_notify_delivery import http, smtp, tls_files  # noqa: F401
