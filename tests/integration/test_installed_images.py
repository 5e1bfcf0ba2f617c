"""An installed (not editable) trainchain finds its image recipe inside the package.

The wheel is built from this checkout and installed without its dependencies into a fresh
virtualenv that sees the system's packages (so nothing is downloaded); the checkout is not on
the path, so the recipe can only come from the installed package's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO
from tests.services import require

pytestmark = pytest.mark.slow

PROBE = """
import json, trainchain
from trainchain.profiles import profile_names
from trainchain.runtimes import images
plan = images.profile_plan("keras", images.BuildOptions(base_image="b"))
print(json.dumps({
    "package": trainchain.__file__,
    "dockerfiles": {p: images.render_dockerfile(p).decode() for p in profile_names()},
    "venv_files": sorted(plan.parent.files),
    "profile_files": sorted(f for f in plan.files if not f.startswith("agent/")),
    "agent": any(f.startswith("agent/") for f in plan.files),
    "project": images.recipe_file("project.Dockerfile").decode(),
}))
"""


def test_an_installed_package_renders_and_locates_the_image_recipe(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "-w", str(wheels), str(REPO)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    require(built.returncode == 0, f"cannot build the wheel: {built.stderr[-800:]}")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, env=env
    )
    wheel = next(wheels.glob("trainchain-*.whl"))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, str(wheel)], check=True, timeout=300, env=env)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PROBE],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    found = json.loads(done.stdout)
    assert Path(found["package"]).is_relative_to(venv), found["package"]
    assert set(found["dockerfiles"]) >= {"keras", "keras-legacy", "pytorch", "sklearn", "generic"}
    assert "KERAS_BACKEND=tensorflow" in found["dockerfiles"]["keras"]
    assert "ENTRYPOINT" in found["dockerfiles"]["generic"]
    assert {"install-requirements.sh", "trust-certs.sh", "requirements.txt"} <= set(
        found["venv_files"]
    )
    assert found["profile_files"] == ["Dockerfile", "entrypoint.sh"] and found["agent"]
    assert "PROFILE_IMAGE" in found["project"]
