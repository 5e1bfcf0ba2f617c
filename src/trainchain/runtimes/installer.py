"""Building a virtualenv: uv when it is there (seconds), pip when it is not or cannot serve.

uv is told what pip would have used: pip's index, extra indexes, find-links, constraints and CA
bundle, read from pip's configuration files and ``PIP_*`` variables and passed as the ``UV_*``
ones (a ``UV_*`` variable already set wins). uv keeps to the first index that lists a package
unless told otherwise; pip picks the best version from all of them, so the strategy is set to
pip's (``unsafe-best-match``) and the same pins resolve the same way.

Fallback: without uv (``TRAINCHAIN_UV=off``, or no binary) pip builds the environment. When uv
fails, its answer stands if it proved the requirements unsatisfiable (the same index would give
pip the same verdict); any other failure (network, TLS, a build backend, an option uv does not
know) is retried once with pip, whose own configuration may reach what uv could not.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import threading
import venv
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trainchain.errors import EnvironmentBuildError
from trainchain.settings import operator_settings

LogSink = Callable[[str], None]
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_TAIL = 25


@dataclass(frozen=True)
class PipSettings:
    """The index settings pip would use, from its config files then ``PIP_*`` variables."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    cert: str | None = None
    no_index: bool = False
    timeout: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    unmapped: tuple[str, ...] = field(default=())  # pip settings uv is not given

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> PipSettings:
        values: dict[str, str] = {}
        for path in _pip_config_files(environ):
            parser = configparser.RawConfigParser()
            try:
                parser.read(path)
            except configparser.Error:
                continue  # pip would complain; uv just gets nothing from it
            for section in ("global", "install"):
                if parser.has_section(section):
                    values.update({k.replace("_", "-"): v for k, v in parser.items(section)})
        for name, value in environ.items():
            if name.startswith("PIP_") and name != "PIP_CONFIG_FILE":
                values[name[4:].lower().replace("_", "-")] = value
        known = {"index-url", "extra-index-url", "find-links", "constraint", "cert", "no-index"}
        known |= {"trusted-host"}
        known |= {"timeout", "default-timeout", "disable-pip-version-check", "no-input"}
        known |= {"progress-bar", "no-cache-dir"}
        return cls(
            index_url=values.get("index-url") or None,
            extra_index_urls=tuple(values.get("extra-index-url", "").split()),
            find_links=tuple(values.get("find-links", "").split()),
            constraints=tuple(values.get("constraint", "").split()),
            cert=values.get("cert") or None,
            no_index=values.get("no-index", "").lower() in ("1", "true", "yes", "on"),
            timeout=values.get("timeout") or values.get("default-timeout") or None,
            trusted_hosts=tuple(values.get("trusted-host", "").split()),
            unmapped=tuple(sorted(set(values) - known)),
        )


def _pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files in its order (later ones override earlier ones)."""
    chosen = environ.get("PIP_CONFIG_FILE")
    if chosen == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    home = Path(environ.get("HOME", str(Path.home())))
    xdg_home = Path(environ.get("XDG_CONFIG_HOME", str(home / ".config")))
    files = [*(Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs)), Path("/etc/pip.conf")]
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    if chosen:
        files.append(Path(chosen))
    return [f for f in files if f.is_file()]


def uv_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` plus the ``UV_*`` variables that make uv use pip's indexes and CA bundle."""
    env = {k: v for k, v in environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = PipSettings.read(environ)
    derived = {
        "UV_INDEX_URL": pip.index_url,
        "UV_EXTRA_INDEX_URL": " ".join(pip.extra_index_urls) or None,
        "UV_FIND_LINKS": " ".join(pip.find_links) or None,
        "UV_CONSTRAINT": " ".join(pip.constraints) or None,
        "UV_NO_INDEX": "1" if pip.no_index else None,
        "UV_HTTP_TIMEOUT": pip.timeout,
        "UV_INSECURE_HOST": " ".join(pip.trusted_hosts) or None,
        "UV_INDEX_STRATEGY": "unsafe-best-match",  # pip's: the best version from any index
        "UV_PYTHON_DOWNLOADS": "never",  # the interpreter is given, never fetched
        "UV_NO_PROGRESS": "1",
        "NO_COLOR": "1",
    }
    # uv trusts its bundled roots unless given a bundle: a TLS-intercepting proxy's CA is in
    # pip's cert or the system bundle (update-ca-certificates puts it there)
    bundle = pip.cert or environ.get("REQUESTS_CA_BUNDLE")
    if not bundle and SYSTEM_CA_BUNDLE.is_file():
        bundle = str(SYSTEM_CA_BUNDLE)
    derived["SSL_CERT_FILE"] = bundle
    for name, value in derived.items():
        if value and not env.get(name):
            env[name] = value
    return env


def find_uv() -> str | None:
    """The uv binary: ``TRAINCHAIN_UV`` (a path, or ``off`` for pip), else the ``uv`` package's,
    else ``uv`` on PATH; None when there is none."""
    configured = (operator_settings().uv or "").strip()
    if configured.lower() in ("off", "0", "false", "no", "pip"):
        return None
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


class InstallFailed(Exception):
    """An installer exited non-zero; ``tail`` holds the last lines of its output."""

    def __init__(self, tail: list[str]) -> None:
        super().__init__("\n".join(tail))
        self.tail = tail


def build_with_uv(uv: str, target: Path, packages: list[str], log: LogSink) -> None:
    """``uv venv`` with this interpreter, then ``uv pip install`` the packages into it."""
    env = uv_environ(os.environ)
    unmapped = PipSettings.read(os.environ).unmapped
    if unmapped:  # a failure that needs one of them is retried with pip
        log(f"pip settings uv does not take: {', '.join(unmapped)}")
    cwd = target.parent  # uv reads uv.toml/pyproject.toml from its cwd upwards: not a project's
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(target)], env, cwd, log)
    if packages:
        log("$ uv pip install " + " ".join(packages))
        python = target / "bin" / "python"
        _run([uv, "pip", "install", "--python", str(python), *packages], env, cwd, log)


# Run by the venv's interpreter: every package of its site-packages compiled, at low priority;
# COMPILED_MARK (written last) says it finished.
_COMPILE = """\
import compileall, os, pathlib, sys, sysconfig
os.nice(10)
paths = sysconfig.get_paths()
ok = [compileall.compile_dir(d, quiet=2, workers=1) for d in {paths["purelib"], paths["platlib"]}]
pathlib.Path(sys.argv[1]).write_text("ok\\n" if all(ok) else "some files did not compile\\n")
"""
COMPILED_MARK = ".compiled"


def compile_in_background(target: Path) -> threading.Thread:
    """Compile a usable venv's packages to bytecode without holding anyone up.

    uv installs without compiling (``UV_COMPILE_BYTECODE`` is left to the operator): compiling
    TensorFlow is most of a warm uv build (~10 s of its ~11 s). The venv is usable at once; a
    trial that starts before this finishes compiles what it imports itself (local trials may
    write bytecode), and later ones find it all compiled. ``target/.compiled`` marks the end."""
    python = target / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    thread = threading.Thread(
        target=subprocess.run,
        args=([str(python), "-c", _COMPILE, str(target / COMPILED_MARK)],),
        kwargs={
            "env": env,
            "stdin": subprocess.DEVNULL,
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
            "check": False,
        },
        name=f"compile-{target.name}",
        daemon=True,  # an exiting controller leaves the compiler to finish on its own
    )
    thread.start()
    return thread


def build_with_pip(target: Path, packages: list[str], log: LogSink) -> None:
    """The stdlib's venv (with pip), then ``pip install`` the packages into it."""
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    if packages:
        log("$ pip install " + " ".join(packages))
        python = target / "bin" / "python"
        cmd = [str(python), "-m", "pip", "install", "--no-input", "--progress-bar", "off"]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        _run([*cmd, *packages], env, target, log)


def is_unsatisfiable(tail: list[str]) -> bool:
    """uv proved the requirements cannot be met from these indexes: pip would say the same."""
    return any("No solution found when resolving dependencies" in line for line in tail)


def _run(cmd: list[str], env: dict[str, str], cwd: Path, log: LogSink) -> None:
    tail: list[str] = []
    # The context manager closes the pipe and reaps the installer on every exit, errors included.
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            log(line)
            tail = (tail + [line])[-_TAIL:]
        code = proc.wait()
    if code != 0:
        raise InstallFailed(tail)


_PIP_NO_DIST = re.compile(r"No matching distribution found for (\S+)")
_UV_CULPRIT = re.compile(
    r"Because (?:there is no version of (\S+?)(?: and|,|$)|(\S+) was not found in the package "
    r"registry|there are no versions of (\S+?)(?: and|,|$))"
)


def pip_failure(packages: list[str], tail: list[str]) -> EnvironmentBuildError:
    text = "\n".join(tail)
    match = _PIP_NO_DIST.search(text)
    culprit = match.group(1) if match else None
    errors = [line for line in tail if line.startswith("ERROR")] or tail[-5:]
    head = f"cannot install {culprit!r}" if culprit else "pip could not install the environment"
    return _failure(head, errors, packages)


def uv_failure(packages: list[str], tail: list[str]) -> EnvironmentBuildError:
    match = _UV_CULPRIT.search("\n".join(tail))
    culprit = next((g for g in match.groups() if g), None) if match else None
    errors = [
        line.strip()
        for line in tail
        if line.lstrip().startswith(("error:", "cause:", "×", "╰─▶", "hint:"))
    ] or tail[-5:]
    head = f"cannot install {culprit!r}" if culprit else "uv could not install the environment"
    return _failure(head, errors, packages)


def _failure(head: str, errors: list[str], packages: list[str]) -> EnvironmentBuildError:
    return EnvironmentBuildError(
        f"{head}: {' / '.join(errors)}\n  requirements: {' '.join(packages)}\n"
        "  fix the pin in requirements.txt (or the profile), or check the package index"
    )
