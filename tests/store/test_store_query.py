"""Queries across papers: material matching, filters, the three levels, and ``ide query``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from imagedataextractor.cli import main
from imagedataextractor.materials import material_key
from imagedataextractor.store import DistributionRecord, FigureRecord, ImageRecord, Provenance, ScalebarRecord, StoreError, open_db, query


@pytest.mark.parametrize(("written", "asked"), [
    ("Au", "gold"), ("Au", "AU"), ("Au", "au NPs"), ("Au", "Gold nanoparticles"), ("TiO2", "TiO₂"), ("TiO2", "TiO<sub>2</sub>"),
    ("TiO2", "titania"), ("Fe3O4", "magnetite"), ("ZnO", "zinc oxide"), ("Al", "aluminum"),
])
def test_names_of_one_material_share_a_key(written, asked):
    assert material_key(written) == material_key(asked)


def test_different_materials_have_different_keys():
    assert len({material_key(name) for name in ("Au", "Ag", "TiO2", "Ti", "ZnO", "Zn")}) == 6


def _panel(sha: str, diameters_nm: list[float], *, scaled: bool = True, border: list[bool] | None = None) -> ImageRecord:
    n = len(diameters_nm)
    particles = pd.DataFrame({
        "particle_id": np.arange(1, n + 1), "diameter_px": np.asarray(diameters_nm) / 2, "diameter_sd_px": np.full(n, 0.25),
        "touches_border": border or [False] * n,
    } | ({"diameter_nm": diameters_nm, "diameter_sd_nm": np.full(n, 0.5)} if scaled else {}))
    values = np.asarray(diameters_nm) if scaled else np.asarray(diameters_nm) / 2
    counts, edges = np.histogram(values, bins=3)
    distribution = DistributionRecord("diameter_nm" if scaled else "diameter_px", edges.tolist(), counts.tolist(), float(values.mean()),
                                      float(np.median(values)), float(values.std(ddof=1)), n, 0.95, float(values.mean()) - 1, float(values.mean()) + 1,
                                      float(np.median(values)) - 1, float(np.median(values)) + 1, [0.0] * 3, [float(c) + 1 for c in counts])
    return ImageRecord(
        sha256=sha * 64, width_px=100, height_px=100, provenance=Provenance(method="bpartis"), bbox_px=(0, 0, 100, 100), label="a",
        scalebar=ScalebarRecord("100 nm", 100.0, "nm", 50.0, 2.0, (0, 0, 50, 5), 0.5) if scaled else None,
        particles=particles, distributions=[distribution],
    )


@pytest.fixture
def literature_db(db_url: str) -> str:
    """Three articles: gold by TEM (two panels, one without a scale), gold by SEM, titania by TEM."""
    with open_db(db_url) as db:
        db.save_figure(FigureRecord("10.1000/gold-tem", "gr1", caption="TEM images of gold nanoparticles (a, b).", microscopy=["TEM"], materials=["Au"]),
                       [_panel("a", [10.0, 12.0, 14.0], border=[False, False, True]), _panel("b", [20.0, 22.0], scaled=False)])
        db.save_figure(FigureRecord("10.1000/gold-sem", "gr2", caption="SEM of Au NPs.", microscopy=["SEM"], materials=["Au", "SiO2"]),
                       [_panel("c", [30.0, 31.0, 32.0, 33.0])])
        db.save_figure(FigureRecord("10.1000/titania", "gr1", caption="HRTEM TEM of TiO₂.", microscopy=["HRTEM", "TEM"], materials=["TiO2"]),
                       [_panel("d", [5.0, 6.0])])
    return db_url


def test_particles_of_a_material_by_technique_with_provenance_and_intervals(literature_db: str):
    rows = query(literature_db, material="gold", microscopy="tem")
    assert rows["doi"].unique().tolist() == ["10.1000/gold-tem"] and len(rows) == 5
    scaled = rows[rows["nm_per_px"].notna()]
    assert scaled["diameter_nm"].tolist() == [10.0, 12.0, 14.0] and scaled["diameter_sd_nm"].tolist() == [0.5] * 3
    assert scaled["size_mean_low"].tolist() == [11.0] * 3 and scaled["size_mean_high"].tolist() == [13.0] * 3
    assert scaled["scalebar_length_sd_px"].tolist() == [0.5] * 3 and scaled["materials"].tolist() == [["Au"]] * 3
    assert rows["caption"].iloc[0] == "TEM images of gold nanoparticles (a, b)." and set(rows["size_kind"]) == {"diameter_nm", "diameter_px"}
    assert query(literature_db, material="TiO₂", microscopy="TEM")["doi"].unique().tolist() == ["10.1000/titania"]
    assert query(literature_db, microscopy="HRTEM")["doi"].unique().tolist() == ["10.1000/titania"]
    assert query(literature_db, material="Ag").empty and list(query(literature_db, material="Ag").columns) == list(rows.columns)


def test_panel_rows_and_filters_by_doi_and_particle_count(literature_db: str):
    panels = query(literature_db, material="Au", level="panels")
    assert sorted(panels["doi"]) == ["10.1000/gold-sem", "10.1000/gold-tem", "10.1000/gold-tem"]
    assert all(len(low) == 3 for low in panels["counts_low"])
    assert query(literature_db, doi="https://doi.org/10.1000/GOLD-SEM", level="panels")["panel_label"].tolist() == ["a"]
    assert sorted(query(literature_db, min_particles=3, level="panels")["n_particles"]) == [3, 4]


def test_pooled_distribution_pools_panels_of_one_unit_leaving_border_particles_out(literature_db: str):
    pooled = query(literature_db, material="Au", level="pooled").set_index("size_kind")
    nm = pooled.loc["diameter_nm"]
    assert nm["size_n"] == 6 and nm["n_panels"] == 2 and nm["n_articles"] == 2  # 10, 12 and 30..33: the border particle (14) left out
    assert nm["size_mean"] == pytest.approx(np.mean([10, 12, 30, 31, 32, 33]))
    assert nm["size_mean_low"] < nm["size_mean"] < nm["size_mean_high"] and sum(nm["counts"]) == 6
    assert pooled.loc["diameter_px", "size_n"] == 2 and pooled.loc["diameter_px", "size_mean"] == 10.5


def test_bad_level_and_empty_material_are_errors(literature_db: str):
    with pytest.raises(StoreError, match="query level"):
        query(literature_db, level="figures")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="empty"):
        query(literature_db, material=" ")


def test_ide_query_prints_csv_json_and_writes_parquet(literature_db: str, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["query", "--db", literature_db, "--material", "Au", "--microscopy", "TEM", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(io.StringIO(result.output))
    assert len(rows) == 5 and {"doi", "figure_locator", "panel_label", "scalebar_text", "size_mean_low", "diameter_sd_nm"} <= set(rows.columns)
    assert json.loads(rows["materials"].iloc[0]) == ["Au"]
    result = runner.invoke(main, ["query", "--db", literature_db, "--material", "gold", "--pooled", "--format", "json"])
    assert result.exit_code == 0 and {row["size_kind"] for row in json.loads(result.output)} == {"diameter_nm", "diameter_px"}
    pytest.importorskip("pyarrow")
    out = tmp_path / "panels.parquet"
    result = runner.invoke(main, ["query", "--db", literature_db, "--panels", "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0 and len(pd.read_parquet(out)) == 4
    result = runner.invoke(main, ["query", "--db", literature_db, "--panels", "--pooled"])
    assert result.exit_code != 0 and "choose one" in result.output


def test_ide_query_into_a_reader_that_stops_early_exits_quietly(tmp_path):
    """``ide query ... | head``: the closed pipe ends the command with status 141 and no traceback."""
    url = f"sqlite:///{tmp_path / 'many.sqlite'}"
    with open_db(url) as db:
        db.save_figure(FigureRecord("10.1000/many", "gr1", caption="TEM of Au.", microscopy=["TEM"], materials=["Au"]),
                       [_panel("e", list(np.linspace(5.0, 50.0, 3000)))])
    process = subprocess.Popen([sys.executable, "-m", "imagedataextractor", "query", "--db", url, "--format", "csv"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().startswith(b"doi,")
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141, stderr.decode()
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr
