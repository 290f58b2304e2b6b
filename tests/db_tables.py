"""Comparing whole databases: the rows two runs left, without what differs between equal runs."""

from __future__ import annotations

from pathlib import Path


#: Columns that differ between equal runs: row ids, foreign keys to them, times and attempt counts.
VOLATILE_COLUMNS = {"id", "extracted_at", "updated_at", "fetched_at", "attempts"}


def comparable_tables(db: str | Path) -> dict[str, list[tuple]]:
    """Every data table of ``db`` as a sorted list of rows, without ids, foreign keys, times and
    attempt counts: two databases holding the same results compare equal."""
    from imagedataextractor.store import DATA_TABLES, open_db

    tables = {}
    with open_db(db, create=False) as database:
        for name in DATA_TABLES:
            frame = database.read_table(name)
            frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE_COLUMNS or c.endswith("_id") and c != "particle_id"])
            tables[name] = sorted((tuple(repr(v) for v in row) for row in frame.itertuples(index=False)))
    return tables
