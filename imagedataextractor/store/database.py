"""Opening a database, upserting articles, figures and image results, and job status."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from ..doi import DoiError, normalise_doi
from ..errors import IDEError
from . import schema
from ..status import Status
from .records import BBox, FigureRecord, ImageRecord

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The SQLite file used when no database is named.
DEFAULT_DB = "ide.sqlite"
#: Seconds a SQLite writer waits for another process's write transaction to end.
SQLITE_LOCK_WAIT_S = 60.0


class StoreError(IDEError):
    """A database cannot be opened or written, or holds a schema this version does not know."""


def stored_doi(doi: str) -> str:
    """``doi`` as the store keeps it (:func:`imagedataextractor.doi.normalise_doi`); StoreError when it is not one."""
    try:
        return normalise_doi(doi)
    except DoiError as exc:
        raise StoreError(str(exc)) from None


def to_url(db: str | Path) -> sa.URL:
    """A SQLAlchemy URL from a plain filesystem path (a SQLite file) or a URL (anything with ``://``).

    ``postgresql://`` and ``postgres://`` mean psycopg 3 (``postgresql+psycopg://``).
    """
    text = str(db)
    if "://" not in text:
        return sa.URL.create("sqlite", database=str(Path(text).expanduser()))
    try:
        url = sa.make_url(text.replace("postgres://", "postgresql://", 1))
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"{text}: not a database URL or path ({exc})") from None
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def _plain(value: Any) -> Any:
    """A value the database drivers and JSON accept: numpy scalars to Python, NaN to None."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _float_list(values: Iterable[float]) -> list[float | None]:
    """Floats for a JSON column; NaN becomes null (JSON has no NaN, PostgreSQL refuses it)."""
    return [_plain(float(v)) for v in values]


def _bbox_values(bbox: BBox | None, prefix: str = "") -> dict[str, int | None]:
    sides = ("x0", "y0", "x1", "y1")
    values = (None,) * 4 if bbox is None else tuple(int(v) for v in bbox)
    if len(values) != 4:
        raise StoreError(f"bbox {bbox!r}: expected (x0, y0, x1, y1)")
    return {f"{prefix}{side}_px": v for side, v in zip(sides, values)}


def _check_status(status: str) -> None:
    if status not in schema.STATUSES:
        raise StoreError(f"status {status!r}: expected one of {', '.join(schema.STATUSES)}")


def particle_rows(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Rows for the ``particles`` table from a one-row-per-particle DataFrame.

    Columns named in :data:`~imagedataextractor.store.schema.PARTICLE_COLUMNS` map to their own
    column; any other column is kept, per row, in the ``extra`` JSON object (None when there are
    none). NaN becomes NULL. Without a ``particle_id`` column particles are numbered 1..n.
    """
    if frame is None or len(frame) == 0:
        return []
    known = [c for c in frame.columns if c in schema.PARTICLE_COLUMNS]
    extra = [c for c in frame.columns if c not in schema.PARTICLE_COLUMNS]
    if extra:
        log.debug("particles: storing unknown columns %s in 'extra'", extra)
    rows = []
    for number, record in enumerate(frame.to_dict("records"), start=1):
        row = {str(c): _plain(record[c]) for c in known}
        row.setdefault("particle_id", number)
        row["extra"] = {str(c): _plain(record[c]) for c in extra} or None
        rows.append(row)
    return rows


def _driver_message(exc: BaseException | None) -> str:
    """The first line of the database driver's message (PostgreSQL adds DETAIL lines)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: PostgreSQL's "deadlock detected" and "could not serialize": the transaction may succeed run again.
_RETRYABLE_SQLSTATES = ("40P01", "40001")
#: The advisory lock held while a PostgreSQL database's schema is created or migrated (any fixed number).
_SCHEMA_LOCK_ID = 0x1DE5C4E3A


def _dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The backend's own INSERT, which has ``on_conflict_do_update`` (SQLite and PostgreSQL only)."""
    if conn.dialect.name == "sqlite":
        return sqlite_insert(table)
    if conn.dialect.name == "postgresql":
        return postgresql_insert(table)
    raise StoreError(f"{conn.dialect.name}: not supported (the store runs on SQLite and PostgreSQL)")


def _fit_words(words: Sequence[str], column: sa.Column) -> str | None:
    """``words`` space-separated, as many as fit ``column``'s width (all when it has none)."""
    width = getattr(column.type, "length", None)
    text = ""
    for word in words:
        if width is not None and len(text) + len(word) + bool(text) > width:
            break
        text = f"{text} {word}" if text else word
    return text or None


@dataclass(frozen=True)
class _ImageRows:
    """The rows of one :class:`ImageRecord`, checked and converted before its transaction."""

    panel: dict[str, Any]
    extraction: dict[str, Any]
    scalebar: dict[str, Any] | None
    particles: list[dict[str, Any]]
    distributions: list[dict[str, Any]]
    rdfs: list[dict[str, Any]]

    @classmethod
    def of(cls, record: ImageRecord) -> _ImageRows:
        prov = record.provenance
        _check_status(prov.status)
        particles = particle_rows(record.particles)
        bar = record.scalebar
        rdf = record.rdf
        return cls(
            panel={
                "label": record.label,
                "is_micrograph": record.is_micrograph,
                "skip_reason": record.skip_reason,
                "confidence": record.confidence,
                "width_px": int(record.width_px),
                "height_px": int(record.height_px),
            },
            extraction={
                "source": prov.source,
                "doi": None if prov.doi is None else stored_doi(prov.doi),
                "figure_locator": prov.figure_locator,
                "panel_bbox_px": None if record.bbox_px is None else [int(v) for v in record.bbox_px],
                "method": prov.method,
                "model_name": prov.model_name,
                "model_version": prov.model_version,
                "tu": prov.tu,
                "samples": prov.samples,
                "settings": json.loads(json.dumps(dict(prov.settings), default=_plain)),
                "software_version": prov.software_version,
                "extracted_at": prov.extracted_at,
                "status": prov.status,
                "reason": prov.reason,
                "n_particles": len(particles),
                "uncertainty_png": record.uncertainty_png,
                "masked_label_boxes": None if record.masked_label_boxes is None else [[int(v) for v in box] for box in record.masked_label_boxes],
            },
            scalebar=None
            if bar is None
            else {
                "text": bar.text,
                "value": _plain(bar.value),
                "unit": bar.unit,
                "length_px": _plain(bar.length_px),
                "nm_per_px": _plain(bar.nm_per_px),
                **_bbox_values(bar.bbox_px),
                "length_sd_px": _plain(bar.length_sd_px),
            },
            particles=particles,
            distributions=[
                {
                    "kind": d.kind,
                    "bin_edges": _float_list(d.bin_edges),
                    "counts": [int(v) for v in d.counts],
                    "n": int(sum(int(v) for v in d.counts) if d.n is None else d.n),
                    "mean": _plain(d.mean),
                    "median": _plain(d.median),
                    "std": _plain(d.std),
                    "interval_level": _plain(d.interval_level),
                    "mean_low": _plain(d.mean_low),
                    "mean_high": _plain(d.mean_high),
                    "median_low": _plain(d.median_low),
                    "median_high": _plain(d.median_high),
                    "counts_low": None if d.counts_low is None else _float_list(d.counts_low),
                    "counts_high": None if d.counts_high is None else _float_list(d.counts_high),
                    "systematic_rel_sd": _plain(d.systematic_rel_sd),
                }
                for d in record.distributions
            ],
            rdfs=[]
            if rdf is None
            else [{"radii": _float_list(rdf.radii), "g_r": _float_list(rdf.g_r), "unit": rdf.unit, "dr": _plain(rdf.dr), "n_points": rdf.n_points}],
        )


class Database:
    """A connection pool to one imagedataextractor database. Use :func:`open_db` to get one.

    Every write method runs in its own transaction. Close with :meth:`close` or a ``with`` block.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    # -- transactions -------------------------------------------------------------------------

    def _write(self, work: Callable[[sa.Connection], T], what: str) -> T:
        """Run ``work`` in one transaction. PostgreSQL may end one of two transactions waiting on
        each other's rows (a deadlock); that one is run again, once."""
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except SQLAlchemyError as exc:
                if attempt == 0 and getattr(getattr(exc, "orig", None), "sqlstate", None) in _RETRYABLE_SQLSTATES:
                    log.debug("%s: retrying after %s", what, _driver_message(exc))
                    continue
                raise StoreError(f"{self.url}: {what}: {_driver_message(exc)}") from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    @staticmethod
    def _upsert(conn: sa.Connection, table: sa.Table, key: Mapping[str, Any], values: Mapping[str, Any], *, overwrite_with_none: bool) -> int:
        """``INSERT ... ON CONFLICT (key columns) DO UPDATE``: insert the row, or update the one
        with this key (a unique index); return its id. Unless ``overwrite_with_none``, None in
        ``values`` leaves the stored value as it is. Atomic, so concurrent writers of the same key
        end with one row, the last writer's."""
        insert = _dialect_insert(conn, table).values(**key, **values)
        changes = [name for name, value in values.items() if overwrite_with_none or value is not None]
        # With nothing to change the key is set to itself: DO NOTHING would return no id.
        updates = {name: insert.excluded[name] for name in changes or list(key)[:1]}
        statement = insert.on_conflict_do_update(index_elements=list(key), set_=updates).returning(table.c.id)
        return int(conn.execute(statement).scalar_one())

    # -- articles and figures ---------------------------------------------------------------------

    def upsert_article(
        self,
        doi: str,
        *,
        title: str | None = None,
        journal: str | None = None,
        publisher: str | None = None,
        licence: str | None = None,
        source: str | None = None,
        fetched_at: datetime | None = None,
    ) -> int:
        """Insert or update the article with this DOI; return its id.

        Fields given as None keep their stored value, so a later call with fewer fields does not
        erase what an earlier one recorded. The DOI is stored normalised (:func:`normalize_doi`).
        """
        key = {"doi": stored_doi(doi)}
        values = {"title": title, "journal": journal, "publisher": publisher, "licence": licence, "source": source, "fetched_at": fetched_at}
        return self._write(lambda conn: self._upsert(conn, schema.articles, key, values, overwrite_with_none=False), f"article {key['doi']}")

    def upsert_figure(
        self,
        *,
        doi: str | None = None,
        locator: str | None = None,
        source: str | None = None,
        label: str | None = None,
        caption: str | None = None,
        sha256: str | None = None,
        microscopy_type: str | None = None,
        materials: Iterable[str] | None = None,
        is_em: bool | None = None,
    ) -> int:
        """Insert or update a figure (see :class:`FigureRecord`); return its id. ``microscopy_type``:
        techniques, space-separated. Fields given as None keep their stored value."""
        microscopy = None if microscopy_type is None else microscopy_type.split()
        materials = None if materials is None else list(materials)
        return self.save_figure(FigureRecord(doi, locator, source, label, caption, sha256, microscopy, materials, is_em))

    def save_figure(self, figure: FigureRecord, images: Sequence[ImageRecord] = ()) -> int:
        """Insert or update a figure and save the results of its panels, all in one transaction;
        return the figure's id. Each of ``images`` is saved as by :meth:`save_image_result`, under
        this figure (its ``figure_id`` is ignored)."""
        if figure.doi is not None and not figure.locator:
            raise StoreError(f"figure of {figure.doi}: a locator (e.g. 'gr1') is required with a DOI")
        if figure.doi is None and not figure.source:
            raise StoreError("figure: give a doi and locator, or a source path/URL")
        values = {
            "label": figure.label,
            "caption": figure.caption,
            "sha256": figure.sha256,
            "microscopy_type": None if figure.microscopy is None else _fit_words(figure.microscopy, schema.figures.c.microscopy_type),
            "materials": None if figure.materials is None else list(figure.materials),
            "is_em": figure.is_em,
        }
        article_key = None if figure.doi is None else {"doi": stored_doi(figure.doi)}
        prepared = [(image, _ImageRows.of(image)) for image in images]
        natural_key = {"natural_key": schema.figure_key(None if article_key is None else article_key["doi"], figure.locator, figure.source, figure.sha256)}

        def work(conn: sa.Connection) -> int:
            if article_key is None:
                figure_id = self._upsert(conn, schema.figures, natural_key, {**values, "source": figure.source}, overwrite_with_none=False)
            else:
                article_id = self._upsert(conn, schema.articles, article_key, {}, overwrite_with_none=False)
                row = {**values, "article_id": article_id, "locator": figure.locator, "source": figure.source}
                figure_id = self._upsert(conn, schema.figures, natural_key, row, overwrite_with_none=False)
            if figure.materials is not None:
                conn.execute(schema.figure_materials.delete().where(schema.figure_materials.c.figure_id == figure_id))
                if figure.materials:
                    conn.execute(schema.figure_materials.insert(), schema.material_rows(figure_id, figure.materials))
            for image, rows in prepared:
                self._save_image(conn, image, rows, figure_id, natural_key["natural_key"])
            return figure_id

        return self._write(work, f"figure {article_key['doi'] if article_key else figure.source} {figure.locator or ''}".rstrip())

    # -- image results ------------------------------------------------------------------------------

    def save_image_result(self, record: ImageRecord) -> int:
        """Save one image result in one transaction; return the panel (image) id.

        The panel is keyed by (figure, bbox_px, sha256); its extraction by (panel,
        :meth:`Provenance.settings_sha256`). Saving the same image with the same settings again
        replaces that extraction's scalebar, particles, distributions and rdf (row counts do not
        grow); different settings add a second extraction beside the first.
        """
        rows = _ImageRows.of(record)

        def work(conn: sa.Connection) -> int:
            figure_key = None
            if record.figure_id is not None:
                figure_key = conn.execute(sa.select(schema.figures.c.natural_key).where(schema.figures.c.id == record.figure_id)).scalar_one_or_none()
                if figure_key is None:
                    raise StoreError(f"image {record.provenance.source or record.sha256[:12]}: no figure with id {record.figure_id}")
            return self._save_image(conn, record, rows, record.figure_id, figure_key)

        return self._write(work, f"image {record.provenance.source or record.sha256[:12]}")

    def _save_image(self, conn: sa.Connection, record: ImageRecord, rows: _ImageRows, figure_id: int | None, figure_key: str | None) -> int:
        bbox = _bbox_values(record.bbox_px)
        panel_key = {"natural_key": schema.panel_key(figure_key, list(bbox.values()), record.sha256)}
        panel_row = {**rows.panel, "figure_id": figure_id, **bbox, "sha256": record.sha256}
        panel_id = self._upsert(conn, schema.panels, panel_key, panel_row, overwrite_with_none=True)
        extraction_key = {"panel_id": panel_id, "settings_sha256": record.provenance.settings_sha256()}
        extraction_id = self._upsert(conn, schema.extractions, extraction_key, rows.extraction, overwrite_with_none=True)
        for table in schema.RESULT_TABLES:
            conn.execute(table.delete().where(table.c.extraction_id == extraction_id))
        keys = {"extraction_id": extraction_id, "panel_id": panel_id}
        if rows.scalebar is not None:
            conn.execute(schema.scalebars.insert().values(**keys, **rows.scalebar))
        for table, table_rows in ((schema.particles, rows.particles), (schema.distributions, rows.distributions), (schema.rdfs, rows.rdfs)):
            if table_rows:
                conn.execute(table.insert(), [{**keys, **row} for row in table_rows])
        return panel_id

    # -- resumable jobs -------------------------------------------------------------------------------

    def mark(self, item: str, status: Status, reason: str | None = None, *, job: str = "default") -> None:
        """Record that ``item`` (a DOI, a figure path...) of batch ``job`` is done, skipped or failed.

        Marking again overwrites the status and reason and counts another attempt.
        """
        _check_status(status)
        table = schema.jobs

        def work(conn: sa.Connection) -> None:
            insert = _dialect_insert(conn, table).values(job=job, item=item, status=status, reason=reason, attempts=1, updated_at=datetime.now(timezone.utc))
            updates = {"status": insert.excluded.status, "reason": insert.excluded.reason, "attempts": table.c.attempts + 1, "updated_at": insert.excluded.updated_at}
            conn.execute(insert.on_conflict_do_update(index_elements=["job", "item"], set_=updates))

        self._write(work, f"job {job} item {item}")

    def status(self, item: str, *, job: str = "default") -> Status | None:
        """The recorded status of ``item`` in batch ``job``, or None if it was never marked."""
        table = schema.jobs
        with self.engine.connect() as conn:
            return conn.execute(sa.select(table.c.status).where(table.c.job == job, table.c.item == item)).scalar_one_or_none()

    def items(self, status: Status, *, job: str = "default") -> set[str]:
        """Every item of batch ``job`` with this status; a resumed run skips ``items("done")``."""
        _check_status(status)
        table = schema.jobs
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(table.c.item).where(table.c.job == job, table.c.status == status)).scalars())

    # -- reading ----------------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The highest schema version recorded in the database."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar_one())

    def counts(self) -> dict[str, int]:
        """Number of rows in each data table, in :data:`~imagedataextractor.store.schema.DATA_TABLES` order."""
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(schema.metadata.tables[name])).scalar_one())
                for name in schema.DATA_TABLES
            }

    def read_table(self, name: str) -> pd.DataFrame:
        """The whole table ``name`` (one of DATA_TABLES or "schema_version") as a DataFrame, ordered
        by id. JSON columns hold Python lists/dicts; times are UTC-aware."""
        import pandas as pd

        if name not in schema.metadata.tables:
            raise StoreError(f"{name!r}: no such table (tables: {', '.join(schema.DATA_TABLES)}, schema_version)")
        table = schema.metadata.tables[name]
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            frame = pd.DataFrame(result.all(), columns=list(result.keys()))
        for column in table.columns:
            if isinstance(column.type, schema.UTCDateTime):
                frame[column.name] = pd.to_datetime(frame[column.name], utc=True)
        return frame


# -- opening ------------------------------------------------------------------------------------------


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _schema_is_current(conn: sa.Connection) -> bool:
    version_table = schema.schema_version
    if not sa.inspect(conn).has_table(version_table.name):
        return False
    return conn.execute(sa.select(sa.func.max(version_table.c.version))).scalar_one() == schema.SCHEMA_VERSION


def _prepare(conn: sa.Connection, display: str, *, create: bool) -> None:
    """Create the tables of a fresh database, upgrade an older one, refuse a newer one. Runs in
    the caller's transaction, which holds the schema lock (see :func:`_prepare_locked`)."""
    version_table = schema.schema_version
    now = datetime.now(timezone.utc)
    if not sa.inspect(conn).has_table(version_table.name):
        if not create:
            raise StoreError(f"{display}: not an imagedataextractor database (create it with `ide db init`)")
        schema.metadata.create_all(conn)
        conn.execute(version_table.insert().values(version=1, description=schema.BASELINE_DESCRIPTION, applied_at=now))
        for version, (description, _upgrade) in sorted(schema.MIGRATIONS.items()):
            conn.execute(version_table.insert().values(version=version, description=description, applied_at=now))
        log.info("%s: created schema version %d", display, schema.SCHEMA_VERSION)
        return
    current = conn.execute(sa.select(sa.func.max(version_table.c.version))).scalar_one() or 0
    if current > schema.SCHEMA_VERSION:
        raise StoreError(
            f"{display}: database schema version {current} is newer than this imagedataextractor supports "
            f"({schema.SCHEMA_VERSION}); upgrade imagedataextractor"
        )
    for version in range(current + 1, schema.SCHEMA_VERSION + 1):
        description, upgrade = schema.MIGRATIONS[version]
        upgrade(conn)
        conn.execute(version_table.insert().values(version=version, description=description, applied_at=now))
        log.info("%s: migrated schema to version %d (%s)", display, version, description)


def _prepare_locked(engine: sa.Engine, display: str, *, create: bool) -> None:
    """:func:`_prepare` in one transaction that holds the database's schema lock, so that
    processes opening a fresh or old database at once create or migrate it once: the others wait,
    then find it current. A current schema is only read (no lock, e.g. for a read-only file)."""
    with engine.connect() as conn:
        if _schema_is_current(conn):
            return
    if engine.dialect.name == "sqlite":
        # BEGIN IMMEDIATE takes SQLite's write lock before the schema is read; the driver's own
        # BEGIN would come only with the first write, after another process may have read it too.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                _prepare(conn, display, create=create)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK_ID)))
        _prepare(conn, display, create=create)


def open_db(db: str | Path = DEFAULT_DB, *, create: bool = True) -> Database:
    """Open (and by default create) an imagedataextractor database.

    Parameters
    ----------
    db
        A filesystem path (a SQLite file; its directory is created) or a SQLAlchemy URL such as
        ``postgresql://user@host/dbname`` (psycopg 3) or ``sqlite:///path``.
    create
        If False, a database without imagedataextractor tables (or a SQLite file that does not
        exist) is an error instead of being created.

    Returns
    -------
    Database
        With its tables created (fresh), migrated (older schema) or checked (current schema).

    Raises
    ------
    StoreError
        The path is not writable, the server cannot be reached, or the schema is newer than this
        version of imagedataextractor knows.

    Example
    -------
    >>> with open_db(tmp_path / "ide.sqlite") as db:  # doctest: +SKIP
    ...     db.counts()["particles"]
    0
    """
    url = to_url(db)
    display = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if path.is_dir():
            raise StoreError(f"{path}: is a directory, not a database file")
        if not path.exists():
            if not create:
                raise StoreError(f"{path}: no such database (create it with `ide db init --db {path}`)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{path}: cannot create database directory: {exc.strerror}") from None
    try:
        # SQLite: concurrent writers wait their turn for the file's write lock, up to a minute.
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_LOCK_WAIT_S} if url.get_backend_name() == "sqlite" else {})
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"{display}: {exc}") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    try:
        _prepare_locked(engine, display, create=create)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"{display}: cannot open database: {_driver_message(exc)}") from None
    return Database(engine)
