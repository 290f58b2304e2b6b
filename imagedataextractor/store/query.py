"""Questions across papers: particles, panels or a pooled size distribution selected by material,
microscopy technique, article and particle count, with their provenance and intervals."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import sqlalchemy as sa

from ..materials import material_key
from ..intervals import IntervalConfig, distribution_interval, scale_relative_sd
from . import schema
from .database import Database, StoreError, open_db, stored_doi

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

QueryLevel = Literal["particles", "panels", "pooled"]
#: Bootstrap replicates of a pooled distribution's intervals (a panel's have IntervalConfig's 2000).
POOLED_RESAMPLES = 1000
LEVELS: tuple[QueryLevel, ...] = ("particles", "panels", "pooled")

#: Provenance columns of every panel and particle row: (output name, column).
_PROVENANCE = (
    ("doi", schema.articles.c.doi),
    ("article_title", schema.articles.c.title),
    ("journal", schema.articles.c.journal),
    ("figure_id", schema.figures.c.id),
    ("figure_locator", schema.figures.c.locator),
    ("figure_label", schema.figures.c.label),
    ("figure_source", schema.figures.c.source),
    ("microscopy_type", schema.figures.c.microscopy_type),
    ("materials", schema.figures.c.materials),
    ("caption", schema.figures.c.caption),
    ("panel_id", schema.panels.c.id),
    ("panel_label", schema.panels.c.label),
    *((f"panel_{side}_px", schema.panels.c[f"{side}_px"]) for side in ("x0", "y0", "x1", "y1")),
    ("extraction_id", schema.extractions.c.id),
    ("method", schema.extractions.c.method),
    ("model_name", schema.extractions.c.model_name),
    ("extracted_at", schema.extractions.c.extracted_at),
    ("n_particles", schema.extractions.c.n_particles),
    ("scalebar_text", schema.scalebars.c.text),
    ("nm_per_px", schema.scalebars.c.nm_per_px),
    ("scalebar_length_px", schema.scalebars.c.length_px),
    ("scalebar_length_sd_px", schema.scalebars.c.length_sd_px),
)
#: The panel's size distribution (its diameter histogram in nm or px) and its intervals.
_DISTRIBUTION = (
    ("size_kind", schema.distributions.c.kind),
    ("size_n", schema.distributions.c.n),
    ("size_mean", schema.distributions.c.mean),
    ("size_median", schema.distributions.c.median),
    ("size_std", schema.distributions.c.std),
    ("interval_level", schema.distributions.c.interval_level),
    ("size_mean_low", schema.distributions.c.mean_low),
    ("size_mean_high", schema.distributions.c.mean_high),
    ("size_median_low", schema.distributions.c.median_low),
    ("size_median_high", schema.distributions.c.median_high),
    ("size_systematic_rel_sd", schema.distributions.c.systematic_rel_sd),
)
_HISTOGRAM = (
    ("bin_edges", schema.distributions.c.bin_edges),
    ("counts", schema.distributions.c.counts),
    ("counts_low", schema.distributions.c.counts_low),
    ("counts_high", schema.distributions.c.counts_high),
)
#: Particle columns of particle rows (their own spread over MC samples included).
_PARTICLE = tuple((name, schema.particles.c[name]) for name in schema.PARTICLE_COLUMNS)


def _panel_join() -> sa.FromClause:
    """Extractions with their panel, figure, article, scalebar and size distribution (outer joins:
    an image on its own has no figure article, a panel without a scale no scalebar)."""
    size_kinds = schema.distributions.c.kind.in_(("diameter_nm", "diameter_px"))
    return (
        schema.extractions.join(schema.panels, schema.extractions.c.panel_id == schema.panels.c.id)
        .outerjoin(schema.figures, schema.panels.c.figure_id == schema.figures.c.id)
        .outerjoin(schema.articles, schema.figures.c.article_id == schema.articles.c.id)
        .outerjoin(schema.scalebars, schema.scalebars.c.extraction_id == schema.extractions.c.id)
        .outerjoin(schema.distributions, (schema.distributions.c.extraction_id == schema.extractions.c.id) & size_kinds)
    )


def _conditions(material: str | None, microscopy: str | None, doi: str | None, min_particles: int | None) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [schema.extractions.c.status == "done"]
    if material is not None:
        key = material_key(material)
        if not key:
            raise StoreError(f"material {material!r}: empty after normalisation")
        named = sa.select(schema.figure_materials.c.figure_id).where(schema.figure_materials.c.key == key)
        conditions.append(schema.figures.c.id.in_(named))
    if microscopy is not None:
        # microscopy_type holds techniques space-separated ("TEM SAED"): match a whole word.
        padded = sa.literal(" ") + sa.func.upper(schema.figures.c.microscopy_type) + sa.literal(" ")
        conditions.append(padded.like(f"% {microscopy.strip().upper()} %"))
    if doi is not None:
        conditions.append(schema.articles.c.doi == stored_doi(doi))
    if min_particles is not None:
        conditions.append(schema.extractions.c.n_particles >= int(min_particles))
    return conditions


def _frame(conn: sa.Connection, statement: sa.Select) -> pd.DataFrame:
    import pandas as pd

    result = conn.execute(statement)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    if "extracted_at" in frame:
        frame["extracted_at"] = pd.to_datetime(frame["extracted_at"], utc=True)
    return frame


def query(
    db: Database | str | Path,
    *,
    material: str | None = None,
    microscopy: str | None = None,
    doi: str | None = None,
    min_particles: int | None = None,
    level: QueryLevel = "particles",
    intervals: IntervalConfig = IntervalConfig(n_resamples=POOLED_RESAMPLES),
) -> pd.DataFrame:
    """Particles, panels or the pooled size distribution of the panels that match every filter given.

    Parameters
    ----------
    db : an open :class:`Database`, or a path/URL to open (it must exist).
    material : a material the figure's caption names, matched by
        :func:`~imagedataextractor.materials.material_key` ("gold", "Au" and "AU NPs" match "Au";
        "TiO₂" and "titania" match "TiO2"). The ``materials`` column keeps the stored names and
        ``caption`` the caption's own text.
    microscopy : a technique the caption names ("TEM", "SEM", "HRTEM"...), case-insensitive.
    doi : the article (any DOI spelling :func:`~imagedataextractor.doi.normalise_doi` accepts).
    min_particles : panels with at least this many particles (``extractions.n_particles``).
    level : "particles": one row per particle (its ``PARTICLE_COLUMNS``, ``diameter_sd_*`` being
        its spread over MC-dropout samples) with its panel's provenance and size interval; "panels":
        one row per panel extraction with provenance, scalebar and its size distribution with
        intervals (``bin_edges``, ``counts``, ``counts_low``, ``counts_high``); "pooled": one row
        per size unit ("diameter_nm"; panels without a scale pool apart as "diameter_px"): the
        distribution of all matching panels' particles not touching the border, latest extraction
        per panel, with intervals from :func:`~imagedataextractor.intervals.distribution_interval`
        (particles resampled within their panel, each panel's scale error drawn once per replicate,
        the methods' systematic errors by one draw per replicate shared by all panels;
        ``size_systematic_rel_sd`` the largest panel's s, 0 for rows stored before schema 6).
    intervals : the pooled intervals' settings (default :data:`POOLED_RESAMPLES` replicates: a pooled
        set can hold many thousands of particles, each replicate drawing all of them).

    Returns
    -------
    pandas.DataFrame
        Lengths in the unit their column names say (``_nm``, ``_px``); ``size_*`` columns in the unit
        of ``size_kind``. Empty (with its columns) when nothing matches.

    Example
    -------
    >>> query("ide.sqlite", material="gold", microscopy="TEM", level="pooled")  # doctest: +SKIP
    """
    if level not in LEVELS:
        raise StoreError(f"query level {level!r}: expected one of {', '.join(LEVELS)}")
    if not isinstance(db, Database):
        with open_db(db, create=False) as opened:
            return query(opened, material=material, microscopy=microscopy, doi=doi, min_particles=min_particles, level=level, intervals=intervals)
    conditions = _conditions(material, microscopy, doi, min_particles)
    panel_columns = [column.label(name) for name, column in (*_PROVENANCE, *_DISTRIBUTION)]
    with db.engine.connect() as conn:
        if level == "panels":
            statement = sa.select(*panel_columns, *(column.label(name) for name, column in _HISTOGRAM)).select_from(_panel_join())
            return _frame(conn, statement.where(*conditions).order_by(schema.extractions.c.id))
        if level == "particles":
            joined = _panel_join().join(schema.particles, schema.particles.c.extraction_id == schema.extractions.c.id)
            statement = sa.select(*panel_columns, *(column.label(name) for name, column in _PARTICLE)).select_from(joined)
            return _frame(conn, statement.where(*conditions).order_by(schema.extractions.c.id, schema.particles.c.particle_id))
        return _pooled(conn, conditions, intervals)


def _pooled(conn: sa.Connection, conditions: list[sa.ColumnElement[bool]], config: IntervalConfig) -> pd.DataFrame:
    """One row per size unit: the pooled distribution of the latest extraction of each matching panel."""
    import pandas as pd

    panels = _frame(conn, sa.select(*(column.label(name) for name, column in _PROVENANCE),
                                    schema.distributions.c.systematic_rel_sd.label("systematic_rel_sd")).select_from(_panel_join()).where(*conditions))
    panels = panels.sort_values("extracted_at").drop_duplicates("panel_id", keep="last")
    particles = _frame(conn, sa.select(
        schema.particles.c.extraction_id, schema.particles.c.diameter_px, schema.particles.c.diameter_nm,
        schema.particles.c.diameter_sd_px, schema.particles.c.diameter_sd_nm,
    ).where(schema.particles.c.extraction_id.in_(sa.select(schema.extractions.c.id).select_from(_panel_join()).where(*conditions)),
            schema.particles.c.touches_border.is_not(True)))
    particles = particles.merge(panels[["extraction_id", "doi", "nm_per_px", "scalebar_length_px", "scalebar_length_sd_px", "systematic_rel_sd"]],
                                on="extraction_id")
    rows = []
    for unit, scaled in (("nm", particles["nm_per_px"].notna()), ("px", particles["nm_per_px"].isna())):
        chosen = particles[scaled & particles[f"diameter_{unit}"].notna()]
        if chosen.empty:
            continue
        values = chosen[f"diameter_{unit}"].to_numpy(np.float64)
        groups, panel_ids = pd.factorize(chosen["extraction_id"])
        firsts = chosen.groupby("extraction_id", sort=False).first().loc[panel_ids]
        relative = [scale_relative_sd(length, sd) if unit == "nm" else 0.0
                    for length, sd in zip(firsts["scalebar_length_px"], firsts["scalebar_length_sd_px"])]
        systematic = firsts["systematic_rel_sd"].astype(np.float64).fillna(0.0).to_numpy()  # rows before schema 6: no term
        counts, edges = np.histogram(values, bins="auto")
        ci = distribution_interval(values, bin_edges=edges, value_sd=chosen[f"diameter_sd_{unit}"].to_numpy(np.float64),
                                   groups=groups, scale_rel_sd=np.asarray([0.0 if np.isnan(r) else r for r in relative]),
                                   systematic_rel_sd=systematic, config=config)
        rows.append({
            "size_kind": f"diameter_{unit}", "n_panels": len(panel_ids), "n_articles": int(chosen["doi"].nunique()),
            "dois": sorted(str(d) for d in chosen["doi"].dropna().unique()),
            "size_n": int(values.size), "size_mean": float(values.mean()), "size_median": float(np.median(values)),
            "size_std": float(values.std(ddof=1)) if values.size > 1 else None,
            "interval_level": ci.level, "size_mean_low": ci.mean_low, "size_mean_high": ci.mean_high,
            "size_median_low": ci.median_low, "size_median_high": ci.median_high, "size_systematic_rel_sd": ci.systematic_rel_sd,
            "bin_edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "counts_low": [float(c) for c in ci.counts_low], "counts_high": [float(c) for c in ci.counts_high],
        })
    columns = ["size_kind", "n_panels", "n_articles", "dois", "size_n", "size_mean", "size_median", "size_std", "interval_level",
               "size_mean_low", "size_mean_high", "size_median_low", "size_median_high", "size_systematic_rel_sd",
               "bin_edges", "counts", "counts_low", "counts_high"]
    return pd.DataFrame(rows, columns=columns)
