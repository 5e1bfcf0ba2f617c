"""An installation without extras: every command that needs one exits 2 naming the extra.

The package is installed (not editable) into a fresh virtualenv with only its core
dependencies, exactly as `pip install trainchain` would leave a user.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import EXAMPLES, REPO
from tests.services import require

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--progress-bar", "off", str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    require(done.returncode == 0, f"cannot install trainchain without extras: {done.stderr[-800:]}")
    return venv / "bin" / "trainchain"


def _bare_run(exe: Path, *args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRAINCHAIN_DB_URL")}
    env["TRAINCHAIN_HOME"] = str(home)
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_the_bare_install_really_lacks_the_extras(bare: Path) -> None:
    python = bare.parent / "python"
    probe = (
        "import importlib.util as u; print([m for m in "
        "('fastapi','uvicorn','docker','jenkins_jobs','mlflow','psycopg','ray') if u.find_spec(m)])"
    )
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("extra", "args"),
    [
        ("server", ["serve", "--port", "1"]),
        ("jenkins", ["jenkins", "export", "--repo", "https://example.org/team/m.git"]),
        ("docker", ["run", str(EXAMPLES / "sklearn-digits"), "--runtime", "docker"]),
        ("docker", ["images", "list"]),
        ("ray", ["run", str(EXAMPLES / "sklearn-digits"), "--runtime", "ray"]),
        ("mlflow", ["run", "{mlflow_project}"]),
    ],
)
def test_a_command_that_needs_a_missing_extra_exits_2_naming_it(
    bare: Path, tmp_path: Path, extra: str, args: list[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(
        "from sklearn.datasets import load_digits\nfrom sklearn.linear_model import "
        "LogisticRegression\nX, y = load_digits(return_X_y=True)\n"
        "print('accuracy', LogisticRegression(max_iter=200).fit(X, y).score(X, y))\n"
    )
    (project / "trainchain.yaml").write_text(
        f"tracking: {{mlflow_uri: 'sqlite:///{tmp_path}/mlflow.db'}}\n"
    )
    args = [a.replace("{mlflow_project}", str(project)) for a in args]
    done = _bare_run(bare, *args, cwd=tmp_path, home=tmp_path / "home")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"pip install 'trainchain[{extra}]'" in output
    assert "Traceback" not in output


def test_a_postgres_database_without_the_driver_exits_2_naming_the_extra(
    bare: Path, tmp_path: Path
) -> None:
    env_url = "postgresql://trainchain@127.0.0.1:1/trainchain"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TRAINCHAIN_HOME=str(tmp_path / "home"), TRAINCHAIN_DB_URL=env_url)
    done = subprocess.run(
        [str(bare), "runs", "list"], capture_output=True, text=True, timeout=120, env=env
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "pip install 'trainchain[postgres]'" in output
    assert "Traceback" not in output
