"""Upgrading a version-1 database, built here as version 1 wrote it, duplicates included."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import sqlalchemy as sa

from imagedataextractor.store import SCHEMA_VERSION, DistributionRecord, FigureRecord, ImageRecord, Provenance, ScalebarRecord, open_db, schema


#: Columns added by version 5, per table.
VERSION_5_COLUMNS = {
    "distributions": ["interval_level", "mean_low", "mean_high", "median_low", "median_high", "counts_low", "counts_high"],
    "scalebars": ["length_sd_px"],
    "particles": ["diameter_sd_px", "diameter_sd_nm"],
}
#: Column added by version 6.
VERSION_6_COLUMN = ("distributions", "systematic_rel_sd")


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1) if "://" in url else f"sqlite:///{url}")


def _drop_version_6_column(conn: sa.Connection) -> None:
    conn.execute(sa.text(f"ALTER TABLE {VERSION_6_COLUMN[0]} DROP COLUMN {VERSION_6_COLUMN[1]}"))


def _drop_version_5_columns(conn: sa.Connection) -> None:
    """Back to version 4: the columns of versions 5 and 6 dropped."""
    _drop_version_6_column(conn)
    conn.execute(sa.text("DROP TABLE figure_materials"))
    for table, columns in VERSION_5_COLUMNS.items():
        for column in columns:
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def _version_1_database(url: str) -> None:
    """The version-1 schema (no natural keys) holding what concurrent version-1 writers left:
    a stand-alone figure twice, a panel of it under each copy, an article's panel twice, each
    panel with an extraction of the same settings (the later ones with 3 particles, not 2)."""
    open_db(url).close()
    engine = _engine(url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        for table in ("figures", "panels"):
            conn.execute(sa.text(f"DROP INDEX {table}_natural_key"))
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN natural_key"))
        _drop_version_5_columns(conn)
        conn.execute(sa.text("ALTER TABLE panels DROP COLUMN confidence"))  # added by version 3
        for column in ("uncertainty_png", "masked_label_boxes"):  # added by version 4
            conn.execute(sa.text(f"ALTER TABLE extractions DROP COLUMN {column}"))
        conn.execute(sa.delete(schema.schema_version).where(schema.schema_version.c.version > 1))
        article = conn.execute(sa.insert(schema.articles).values(doi="10.1000/a").returning(schema.articles.c.id)).scalar_one()
        figure_ids = [
            conn.execute(sa.insert(schema.figures).values(**values).returning(schema.figures.c.id)).scalar_one()
            for values in ({"source": "/data/x.png", "sha256": "f" * 64}, {"source": "/data/x.png", "sha256": "f" * 64},
                           {"article_id": article, "locator": "gr1"})
        ]
        panel = {"x0_px": 0, "y0_px": 0, "x1_px": 10, "y1_px": 10, "sha256": "p" * 64, "is_micrograph": True, "width_px": 10, "height_px": 10}
        conn.execute(sa.insert(schema.panels), [{**panel, "figure_id": f} for f in (figure_ids[0], figure_ids[1], figure_ids[2], figure_ids[2])])
        panels = conn.execute(sa.select(schema.panels.c.id).order_by(schema.panels.c.id)).scalars().all()
        for n_particles, panel_ids in ((2, panels[::2]), (3, panels[1::2])):  # one extraction per panel; the later ones have 3 particles
            for panel_id in panel_ids:
                extraction = conn.execute(sa.insert(schema.extractions).values(
                    panel_id=panel_id, settings_sha256="s" * 64, method="watershed", settings={}, software_version="0",
                    extracted_at=now, status="done", n_particles=n_particles).returning(schema.extractions.c.id)).scalar_one()
                conn.execute(sa.insert(schema.particles), [{"extraction_id": extraction, "panel_id": panel_id, "particle_id": i + 1} for i in range(n_particles)])
    engine.dispose()


def test_migration_merges_duplicates_then_adds_unique_keys(db_url: str) -> None:
    _version_1_database(db_url)
    with open_db(db_url) as db:
        assert db.schema_version == SCHEMA_VERSION == 6
        counts = db.counts()
        assert (counts["articles"], counts["figures"], counts["panels"], counts["extractions"]) == (1, 2, 2, 2)
        assert counts["particles"] == 6  # the later extraction (3 particles) of each panel kept
        extractions = db.read_table("extractions")
        assert extractions["n_particles"].tolist() == [3, 3]
        particles = db.read_table("particles")
        assert set(particles["panel_id"]) == set(db.read_table("panels")["id"]) == set(extractions["panel_id"])
        assert db.read_table("figures")["natural_key"].notna().all() and db.read_table("panels")["natural_key"].is_unique
        assert db.read_table("panels")["confidence"].isna().all()  # version 3: unknown for panels split before it
        # the keys now hold: writing the stand-alone figure again updates, it does not add
        db.upsert_figure(source="/data/x.png", sha256="f" * 64, is_em=True)
        assert db.counts()["figures"] == 2


def test_migration_to_version_5_adds_empty_interval_columns_that_new_results_fill(db_url: str) -> None:
    """A version-4 database with a figure naming materials and a distribution, a scalebar and
    particles: version 5 adds their interval and uncertainty columns as NULL, indexes the figure's
    materials by key, and a result saved afterwards fills the columns."""
    with open_db(db_url) as db:
        db.save_figure(FigureRecord(source="/data/a.png", materials=["Au", "TiO2"]), [image_record(intervals=False)])
    engine = _engine(db_url)
    with engine.begin() as conn:
        _drop_version_5_columns(conn)
        conn.execute(sa.delete(schema.schema_version).where(schema.schema_version.c.version >= 5))
    engine.dispose()
    with open_db(db_url) as db:
        assert db.schema_version == 6
        distributions = db.read_table("distributions")
        assert len(distributions) == 1 and distributions[VERSION_5_COLUMNS["distributions"]].isna().all().all()
        assert db.read_table("scalebars")["length_sd_px"].isna().all()
        assert db.read_table("particles")[VERSION_5_COLUMNS["particles"]].isna().all().all()
        assert sorted(zip(db.read_table("figure_materials")["name"], db.read_table("figure_materials")["key"])) == [("Au", "au"), ("TiO2", "tio2")]
        db.save_figure(FigureRecord(source="/data/a.png", materials=["Au", "TiO2"]), [image_record(intervals=True)])
        assert db.counts()["distributions"] == 1  # the same panel's result, replaced
        row = db.read_table("distributions").iloc[0]
        assert (row["interval_level"], row["mean_low"], row["mean_high"]) == (0.95, 9.0, 11.0)
        assert row["counts_low"] == [0.0, 1.0] and row["counts_high"] == [2.0, 3.0]
        assert db.read_table("scalebars")["length_sd_px"].tolist() == [0.4]
        assert db.read_table("particles")["diameter_sd_nm"].tolist() == [0.5, 0.25]


def test_migration_to_version_6_adds_the_systematic_error_column(db_url: str) -> None:
    """A version-5 database with a distribution: version 6 adds its ``systematic_rel_sd`` as NULL
    (its intervals had no such term), which the pooled query reads as 0; a result saved afterwards
    fills it, and the panel query returns it."""
    from imagedataextractor.store import query

    with open_db(db_url) as db:
        db.save_figure(FigureRecord(source="/data/a.png", materials=["Au"]), [image_record(intervals=True)])
    engine = _engine(db_url)
    with engine.begin() as conn:
        _drop_version_6_column(conn)
        conn.execute(sa.delete(schema.schema_version).where(schema.schema_version.c.version == 6))
    engine.dispose()
    with open_db(db_url) as db:
        assert db.schema_version == 6
        assert db.read_table("distributions")["systematic_rel_sd"].isna().all()
        assert query(db, material="Au", level="pooled")["size_systematic_rel_sd"].tolist() == [0.0]
        db.save_figure(FigureRecord(source="/data/a.png", materials=["Au"]), [image_record(intervals=True, systematic_rel_sd=0.1)])
        assert db.read_table("distributions")["systematic_rel_sd"].tolist() == [0.1]
        assert query(db, material="Au", level="panels")["size_systematic_rel_sd"].tolist() == [0.1]
        assert query(db, material="Au", level="pooled")["size_systematic_rel_sd"].tolist() == [0.1]


def image_record(*, intervals: bool, systematic_rel_sd: float | None = None) -> ImageRecord:
    """A panel with two particles, a scalebar and a size distribution, with the version-5 values or
    without, and the version-6 ``systematic_rel_sd``."""
    particles = pd.DataFrame({"particle_id": [1, 2], "diameter_nm": [9.0, 11.0]} | ({"diameter_sd_nm": [0.5, 0.25]} if intervals else {}))
    bounds = {"interval_level": 0.95, "mean_low": 9.0, "mean_high": 11.0, "median_low": 9.0, "median_high": 11.0,
              "counts_low": [0.0, 1.0], "counts_high": [2.0, 3.0], "systematic_rel_sd": systematic_rel_sd} if intervals else {}
    return ImageRecord(
        sha256="a" * 64, width_px=10, height_px=10, provenance=Provenance(method="watershed", source="/data/a.png"),
        scalebar=ScalebarRecord("100 nm", 100.0, "nm", 50.0, 2.0, (0, 0, 50, 5), 0.4 if intervals else None),
        particles=particles,
        distributions=[DistributionRecord("diameter_nm", [8.0, 10.0, 12.0], [1, 1], 10.0, 10.0, 1.4, 2, **bounds)],
    )
