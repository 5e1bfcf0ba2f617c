"""Stage the agent for a trial: ``trainchain/__init__.py`` + ``trainchain/agent/`` only.

The directory returned goes on the trial's PYTHONPATH (mounted read-only into containers), so
the training environment sees the standard-library-only agent and none of the controller's
dependencies. Staged once per content hash; concurrent callers race safely via rename.

The staged copy is compiled to bytecode here, once: trials import it from a read-only mount or
with ``PYTHONDONTWRITEBYTECODE`` set, and would otherwise compile all of it at every start.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import trainchain
from trainchain import paths


def _agent_files() -> list[tuple[Path, str]]:
    package = Path(trainchain.__file__).parent
    files = [(package / "__init__.py", "trainchain/__init__.py")]
    for path in sorted((package / "agent").rglob("*.py")):
        files.append((path, f"trainchain/agent/{path.relative_to(package / 'agent').as_posix()}"))
    return files


def agent_dir() -> Path:
    """A directory holding the agent package, ready for PYTHONPATH."""
    files = _agent_files()
    digest = hashlib.sha256(b"compiled\0")  # a layout with __pycache__: not an older staging
    for src, rel in files:
        digest.update(rel.encode())
        digest.update(src.read_bytes())
    target = paths.home() / "agent" / digest.hexdigest()[:16]
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".stage-"))
    for src, rel in files:
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    compileall.compile_dir(tmp, quiet=2, workers=1)  # for this interpreter (venvs share it)
    os.chmod(tmp, 0o755)
    try:
        tmp.rename(target)
    except OSError:  # another controller staged the same content first
        shutil.rmtree(tmp, ignore_errors=True)
    return target
