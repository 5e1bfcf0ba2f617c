"""Fill the text templates in `templates/` (package data).

``%%{name}`` marks a placeholder: Groovy and shell use ``$`` themselves, so string.Template's
default delimiter would need escaping everywhere.
"""

from __future__ import annotations

import string
from importlib import resources


class _Template(string.Template):
    delimiter = "%%"


def render_template(name: str, **values: str) -> str:
    """Return template ``name`` with every placeholder filled; a missing value is a bug."""
    folder = resources.files("trainchain.jenkins").joinpath("templates")
    text = folder.joinpath(name).read_text(encoding="utf-8")
    return _Template(text).substitute(values)
