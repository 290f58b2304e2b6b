"""Read a results database into the report's model: articles (or stand-alone figures) with their
figures, panels and extractions, and the failed and skipped items of the batch jobs.

Reads the tables of :mod:`imagedataextractor.store.schema` with SQLAlchemy queries; writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..store import schema

if TYPE_CHECKING:
    import pandas as pd

    from ..store import Database


@dataclass
class Extraction:
    """One extraction of a panel (one row of ``extractions``) with its results: ``particles``
    (DataFrame, PARTICLE_COLUMNS), ``distributions`` {kind: row dict with bin_edges, counts, n,
    mean, std}, ``rdf`` (row dict with radii, g_r, unit, dr, n_points, or None), ``scalebar``
    (row dict, or None)."""

    row: dict[str, Any]
    particles: pd.DataFrame
    distributions: dict[str, dict[str, Any]]
    rdf: dict[str, Any] | None
    scalebar: dict[str, Any] | None

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def status(self) -> str:
        return str(self.row["status"])

    @property
    def stamp(self) -> str:
        """Changes when the extraction is rerun: part of its plot file names, so a rerun report
        redraws exactly the plots whose rows changed."""
        extracted_at: datetime = self.row["extracted_at"]
        return f"{self.id}-{int(extracted_at.timestamp() * 1000)}"


@dataclass
class Panel:
    row: dict[str, Any]
    extractions: list[Extraction] = field(default_factory=list)

    @property
    def bbox(self) -> tuple[int, int, int, int] | None:
        values = [self.row[f"{side}_px"] for side in ("x0", "y0", "x1", "y1")]
        return None if None in values else tuple(int(v) for v in values)  # type: ignore[return-value]


@dataclass
class Figure:
    row: dict[str, Any]
    panels: list[Panel] = field(default_factory=list)
    #: why the figure was skipped or failed as a whole (from ``jobs``), e.g. "caption names no electron microscopy"
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def materials(self) -> list[str]:
        return list(self.row["materials"] or [])


@dataclass
class Group:
    """What one report page shows: an article with its figures, or one figure without an article
    (an image file given to ``ide extract``). ``notes``: (status, reason) of the article's job."""

    key: str
    article: dict[str, Any] | None
    figures: list[Figure] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def materials(self) -> list[str]:
        return sorted({m for figure in self.figures for m in figure.materials})

    @property
    def microscopy(self) -> list[str]:
        return sorted({f.row["microscopy_type"] for f in self.figures if f.row["microscopy_type"]})

    @property
    def extractions(self) -> list[Extraction]:
        return [e for figure in self.figures for panel in figure.panels for e in panel.extractions]

    @property
    def statuses(self) -> list[str]:
        found = {e.status for e in self.extractions} | {status for status, _ in self.notes}
        found |= {status for figure in self.figures for status, _ in figure.notes}
        for figure in self.figures:
            found |= {"skipped" for panel in figure.panels if not panel.row["is_micrograph"]}
        return sorted(found)


@dataclass
class JobItem:
    """A failed or skipped batch item that has no article or figure row (e.g. an article that
    could not be harvested, an unreadable image file)."""

    job: str
    item: str
    status: str
    reason: str | None


@dataclass
class ReportData:
    groups: list[Group]
    job_items: list[JobItem]


def _rows(conn: sa.Connection, query: sa.Select) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(query)]


def load(db: Database) -> ReportData:
    """Everything the report shows, in four passes over the tables (not one query per panel)."""
    import pandas as pd

    with db.engine.connect() as conn:
        articles = _rows(conn, sa.select(schema.articles).order_by(schema.articles.c.id))
        figures = _rows(conn, sa.select(schema.figures).order_by(schema.figures.c.id))
        panels = _rows(conn, sa.select(schema.panels).order_by(schema.panels.c.id))
        extractions = _rows(conn, sa.select(schema.extractions).order_by(schema.extractions.c.id))
        scalebars = {r["extraction_id"]: r for r in _rows(conn, sa.select(schema.scalebars))}
        rdfs = {r["extraction_id"]: r for r in _rows(conn, sa.select(schema.rdfs))}
        distributions: dict[int, dict[str, dict]] = defaultdict(dict)
        for row in _rows(conn, sa.select(schema.distributions)):
            distributions[row["extraction_id"]][row["kind"]] = row
        particle_columns = [schema.particles.c.extraction_id, *(schema.particles.c[name] for name in schema.PARTICLE_COLUMNS)]
        result = conn.execute(sa.select(*particle_columns).order_by(schema.particles.c.extraction_id, schema.particles.c.particle_id))
        particles = pd.DataFrame(result.all(), columns=list(result.keys()))
        jobs = _rows(conn, sa.select(schema.jobs).where(schema.jobs.c.status != "done").order_by(schema.jobs.c.id))

    empty = particles.iloc[0:0].drop(columns="extraction_id")
    by_extraction = {int(key): frame.drop(columns="extraction_id").reset_index(drop=True) for key, frame in particles.groupby("extraction_id")}
    panel_objects = {row["id"]: Panel(row) for row in panels}
    for row in extractions:
        key = row["id"]
        panel_objects[row["panel_id"]].extractions.append(
            Extraction(row, by_extraction.get(key, empty), distributions.get(key, {}), rdfs.get(key), scalebars.get(key))
        )
    figure_objects = {row["id"]: Figure(row) for row in figures}
    for panel in panel_objects.values():
        if panel.row["figure_id"] in figure_objects:
            figure_objects[panel.row["figure_id"]].panels.append(panel)
    groups = {f"article-{row['id']}": Group(f"article-{row['id']}", row) for row in articles}
    for figure in figure_objects.values():
        article_id = figure.row["article_id"]
        if article_id is None:
            groups[f"figure-{figure.row['id']}"] = Group(f"figure-{figure.row['id']}", None, [figure])
        else:
            groups[f"article-{article_id}"].figures.append(figure)

    # Attach each failed or skipped job item to its article or figure; the rest are listed alone.
    by_doi = {g.article["doi"]: g for g in groups.values() if g.article is not None}
    by_locator = {(g.article["doi"], f.row["locator"]): f for g in groups.values() if g.article is not None for f in g.figures}
    by_source = {f.row["source"]: f for g in groups.values() for f in g.figures if f.row["source"]}
    job_items: dict[tuple[str, str, str | None], JobItem] = {}
    for job in jobs:
        item, note = job["item"], (job["status"], job["reason"] or "")
        doi, _, locator = item.partition(" ")
        if item in by_doi:
            by_doi[item].notes.append(note)
        elif (doi, locator) in by_locator:
            by_locator[doi, locator].notes.append(note)
        elif item in by_source:
            by_source[item].notes.append(note)
        else:
            job_items.setdefault((item, job["status"], job["reason"]), JobItem(job["job"], item, job["status"], job["reason"]))
    for group in groups.values():
        group.notes = sorted(set(group.notes))
        for figure in group.figures:
            figure.notes = sorted(set(figure.notes))
    return ReportData(list(groups.values()), list(job_items.values()))
