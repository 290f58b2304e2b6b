"""The database schema (SQLAlchemy Core), its version, and the migrations between versions.

Tables and keys::

    articles      one per DOI (DOIs are stored normalised: lower case, no https://doi.org/ prefix)
    figures       one per (article, locator), or per (source path/URL, pixel sha256) for figures
                  without an article; ``natural_key`` (unique) is the hash of that key
    figure_materials one per (figure, material named in its caption): the name as stored in
                  figures.materials and its matching key (:func:`~imagedataextractor.materials.material_key`),
                  indexed, for queries by material
    panels        one micrograph or other panel: (figure, bbox, pixel sha256), hashed into the unique
                  ``natural_key``; the "image" that extractions, scalebars, particles,
                  distributions and rdfs refer to
    extractions   one per (panel, settings_sha256): provenance and status of one extraction run
    scalebars     0..1 per extraction
    particles     one row per particle per extraction
    distributions one per (extraction, kind), e.g. kind "diameter_nm"
    rdfs          0..1 per extraction: radial distribution function g(r)
    jobs          one per (job, item): done/failed/skipped for resumable batch runs
    schema_version one row per applied schema version

Units are in column names (``_px``, ``_nm``, ``_nm2``); times are UTC. Pixel bounding boxes are
``(x0, y0, x1, y1)``: left, top, right, bottom, right/bottom exclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

#: ``extractions.uncertainty_png``: grey level 255 is this many nats of mutual information (ln 2,
#: the most two-class MC dropout can give); larger values are clipped.
UNCERTAINTY_MAX_NATS = 0.6931471805599453
#: ``extractions.uncertainty_png`` is shrunk to at most this many pixels on its long side.
UNCERTAINTY_MAX_SIDE_PX = 512

#: The schema version this code writes. Bump it and add a migration to MIGRATIONS when tables change.
SCHEMA_VERSION = 6

from ..materials import material_key
from ..status import STATUSES
from .records import settings_sha256


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones): stored as naive
    UTC, returned as aware UTC. Naive input is taken to be UTC already."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


#: JSON on every backend, JSONB (indexable) on PostgreSQL.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
#: 64-bit ids where tables can grow large; plain INTEGER on SQLite, where only it auto-increments.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()


def _bbox_columns(prefix: str = "") -> list[sa.Column]:
    return [sa.Column(f"{prefix}{side}_px", sa.Integer) for side in ("x0", "y0", "x1", "y1")]


def _result_keys() -> list[sa.Column]:
    """Columns tying a result row to its extraction (which it is deleted with) and its panel."""
    return [
        sa.Column("extraction_id", sa.Integer, sa.ForeignKey("extractions.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("panel_id", sa.Integer, sa.ForeignKey("panels.id", ondelete="CASCADE"), nullable=False, index=True),
    ]


schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("doi", sa.String(255), nullable=False, unique=True),
    sa.Column("title", sa.Text),
    sa.Column("journal", sa.Text),
    sa.Column("publisher", sa.Text),
    sa.Column("licence", sa.Text),
    sa.Column("source", sa.Text),  # where the article came from: a publisher API name, URL or file path
    sa.Column("fetched_at", UTCDateTime),
)

figures = sa.Table(
    "figures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), index=True),
    sa.Column("locator", sa.Text),  # the publisher's figure id, e.g. "gr1" or "fig2"
    sa.Column("label", sa.Text),  # as printed, e.g. "Fig. 2"
    sa.Column("caption", sa.Text),
    sa.Column("source", sa.Text),  # file path or URL of the figure image
    sa.Column("sha256", sa.String(64)),  # of the figure's pixels, see pixel_sha256
    sa.Column("microscopy_type", sa.String(32)),  # e.g. "TEM", "SEM", "HRTEM", "STEM"
    sa.Column("materials", JSONType),  # list of material names found in the caption
    sa.Column("is_em", sa.Boolean),
    # sha256 of the figure's natural key (see Database.save_figure): NULL article ids would let
    # duplicates past a unique constraint on the key's own columns, so the key is one column.
    sa.Column("natural_key", sa.String(64), nullable=False),
    sa.UniqueConstraint("article_id", "locator"),
    sa.Index("figures_natural_key", "natural_key", unique=True),
)

figure_materials = sa.Table(
    "figure_materials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("figure_id", sa.Integer, sa.ForeignKey("figures.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),  # as in figures.materials, e.g. "TiO2"
    sa.Column("key", sa.String(255), nullable=False, index=True),  # material_key(name), e.g. "tio2"
    sa.UniqueConstraint("figure_id", "name"),
)

panels = sa.Table(
    "panels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("figure_id", sa.Integer, sa.ForeignKey("figures.id", ondelete="CASCADE"), index=True),
    *_bbox_columns(),  # where the panel lies in its figure; NULL for a whole image
    sa.Column("label", sa.Text),  # panel label as printed, e.g. "a"
    sa.Column("is_micrograph", sa.Boolean, nullable=False),
    sa.Column("skip_reason", sa.Text),
    sa.Column("confidence", sa.Float),  # the splitter's confidence that the box is one printed panel (0-1)
    sa.Column("sha256", sa.String(64), nullable=False, index=True),  # of the pixels, see pixel_sha256
    sa.Column("width_px", sa.Integer, nullable=False),
    sa.Column("height_px", sa.Integer, nullable=False),
    sa.Column("natural_key", sa.String(64), nullable=False),  # sha256 of (figure_id, bbox, sha256), as for figures
    sa.Index("panels_natural_key", "natural_key", unique=True),
)

extractions = sa.Table(
    "extractions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("panel_id", sa.Integer, sa.ForeignKey("panels.id", ondelete="CASCADE"), nullable=False),
    sa.Column("settings_sha256", sa.String(64), nullable=False),  # see Provenance.settings_sha256
    sa.Column("source", sa.Text),  # file path or URL the image came from
    sa.Column("doi", sa.String(255)),
    sa.Column("figure_locator", sa.Text),
    sa.Column("panel_bbox_px", JSONType),  # [x0, y0, x1, y1] in figure pixels, or null
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("model_name", sa.Text),
    sa.Column("model_version", sa.Text),  # version string or sha256 of the weights
    sa.Column("tu", sa.Float),  # uncertainty threshold
    sa.Column("samples", sa.Integer),  # MC-dropout samples
    sa.Column("settings", JSONType, nullable=False),  # every other setting that changes the result
    sa.Column("software_version", sa.Text, nullable=False),
    sa.Column("extracted_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("n_particles", sa.Integer, nullable=False),
    # The panel's per-pixel uncertainty as an 8-bit grey PNG (0..255 = 0..ln 2 nats of mutual
    # information, see UNCERTAINTY_MAX_NATS), at most UNCERTAINTY_MAX_SIDE_PX on its long side; NULL
    # where the method gives none (baselines) or for rows older than version 4.
    sa.Column("uncertainty_png", sa.LargeBinary),
    # The panel labels blanked before segmentation: [[x0, y0, x1, y1], ...] in panel pixels ([] for
    # none); NULL where not recorded (no segmentation, rows older than version 4).
    sa.Column("masked_label_boxes", JSONType),
    sa.UniqueConstraint("panel_id", "settings_sha256"),
    sa.CheckConstraint(f"status IN {STATUSES!r}", name="extraction_status"),
)

scalebars = sa.Table(
    "scalebars",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_result_keys(),
    sa.Column("text", sa.Text),  # as read by OCR, e.g. "100 nm"
    sa.Column("value", sa.Float),  # 100
    sa.Column("unit", sa.String(16)),  # "nm"
    sa.Column("length_px", sa.Float),  # bar length in image pixels
    sa.Column("nm_per_px", sa.Float),
    *_bbox_columns(),  # of the bar and its text, in image pixels
    sa.Column("length_sd_px", sa.Float),  # standard uncertainty of length_px (its ends' sharpness); NULL before version 5
)

#: Particle measurements: (column, SQL type). DataFrame columns with these names are stored in
#: their own column; any other column goes into the ``extra`` JSON object of its row.
PARTICLE_COLUMNS: dict[str, sa.types.TypeEngine] = {
    "particle_id": sa.Integer(),  # instance label in the segmentation, 1..n
    "centroid_x_px": sa.Float(),
    "centroid_y_px": sa.Float(),
    "area_px": sa.Float(),
    "diameter_px": sa.Float(),  # equivalent-circle diameter
    "perimeter_px": sa.Float(),
    "feret_max_px": sa.Float(),
    "feret_min_px": sa.Float(),
    "ellipse_major_px": sa.Float(),  # axes of the ellipse with the same second moments
    "ellipse_minor_px": sa.Float(),
    "aspect_ratio_feret": sa.Float(),  # feret_max / feret_min
    "aspect_ratio_ellipse": sa.Float(),  # ellipse_major / ellipse_minor
    "orientation_deg": sa.Float(),  # of the ellipse's major axis
    "circularity": sa.Float(),  # 4 pi area / perimeter^2
    "solidity": sa.Float(),  # area / convex area
    "touches_border": sa.Boolean(),
    "mean_uncertainty": sa.Float(),  # mean per-pixel uncertainty inside the particle
    "diameter_sd_px": sa.Float(),  # spread (sd) of diameter_px over the MC-dropout samples; NULL without samples
    # The same lengths in nm: NULL when the image has no scale.
    "centroid_x_nm": sa.Float(),
    "centroid_y_nm": sa.Float(),
    "area_nm2": sa.Float(),
    "diameter_nm": sa.Float(),
    "diameter_sd_nm": sa.Float(),
    "perimeter_nm": sa.Float(),
    "feret_max_nm": sa.Float(),
    "feret_min_nm": sa.Float(),
    "ellipse_major_nm": sa.Float(),
    "ellipse_minor_nm": sa.Float(),
}

particles = sa.Table(
    "particles",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    *_result_keys(),
    *(sa.Column(name, type_, nullable=name != "particle_id") for name, type_ in PARTICLE_COLUMNS.items()),
    sa.Column("extra", JSONType),  # unknown DataFrame columns of this row, {name: value}
)

#: The distributions' interval columns (schema version 5).
INTERVAL_COLUMNS = [
    sa.Column("interval_level", sa.Float),
    sa.Column("mean_low", sa.Float),
    sa.Column("mean_high", sa.Float),
    sa.Column("median_low", sa.Float),
    sa.Column("median_high", sa.Float),
    sa.Column("counts_low", JSONType),
    sa.Column("counts_high", JSONType),
]
#: The relative systematic error of sizes of the method that segmented the panel, which the
#: intervals include (schema version 6; NULL for distributions it does not apply to and older rows).
SYSTEMATIC_COLUMN = sa.Column("systematic_rel_sd", sa.Float)

distributions = sa.Table(
    "distributions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_result_keys(),
    sa.Column("kind", sa.String(64), nullable=False),  # the measured quantity with its unit, e.g. "diameter_nm"
    sa.Column("bin_edges", JSONType, nullable=False),  # len(counts) + 1 floats, in the unit of kind
    sa.Column("counts", JSONType, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("mean", sa.Float),
    sa.Column("median", sa.Float),
    sa.Column("std", sa.Float),
    # Confidence intervals (see imagedataextractor.intervals), in the unit of kind; NULL
    # when not computed (rows older than version 5): the level (0.95), the mean's and median's
    # bounds, and each bin's count bounds (len(counts) floats).
    *INTERVAL_COLUMNS,
    SYSTEMATIC_COLUMN,
    sa.UniqueConstraint("extraction_id", "kind"),
)

rdfs = sa.Table(
    "rdfs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_result_keys(),
    sa.Column("radii", JSONType, nullable=False),  # shell centres, in unit
    sa.Column("g_r", JSONType, nullable=False),  # same length as radii; null where undefined
    sa.Column("unit", sa.String(16), nullable=False),  # "nm" or "px"
    sa.Column("dr", sa.Float),  # shell width, in unit
    sa.Column("n_points", sa.Integer),  # particles used
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job", sa.String(255), nullable=False),  # name of the batch, e.g. "harvest" or "extract"
    sa.Column("item", sa.Text, nullable=False),  # e.g. a DOI or a figure path
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("job", "item"),
    sa.CheckConstraint(f"status IN {STATUSES!r}", name="job_status"),
)

#: Tables holding data, in the order that keeps foreign keys satisfied (what export writes).
DATA_TABLES = ("articles", "figures", "figure_materials", "panels", "extractions", "scalebars", "particles", "distributions", "rdfs", "jobs")
#: Tables whose rows belong to one extraction and are replaced when it is saved again.
RESULT_TABLES = (scalebars, particles, distributions, rdfs)



def figure_key(doi: str | None, locator: str | None, source: str | None, sha256: str | None) -> str:
    """``figures.natural_key``: sha256 of (normalised doi, locator) for an article's figure, else of
    (source, pixel sha256): the canonical path of a file on its own and its content."""
    if doi is not None:
        return settings_sha256({"doi": doi, "locator": locator})
    return settings_sha256({"source": source, "sha256": sha256})


def panel_key(figure: str | None, bbox: Sequence[int | None], sha256: str) -> str:
    """``panels.natural_key``: sha256 of (its figure's natural key or None, bbox (x0, y0, x1, y1)
    px or Nones, pixel sha256); made of natural keys only, so equal in every database."""
    return settings_sha256({"figure": figure, "bbox": list(bbox), "sha256": sha256})


def _merge_duplicate_figures(conn: sa.Connection) -> None:
    """Give every figure its natural key; of figures with the same key keep the first, moving the
    others' panels to it."""
    rows = conn.execute(
        sa.select(figures.c.id, articles.c.doi, figures.c.locator, figures.c.source, figures.c.sha256)
        .select_from(figures.outerjoin(articles, figures.c.article_id == articles.c.id))
        .order_by(figures.c.id)
    ).all()
    keeper: dict[str, int] = {}
    for figure_id, doi, locator, source, sha256 in rows:
        key = figure_key(doi, locator, source, sha256)
        if key in keeper:
            conn.execute(panels.update().where(panels.c.figure_id == figure_id).values(figure_id=keeper[key]))
            conn.execute(figures.delete().where(figures.c.id == figure_id))
        else:
            keeper[key] = figure_id
            conn.execute(figures.update().where(figures.c.id == figure_id).values(natural_key=key))


def _merge_duplicate_panels(conn: sa.Connection) -> None:
    """Give every panel its natural key; of panels with the same key keep the first, and of their
    extractions with the same settings the last written (with its results), moved to that panel."""
    bbox = [panels.c[f"{side}_px"] for side in ("x0", "y0", "x1", "y1")]
    query = sa.select(panels.c.id, figures.c.natural_key, panels.c.sha256, *bbox).select_from(panels.outerjoin(figures, panels.c.figure_id == figures.c.id))
    groups: dict[str, list[int]] = {}
    for row in conn.execute(query.order_by(panels.c.id)):
        groups.setdefault(panel_key(row[1], tuple(row[3:7]), row[2]), []).append(row[0])
    for key, group in groups.items():
        kept, duplicates = group[0], group[1:]
        conn.execute(panels.update().where(panels.c.id == kept).values(natural_key=key))
        if not duplicates:
            continue
        latest: dict[str, int] = {}
        for extraction_id, settings in conn.execute(
            sa.select(extractions.c.id, extractions.c.settings_sha256).where(extractions.c.panel_id.in_(group)).order_by(extractions.c.id)
        ):
            latest[settings] = extraction_id
        stale = extractions.c.panel_id.in_(group) & extractions.c.id.not_in(list(latest.values()))
        stale_ids = [row[0] for row in conn.execute(sa.select(extractions.c.id).where(stale))]
        for table in RESULT_TABLES:  # not left to ON DELETE CASCADE: SQLite enforces it only when asked
            conn.execute(table.delete().where(table.c.extraction_id.in_(stale_ids)))
        conn.execute(extractions.delete().where(extractions.c.id.in_(stale_ids)))
        conn.execute(extractions.update().where(extractions.c.id.in_(list(latest.values()))).values(panel_id=kept))
        for table in RESULT_TABLES:
            conn.execute(table.update().where(table.c.extraction_id.in_(list(latest.values()))).values(panel_id=kept))
        conn.execute(panels.delete().where(panels.c.id.in_(duplicates)))


def _add_natural_keys(conn: sa.Connection) -> None:
    """Version 2: unique natural keys of figures and panels, after merging the duplicates that
    concurrent writers of version 1 could leave (its upserts read, then inserted)."""
    for table in (figures, panels):
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN natural_key VARCHAR(64)"))
    _merge_duplicate_figures(conn)
    _merge_duplicate_panels(conn)
    for table in (figures, panels):
        if conn.dialect.name == "postgresql":  # SQLite cannot add NOT NULL to a column; every row has a key now
            conn.execute(sa.text(f"ALTER TABLE {table.name} ALTER COLUMN natural_key SET NOT NULL"))
        for index in table.indexes:
            if index.name == f"{table.name}_natural_key":
                index.create(conn)


def _add_panel_confidence(conn: sa.Connection) -> None:
    """Version 3: ``panels.confidence``, the splitter's confidence per panel (NULL for older rows)."""
    conn.execute(sa.text("ALTER TABLE panels ADD COLUMN confidence FLOAT"))


def _add_uncertainty_and_masked_labels(conn: sa.Connection) -> None:
    """Version 4: ``extractions.uncertainty_png`` and ``extractions.masked_label_boxes`` (NULL for older rows)."""
    for name in ("uncertainty_png", "masked_label_boxes"):
        column_type = extractions.c[name].type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE extractions ADD COLUMN {name} {column_type}"))


def material_rows(figure_id: int, materials: Sequence[str]) -> list[dict]:
    """``figure_materials`` rows of a figure naming ``materials`` (duplicates once)."""
    return [{"figure_id": figure_id, "name": name, "key": material_key(name)} for name in dict.fromkeys(materials)]


def _add_intervals(conn: sa.Connection) -> None:
    """Version 5: confidence intervals of distributions, the scalebar's length uncertainty and the
    particles' MC-dropout diameter spread (all NULL for older rows), and ``figure_materials``
    filled from ``figures.materials``."""
    figure_materials.create(conn)
    for figure_id, materials in conn.execute(sa.select(figures.c.id, figures.c.materials).where(figures.c.materials.is_not(None))).all():
        if materials:
            conn.execute(figure_materials.insert(), material_rows(figure_id, materials))
    added = [(distributions, [c.name for c in INTERVAL_COLUMNS]), (scalebars, ["length_sd_px"]), (particles, ["diameter_sd_px", "diameter_sd_nm"])]
    for table, names in added:
        for name in names:
            column_type = table.c[name].type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {column_type}"))


def _add_systematic_error(conn: sa.Connection) -> None:
    """Version 6: ``distributions.systematic_rel_sd``, the segmentation method's systematic error in
    the intervals (NULL for older rows, whose intervals have no such term)."""
    column_type = SYSTEMATIC_COLUMN.type.compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE {distributions.name} ADD COLUMN {SYSTEMATIC_COLUMN.name} {column_type}"))


#: Upgrades from version - 1 to version: {version: (description, function(connection))}. A fresh
#: database gets the current tables at once and every version recorded; older ones are upgraded.
MIGRATIONS: dict[int, tuple[str, Callable[[sa.Connection], None]]] = {
    2: ("unique natural keys of figures and panels (duplicates merged)", _add_natural_keys),
    3: ("panels.confidence: the splitter's confidence per panel", _add_panel_confidence),
    4: ("extractions.uncertainty_png and masked_label_boxes: the uncertainty map and the masked panel labels", _add_uncertainty_and_masked_labels),
    5: ("distribution confidence intervals, scalebars.length_sd_px, particles.diameter_sd_px/_nm, figure_materials", _add_intervals),
    6: ("distributions.systematic_rel_sd: the segmentation method's systematic error in the intervals", _add_systematic_error),
}
BASELINE_DESCRIPTION = "articles, figures, panels, extractions, scalebars, particles, distributions, rdfs, jobs"
