"""LocalRuntime builds real virtualenvs with uv, and with pip where uv cannot serve.

Small pure-Python pins (six, iniconfig) keep each build to a second or two with uv, a few
seconds with pip; they come from the same indexes as the profiles' pins.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from trainchain.errors import EnvironmentBuildError
from trainchain.runtimes.base import EnvSpec
from trainchain.runtimes.installer import COMPILED_MARK, PipSettings, uv_environ
from trainchain.runtimes.local import LocalRuntime

SPEC = EnvSpec(profile="generic", packages=("six==1.16.0",), project_requirements=("iniconfig",))


def _versions(python: str) -> str:
    code = "import six, iniconfig; print(six.__version__)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout


def _has_pip(python: str) -> bool:
    return subprocess.run([python, "-c", "import pip"], capture_output=True).returncode == 0


def test_uv_builds_the_venv_and_the_second_call_reuses_it(tmp_path: Path) -> None:
    lines: list[str] = []
    runtime = LocalRuntime(home=tmp_path / "envs")
    env = runtime.provision(SPEC, lines.append)
    assert env.created and env.key == SPEC.key()  # the hash does not depend on the installer
    assert "$ uv pip install six==1.16.0 iniconfig" in lines
    assert _versions(env.python).strip() == "1.16.0"
    assert not _has_pip(env.python)  # uv's venv: nothing from ensurepip, so pip did not build it
    # compiled after the venv was usable (in the background), as pip does while installing
    mark = Path(env.python).parents[1] / COMPILED_MARK
    deadline = time.monotonic() + 120
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mark.read_text() == "ok\n"
    site = Path(env.python).parents[1] / "lib"
    assert list(site.glob("python3.*/site-packages/__pycache__/six.*.pyc"))
    again: list[str] = []
    reused = runtime.provision(SPEC, again.append)
    assert not reused.created and reused.python == env.python
    assert not any("install" in line for line in again)


def test_pip_builds_it_when_uv_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINCHAIN_UV", str(tmp_path / "no-such-uv"))
    lines: list[str] = []
    env = LocalRuntime(home=tmp_path / "envs").provision(SPEC, lines.append)
    assert any("uv is not available" in line for line in lines)
    assert "$ pip install six==1.16.0 iniconfig" in lines
    assert _versions(env.python).strip() == "1.16.0"
    assert _has_pip(env.python)


def test_pip_retries_when_uv_cannot_reach_its_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a UV_* setting wins over pip's: here it points uv at a closed port, pip is unaffected
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    lines: list[str] = []
    env = LocalRuntime(home=tmp_path / "envs").provision(SPEC, lines.append)
    assert "uv failed (see above); retrying with pip" in lines
    assert _versions(env.python).strip() == "1.16.0"


def test_unsatisfiable_pin_fails_once_with_uvs_reason(tmp_path: Path) -> None:
    spec = EnvSpec(profile="generic", packages=("six==99.0",))
    lines: list[str] = []
    with pytest.raises(EnvironmentBuildError) as info:
        LocalRuntime(home=tmp_path / "envs").provision(spec, lines.append)
    message = str(info.value)
    assert message.startswith("cannot install 'six==99.0'")
    assert "requirements: six==99.0" in message and "fix the pin" in message
    assert not any("pip" in line and "retrying" in line for line in lines)  # no second try
    assert not (tmp_path / "envs" / spec.key() / ".complete").exists()


def test_pip_settings_become_uv_settings(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://mirror.example/simple\n"
        "extra-index-url = file:///a/simple file:///b/simple\ncert = /ca/proxy.crt\n"
        "trusted-host = mirror.example\n"
        "[install]\nfind-links = /opt/wheels\nconstraint = /c.txt\nno-binary = :all:\n"
    )
    environ = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_DIRS": str(tmp_path / "none"),
        "PIP_CONFIG_FILE": str(conf),
        "PIP_FIND_LINKS": "/srv/wheels",  # a variable overrides the file, as in pip
        "UV_EXTRA_INDEX_URL": "file:///uv/simple",  # an explicit UV_* setting wins
        "PYTHONPATH": "/elsewhere",
    }
    settings = PipSettings.read(environ)
    assert settings.extra_index_urls == ("file:///a/simple", "file:///b/simple")
    assert settings.unmapped == ("no-binary",)  # logged at a uv build; pip gets it on a retry
    env = uv_environ(environ)
    assert env["UV_INDEX_URL"] == "https://mirror.example/simple"
    assert env["UV_EXTRA_INDEX_URL"] == "file:///uv/simple"
    assert env["UV_FIND_LINKS"] == "/srv/wheels"
    assert env["UV_CONSTRAINT"] == "/c.txt"
    assert env["SSL_CERT_FILE"] == "/ca/proxy.crt"
    assert env["UV_INSECURE_HOST"] == "mirror.example"
    assert env["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    assert "PYTHONPATH" not in env
