"""STORE: extraction results in a database through SQLAlchemy 2.

A plain path means a SQLite file (the default, ``ide.sqlite``); any SQLAlchemy URL works, e.g.
``postgresql://user@host/db`` (psycopg 3) for a database shared by several machines. Saving is
idempotent: the same image with the same settings replaces its earlier result.

Example
-------
>>> from imagedataextractor.store import open_db, ImageRecord, Provenance
>>> with open_db("ide.sqlite") as db:  # doctest: +SKIP
...     figure_id = db.upsert_figure(doi="10.1000/xyz", locator="gr1", caption="TEM of Au NPs")
...     db.save_image_result(ImageRecord(sha256=..., width_px=512, height_px=512,
...                                      provenance=Provenance(method="bpartis"), figure_id=figure_id))
"""

from .database import DEFAULT_DB, Database, StoreError, open_db, particle_rows, to_url
from .export import FORMATS, export
from .query import LEVELS, query
from .records import DistributionRecord, FigureRecord, ImageRecord, Provenance, RdfRecord, ScalebarRecord, pixel_sha256
from .schema import DATA_TABLES, PARTICLE_COLUMNS, SCHEMA_VERSION

__all__ = [
    "DATA_TABLES",
    "DEFAULT_DB",
    "FORMATS",
    "LEVELS",
    "PARTICLE_COLUMNS",
    "SCHEMA_VERSION",
    "Database",
    "DistributionRecord",
    "FigureRecord",
    "ImageRecord",
    "Provenance",
    "RdfRecord",
    "ScalebarRecord",
    "StoreError",
    "export",
    "open_db",
    "particle_rows",
    "pixel_sha256",
    "query",
    "to_url",
]
