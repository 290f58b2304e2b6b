"""The database schema (SQLAlchemy Core), its version, and the migrations between versions.

Tables and keys::

    articles      one per DOI (DOIs are stored normalised: lower case, no https://doi.org/ prefix)
    figures       one per (article, locator), or per source path/URL for figures without an article
    panels        one micrograph or other panel: (figure, bbox, pixel sha256); the "image" that
                  extractions, scalebars, particles, distributions and rdfs refer to
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

from collections.abc import Callable
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

#: The schema version this code writes. Bump it and add a migration to MIGRATIONS when tables change.
SCHEMA_VERSION = 1

from ..status import STATUSES


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
    sa.UniqueConstraint("article_id", "locator"),
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
    sa.Column("sha256", sa.String(64), nullable=False, index=True),  # of the pixels, see pixel_sha256
    sa.Column("width_px", sa.Integer, nullable=False),
    sa.Column("height_px", sa.Integer, nullable=False),
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
    # The same lengths in nm: NULL when the image has no scale.
    "centroid_x_nm": sa.Float(),
    "centroid_y_nm": sa.Float(),
    "area_nm2": sa.Float(),
    "diameter_nm": sa.Float(),
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
DATA_TABLES = ("articles", "figures", "panels", "extractions", "scalebars", "particles", "distributions", "rdfs", "jobs")
#: Tables whose rows belong to one extraction and are replaced when it is saved again.
RESULT_TABLES = (scalebars, particles, distributions, rdfs)

#: Upgrades from version - 1 to version: {version: (description, function(connection))}. A fresh
#: database gets the current tables at once and every version recorded; older ones are upgraded.
MIGRATIONS: dict[int, tuple[str, Callable[[sa.Connection], None]]] = {}
BASELINE_DESCRIPTION = "articles, figures, panels, extractions, scalebars, particles, distributions, rdfs, jobs"
