"""The store API on SQLite and on PostgreSQL: round trip, idempotent upserts, jobs, schema version."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from imagedataextractor.doi import normalise_doi
from imagedataextractor.store import SCHEMA_VERSION, StoreError, open_db, pixel_sha256, to_url


def test_round_trip(db_url: str, make_record) -> None:
    with open_db(db_url) as db:
        figure_id = db.upsert_figure(
            doi="https://doi.org/10.1016/J.TEST.2024.01", locator="gr1", label="Fig. 1", caption="TEM of Au", materials=["Au"], is_em=True
        )
        record = make_record(figure_id=figure_id)
        panel_id = db.save_image_result(record)

        panels = db.read_table("panels")
        assert panels.loc[0, "id"] == panel_id
        assert panels.loc[0, "figure_id"] == figure_id
        assert panels.loc[0, ["x0_px", "y0_px", "x1_px", "y1_px"]].tolist() == [10, 20, 90, 84]
        assert panels.loc[0, "sha256"] == record.sha256 and panels.loc[0, "width_px"] == 80

        figures = db.read_table("figures")
        assert figures.loc[0, "materials"] == ["Au"] and bool(figures.loc[0, "is_em"])
        assert db.read_table("articles")["doi"].tolist() == ["10.1016/j.test.2024.01"]

        extraction = db.read_table("extractions").iloc[0]
        assert extraction["status"] == "done" and extraction["n_particles"] == 5
        assert extraction["settings"] == {"seed_threshold": 0.5}
        assert extraction["panel_bbox_px"] == [10, 20, 90, 84]
        assert extraction["settings_sha256"] == record.provenance.settings_sha256()
        assert extraction["extracted_at"] == record.provenance.extracted_at

        particles = db.read_table("particles")
        expected = record.particles
        assert particles["particle_id"].tolist() == expected["particle_id"].tolist()
        np.testing.assert_allclose(particles["diameter_nm"], expected["diameter_nm"])
        np.testing.assert_allclose(particles["area_nm2"], expected["area_nm2"])
        assert particles["circularity"].isna().tolist() == [True, False, False, False, False]
        assert particles["touches_border"].astype(bool).tolist() == expected["touches_border"].tolist()
        assert particles["feret_max_nm"].isna().all()  # not measured, so NULL
        np.testing.assert_allclose([row["eccentricity"] for row in particles["extra"]], expected["eccentricity"])

        scalebar = db.read_table("scalebars").iloc[0]
        assert (scalebar["text"], scalebar["value"], scalebar["unit"], scalebar["nm_per_px"]) == ("100 nm", 100.0, "nm", 0.5)
        distribution = db.read_table("distributions").iloc[0]
        assert distribution["kind"] == "diameter_nm" and distribution["n"] == 5 and sum(distribution["counts"]) == 5
        np.testing.assert_allclose(distribution["bin_edges"], record.distributions[0].bin_edges)
        rdf = db.read_table("rdfs").iloc[0]
        assert rdf["g_r"][0] is None  # NaN: undefined at the smallest radius
        np.testing.assert_allclose(rdf["g_r"][1:], record.rdf.g_r[1:])
        assert (rdf["unit"], len(rdf["radii"]), rdf["dr"], rdf["n_points"]) == ("nm", 10, 1.0, 5)


def test_same_image_and_settings_replaces(db_url: str, make_record) -> None:
    with open_db(db_url) as db:
        first = db.save_image_result(make_record(n_particles=5))
        before = db.counts()
        # The same pixels measured again with the same settings, but a different outcome.
        again = make_record(n_particles=5)
        second = db.save_image_result(dataclasses.replace(again, particles=again.particles.assign(diameter_nm=1.0)))
        assert second == first
        assert db.counts() == before
        assert db.read_table("particles")["diameter_nm"].tolist() == [1.0] * 5
        # Fewer particles this time: old rows must not linger.
        db.save_image_result(make_record(n_particles=3))
        assert db.counts()["particles"] == 3 and db.counts()["extractions"] == 1


def test_different_settings_add_rows(db_url: str, make_record) -> None:
    with open_db(db_url) as db:
        panel_id = db.save_image_result(make_record(tu=0.0125))
        assert db.save_image_result(make_record(tu=0.05)) == panel_id
        assert db.save_image_result(make_record(method="watershed")) == panel_id
        counts = db.counts()
        assert (counts["panels"], counts["extractions"], counts["particles"], counts["scalebars"]) == (1, 3, 15, 3)
        # A different image is a new panel.
        db.save_image_result(make_record(seed=1))
        assert db.counts()["panels"] == 2


def test_failed_save_leaves_nothing_behind(db_url: str, make_record) -> None:
    with open_db(db_url) as db:
        db.save_image_result(make_record())
        before = db.counts()
        new_image = make_record(seed=1)
        twice = dataclasses.replace(new_image, distributions=[*new_image.distributions, *new_image.distributions])
        with pytest.raises(StoreError, match="image figures/gr1.jpg") as caught:
            db.save_image_result(twice)  # the second histogram of the same kind violates a key
        assert "\n" not in str(caught.value)
        assert db.counts() == before  # its panel, extraction and particles were rolled back too


def test_skipped_panel_without_results(db_url: str, make_record) -> None:
    with open_db(db_url) as db:
        base = make_record()
        skipped = dataclasses.replace(
            base,
            is_micrograph=False,
            skip_reason="plot, not a micrograph",
            scalebar=None,
            particles=None,
            distributions=(),
            rdf=None,
            provenance=dataclasses.replace(base.provenance, status="skipped", reason="plot, not a micrograph"),
        )
        db.save_image_result(skipped)
        extraction = db.read_table("extractions").iloc[0]
        assert (extraction["status"], extraction["reason"], extraction["n_particles"]) == ("skipped", "plot, not a micrograph", 0)
        assert not db.read_table("panels").loc[0, "is_micrograph"]
        assert db.counts()["particles"] == 0
        with pytest.raises(StoreError, match="status 'finished'"):
            db.save_image_result(dataclasses.replace(base, provenance=dataclasses.replace(base.provenance, status="finished")))


def test_article_and_figure_upserts_merge(db_url: str) -> None:
    with open_db(db_url) as db:
        fetched = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
        article = db.upsert_article("10.1039/C9NR01234A", title="Gold", publisher="rsc", fetched_at=fetched)
        assert db.upsert_article("doi:10.1039/c9nr01234a", journal="Nanoscale") == article
        row = db.read_table("articles").iloc[0]
        assert (row["title"], row["journal"], row["publisher"], row["fetched_at"]) == ("Gold", "Nanoscale", "rsc", fetched)

        figure = db.upsert_figure(doi="10.1039/C9NR01234A", locator="fig1", caption="SEM")
        assert db.upsert_figure(doi="10.1039/c9nr01234a", locator="fig1", microscopy_type="SEM") == figure
        assert db.upsert_figure(doi="10.1039/c9nr01234a", locator="fig2") != figure
        local = db.upsert_figure(source="/data/a.png")
        assert db.upsert_figure(source="/data/a.png", is_em=False) == local
        figures = db.read_table("figures").set_index("id")
        assert (figures.loc[figure, "caption"], figures.loc[figure, "microscopy_type"]) == ("SEM", "SEM")
        assert db.counts()["figures"] == 3 and db.counts()["articles"] == 1
        with pytest.raises(StoreError, match="locator"):
            db.upsert_figure(doi="10.1039/c9nr01234a")
        with pytest.raises(StoreError, match="not a DOI"):
            db.upsert_article("not-a-doi")


def test_jobs_resume(db_url: str) -> None:
    with open_db(db_url) as db:
        assert db.status("10.1/a") is None
        db.mark("10.1/a", "failed", "HTTP 503", job="harvest")
        db.mark("10.1/a", "done", job="harvest")
        db.mark("10.1/b", "skipped", "no figures", job="harvest")
        db.mark("10.1/a", "failed", "timeout", job="extract")  # another batch, same item
        assert db.status("10.1/a", job="harvest") == "done"
        assert db.status("10.1/a", job="extract") == "failed"
        assert db.items("done", job="harvest") == {"10.1/a"}
        jobs = db.read_table("jobs").set_index(["job", "item"])
        assert jobs.loc[("harvest", "10.1/a"), "attempts"] == 2 and pd.isna(jobs.loc[("harvest", "10.1/a"), "reason"])
        with pytest.raises(StoreError, match="status"):
            db.mark("x", "running")  # type: ignore[arg-type]
    with open_db(db_url) as reopened:  # a resumed run sees what the killed one recorded
        assert reopened.items("done", job="harvest") == {"10.1/a"}


def test_schema_version_recorded_and_newer_refused(db_url: str) -> None:
    with open_db(db_url) as db:
        assert db.schema_version == SCHEMA_VERSION
        versions = db.read_table("schema_version")
        assert versions["version"].tolist() == list(range(1, SCHEMA_VERSION + 1))
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO schema_version (version, description, applied_at) VALUES (99, 'future', CURRENT_TIMESTAMP)"))
    with pytest.raises(StoreError, match="schema version 99 is newer than this imagedataextractor supports"):
        open_db(db_url)


def test_reopen_keeps_data(tmp_path: Path, make_record) -> None:
    path = tmp_path / "sub" / "dir" / "ide.sqlite"  # missing directories are created
    with open_db(path) as db:
        db.save_image_result(make_record())
    with open_db(path, create=False) as db:
        assert db.counts()["particles"] == 5 and db.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda tmp: tmp / "a-file" / "ide.sqlite", "cannot create database directory"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: Path("/proc/ide-test.sqlite"), "cannot open database"),
    ],
)
def test_unwritable_path_is_one_line_error(tmp_path: Path, make_path, message: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(StoreError, match=message) as caught:
        open_db(make_path(tmp_path))
    assert "\n" not in str(caught.value)


def test_unreachable_server_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open database") as caught:
        open_db(f"postgresql://ide@/ide?host={tmp_path}")  # no server listens on this socket directory
    assert "\n" not in str(caught.value)


def test_missing_or_foreign_database_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such database"):
        open_db(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
    foreign = tmp_path / "foreign.sqlite"
    engine = sa.create_engine(f"sqlite:///{foreign}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE other (x INTEGER)"))
    engine.dispose()
    with pytest.raises(StoreError, match="not an imagedataextractor database"):
        open_db(foreign, create=False)


def test_urls_and_dois() -> None:
    assert to_url("results/ide.sqlite").drivername == "sqlite"
    assert to_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert to_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert to_url("sqlite:///x.db").database == "x.db"
    assert normalise_doi(" DOI:10.1021/ACS.NANOLETT.0C01234 ") == "10.1021/acs.nanolett.0c01234"


def test_pixel_sha256_is_content_identity() -> None:
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    assert pixel_sha256(image) == pixel_sha256(image.copy())
    assert pixel_sha256(image) != pixel_sha256(image.reshape(4, 12, 1))  # same bytes, other shape
    changed = image.copy()
    changed[0, 0, 0] += 1
    assert pixel_sha256(changed) != pixel_sha256(image)
