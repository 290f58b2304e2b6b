"""Writing every data table to files that pandas or a spreadsheet opens: one file per table."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from . import schema
from .database import Database, StoreError, open_db

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "parquet", "json"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet", "json")


def export(db: Database | str | Path, out_dir: str | Path, *, format: ExportFormat = "csv") -> list[Path]:
    """Write each table of :data:`~imagedataextractor.store.schema.DATA_TABLES` to
    ``out_dir/<table>.<format>``, empty tables included (with their header where the format has one),
    binary columns (``extractions.uncertainty_png``, a picture) left out.

    csv: UTF-8 with a header row, times as UTC "YYYY-MM-DD HH:MM:SS.ffffff+00:00", JSON columns (bin_edges, counts, radii,
    g_r, materials, settings, extra...) as JSON text. parquet (needs pyarrow): typed columns, JSON
    columns as JSON text. json: one array of row objects per file (``pandas.read_json(path)``),
    JSON columns as nested arrays/objects.

    Parameters
    ----------
    db
        An open :class:`Database`, or a path/URL to open (and close) for the export; it must exist.
    out_dir
        Created if absent; existing files of the same names are overwritten.

    Returns
    -------
    list[Path]
        The files written, in DATA_TABLES order.

    Example
    -------
    >>> paths = export("ide.sqlite", "tables", format="csv")  # doctest: +SKIP
    >>> pandas.read_csv("tables/particles.csv")  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise StoreError(f"export format {format!r}: expected one of {', '.join(FORMATS)}")
    if format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise StoreError("export to parquet needs pyarrow: pip install 'imagedataextractor[parquet]'") from None
    if not isinstance(db, Database):
        with open_db(db, create=False) as opened:
            return export(opened, out_dir, format=format)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{out}: cannot create export directory: {exc.strerror}") from None

    written = []
    for name in schema.DATA_TABLES:
        table = schema.metadata.tables[name]
        # Pictures (the uncertainty PNG) are not tabular data: the report shows them.
        frame = db.read_table(name).drop(columns=[c.name for c in table.columns if isinstance(c.type, sa.LargeBinary)], errors="ignore")
        path = out / f"{name}.{format}"
        json_columns = [c.name for c in table.columns if isinstance(c.type, sa.JSON)]
        try:
            if format == "json":
                frame.to_json(path, orient="records", date_format="iso", indent=1)
            else:
                for column in json_columns:
                    frame[column] = [None if v is None else json.dumps(v) for v in frame[column]]
                if format == "csv":
                    frame.to_csv(path, index=False)
                else:
                    frame.to_parquet(path, index=False)
        except OSError as exc:
            raise StoreError(f"{path}: cannot write: {exc.strerror or exc}") from None
        log.info("%s: %d rows", path, len(frame))
        written.append(path)
    return written
