"""Comparing whole databases: the rows two runs left, without what differs between equal runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path


#: Columns that differ between equal runs: row ids, foreign keys to them, times and attempt counts.
VOLATILE_COLUMNS = {"id", "extracted_at", "updated_at", "fetched_at", "attempts"}


def comparable_tables(db: str | Path, roots: Mapping[str, str] | None = None) -> dict[str, list[tuple]]:
    """Every data table of ``db`` as a sorted list of rows, without ids, foreign keys, times and
    attempt counts: two databases holding the same results compare equal. ``roots``: text to
    replace in every value (e.g. a run's output folder by "<out>", where two runs wrote apart)."""
    from imagedataextractor.store import DATA_TABLES, open_db

    tables = {}
    with open_db(db, create=False) as database:
        for name in DATA_TABLES:
            frame = database.read_table(name)
            frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE_COLUMNS or c.endswith("_id") and c != "particle_id"])
            tables[name] = sorted(tuple(_replace(repr(v), roots or {}) for v in row) for row in frame.itertuples(index=False))
    return tables


def _replace(text: str, roots: Mapping[str, str]) -> str:
    for old, new in roots.items():
        text = text.replace(old, new)
    return text


def row_differences(left: dict[str, list[tuple]], right: dict[str, list[tuple]]) -> int:
    """Rows in one and not the other (as multisets), over all tables."""
    return sum(sum(((Counter(left[name]) - Counter(right[name])) + (Counter(right[name]) - Counter(left[name]))).values()) for name in left)
