"""Export the chain as Jenkins jobs: JJB `jobs.yaml`, a declarative `Jenkinsfile`, a README.

Only ``trainchain jenkins export`` imports this package; it needs PyYAML and nothing heavy.
jenkins-job-builder itself is needed only to load or test the YAML, not to write it.
"""

from __future__ import annotations

from trainchain.jenkins.export import ExportResult, export_chain
from trainchain.jenkins.options import ExportOptions, make_options

__all__ = ["ExportOptions", "ExportResult", "export_chain", "make_options"]
