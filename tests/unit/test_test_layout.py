"""The suite's own layout: pytest imports test modules by basename (rootdir-relative packages
only where a folder has ``__init__.py``), so two modules of one name in different folders stop
the whole run at collection. It happened twice on merges; this catches it in the unit tests."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        if "repos" in path.relative_to(TESTS).parts:  # fixture projects, never collected
            continue
        seen[path.name].append(str(path.relative_to(TESTS)))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}
