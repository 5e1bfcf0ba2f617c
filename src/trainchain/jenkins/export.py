"""Write the three files of an export into one directory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from trainchain.errors import UsageError
from trainchain.jenkins.chain import CHAIN
from trainchain.jenkins.jenkinsfile import render_jenkinsfile
from trainchain.jenkins.jobs import render_jobs_yaml, view_name
from trainchain.jenkins.options import ExportOptions
from trainchain.jenkins.readme import render_readme
from trainchain.jenkins.validate import check_jobs_yaml

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: tuple[Path, ...]
    job_names: tuple[str, ...]
    view_name: str


def export_chain(options: ExportOptions, out_dir: Path, validate: bool = False) -> ExportResult:
    """Render everything first (and with ``validate``, check jobs.yaml with jenkins-job-builder),
    then write: a bad option never leaves half an export."""
    contents = {
        "jobs.yaml": render_jobs_yaml(options),
        "Jenkinsfile": render_jenkinsfile(options),
        "README.md": render_readme(options),
    }
    if validate:
        check_jobs_yaml(contents["jobs.yaml"])
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a directory; pass a directory path")
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in contents.items():
            path = out_dir / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise UsageError(
            f"cannot write the Jenkins export into --out {out_dir} ({exc.strerror or exc}); "
            "pass a directory you can write to"
        ) from exc
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return ExportResult(
        out_dir=out_dir,
        files=tuple(written),
        job_names=tuple(job.job_name(options) for job in CHAIN),
        view_name=view_name(options),
    )
