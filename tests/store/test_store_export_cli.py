"""Export to csv/parquet/json read back with pandas, and the ``ide db`` / ``ide export`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from imagedataextractor.cli import main
from imagedataextractor.store import DATA_TABLES, SCHEMA_VERSION, StoreError, export, open_db


@pytest.fixture
def filled_db(tmp_path: Path, make_record) -> Path:
    path = tmp_path / "ide.sqlite"
    with open_db(path) as db:
        figure_id = db.upsert_figure(doi="10.1016/j.test.2024.01", locator="gr1", materials=["Au", "Ag"])
        db.save_image_result(make_record(figure_id=figure_id))
        db.save_image_result(make_record(figure_id=figure_id, tu=0.05))
        db.mark("10.1016/j.test.2024.01", "done", job="extract")
    return path


READERS = {"csv": pd.read_csv, "parquet": pd.read_parquet, "json": lambda path: pd.read_json(path, orient="records")}


def _as_list(value: object) -> list:
    """A JSON column cell: text in csv and parquet, already a list in json."""
    return json.loads(value) if isinstance(value, str) else list(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("format", ["csv", "parquet", "json"])
def test_export_reads_back_in_pandas(filled_db: Path, tmp_path: Path, format: str) -> None:
    out = tmp_path / "out"
    paths = export(filled_db, out, format=format)  # type: ignore[arg-type]
    assert [p.name for p in paths] == [f"{name}.{format}" for name in DATA_TABLES]

    with open_db(filled_db) as db:
        counts = db.counts()
        stored = db.read_table("particles")
    read = {name: READERS[format](out / f"{name}.{format}") for name in ("articles", "figures", "extractions", "particles", "distributions", "rdfs")}
    for name, frame in read.items():
        assert len(frame) == counts[name], name
    assert len(read["particles"]) == 10
    np.testing.assert_allclose(read["particles"]["diameter_nm"], stored["diameter_nm"])
    assert read["particles"]["touches_border"].astype(bool).tolist() == stored["touches_border"].astype(bool).tolist()
    assert _as_list(read["figures"].loc[0, "materials"]) == ["Au", "Ag"]
    assert sum(_as_list(read["distributions"].loc[0, "counts"])) == 5
    assert len(_as_list(read["rdfs"].loc[0, "g_r"])) == 10
    assert sorted(read["extractions"]["tu"]) == [0.0125, 0.05]
    assert pd.Timestamp(read["extractions"].loc[0, "extracted_at"]).year >= 2024
    if format != "json":  # the unknown measurement survives as JSON text
        assert "eccentricity" in json.loads(read["particles"].loc[0, "extra"])


def test_export_empty_database_and_bad_format(tmp_path: Path) -> None:
    with open_db(tmp_path / "empty.sqlite") as db:
        paths = export(db, tmp_path / "csv", format="csv")
        assert pd.read_csv(tmp_path / "csv" / "particles.csv").empty
        assert "diameter_nm" in pd.read_csv(tmp_path / "csv" / "particles.csv").columns
        assert len(paths) == len(DATA_TABLES)
        with pytest.raises(StoreError, match="export format 'xlsx'"):
            export(db, tmp_path / "x", format="xlsx")  # type: ignore[arg-type]


def test_cli_init_info_export(tmp_path: Path, filled_db: Path) -> None:
    runner = CliRunner()
    fresh = tmp_path / "new" / "fresh.sqlite"
    result = runner.invoke(main, ["db", "init", "--db", str(fresh)])
    assert result.exit_code == 0, result.output
    assert f"schema version {SCHEMA_VERSION}" in result.output and fresh.exists()

    result = runner.invoke(main, ["db", "info", "--db", str(filled_db), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["schema_version"] == SCHEMA_VERSION
    assert info["tables"]["particles"] == 10 and info["tables"]["extractions"] == 2 and info["tables"]["jobs"] == 1

    result = runner.invoke(main, ["db", "info"], env={"IDE_DB": str(filled_db)})
    assert result.exit_code == 0 and "particles" in result.output and "10" in result.output

    out = tmp_path / "exported"
    result = runner.invoke(main, ["export", "--db", str(filled_db), "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(out / f"{name}.json") for name in DATA_TABLES]
    assert len(pd.read_json(out / "particles.json", orient="records")) == 10


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["db", "info", "--db", str(tmp_path / "missing.sqlite")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {tmp_path / 'missing.sqlite'}: no such database (create it with `ide db init --db {tmp_path / 'missing.sqlite'}`)"]
    (tmp_path / "a-file").write_text("x")
    result = runner.invoke(main, ["db", "init", "--db", str(tmp_path / "a-file" / "ide.sqlite")])
    assert result.exit_code == 1 and "cannot create database directory" in result.output
    assert len(result.output.strip().splitlines()) == 1
    for command in (["db", "--help"], ["db", "init", "--help"], ["db", "info", "--help"], ["export", "--help"]):
        assert runner.invoke(main, command).exit_code == 0
