"""The store is a facade: no module outside ``trainchain.store`` builds a query or opens a
session; each query is a named ``Store`` method."""

from __future__ import annotations

import re
from pathlib import Path

import trainchain

SRC = Path(trainchain.__file__).parent
QUERY = re.compile(r"\bselect\(|\.session\(\)|\bsqlalchemy import\b.*\b(select|update|delete)\b")


def _offenders() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("store/"):
            continue
        lines = path.read_text().splitlines()
        hits = [n for n, line in enumerate(lines, 1) if QUERY.search(line)]
        if hits:
            found[rel] = hits
    return found


def test_no_query_outside_the_store() -> None:
    assert _offenders() == {}, "move these queries into a named Store method (trainchain.store)"


def test_rule_sees_a_query() -> None:
    assert QUERY.search("    with store.session() as s:")
    assert QUERY.search("rows = s.scalars(select(Run).where(Run.id == x))")
    assert QUERY.search("from sqlalchemy import func, select")
    assert not QUERY.search("selected = choose(options)")
