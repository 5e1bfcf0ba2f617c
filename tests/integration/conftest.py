"""Fixtures shared across integration modules: the real SMTP (aiosmtpd) and HTTP receivers, a
Docker runtime with the generic environment."""

from tests.integration.test_docker_runtime import docker_env  # noqa: F401
from tests.integration.test_notify_delivery import http, smtp, tls_files  # noqa: F401
