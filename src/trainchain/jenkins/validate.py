"""Check a rendered jobs.yaml with jenkins-job-builder (the ``jenkins`` extra) before it is written.

``jenkins-jobs test`` renders every job to the XML Jenkins would get, offline; a file it
rejects would fail on the user's Jenkins, so the export refuses to write it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from trainchain.errors import TrainchainError
from trainchain.extras import require

# No Jenkins to ask for plugin versions: JJB then renders for the latest plugins.
_INI = "[job_builder]\nignore_cache=True\n[jenkins]\nquery_plugins_info=False\n"


def check_jobs_yaml(text: str) -> int:
    """Render ``text`` with ``jenkins-jobs test``; return how many jobs it produced."""
    require("jenkins", "trainchain jenkins export (it checks jobs.yaml with jenkins-job-builder)")
    with tempfile.TemporaryDirectory(prefix="trainchain-jjb-") as tmp:
        root = Path(tmp)
        (root / "jenkins_jobs.ini").write_text(_INI)
        (root / "jobs.yaml").write_text(text, encoding="utf-8")
        command = [
            sys.executable, "-m", "jenkins_jobs", "--conf", str(root / "jenkins_jobs.ini"),
            "test", "--config-xml", "-o", str(root / "xml"), str(root / "jobs.yaml"),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            tail = " / ".join(done.stderr.strip().splitlines()[-5:])
            raise TrainchainError(
                f"jenkins-job-builder rejected the jobs.yaml trainchain rendered ({tail}); "
                "this is a trainchain bug: please report it (--no-validate writes the file anyway)"
            )
        return len(list((root / "xml").glob("*/config.xml")))
