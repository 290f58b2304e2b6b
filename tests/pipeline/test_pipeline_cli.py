"""``ide extract`` through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner
from pipeline_figures import DISC_CENTRES, micrograph
from PIL import Image

from imagedataextractor.cli import main
from imagedataextractor.store import open_db


def test_extract_writes_folders_table_and_db(figure_path, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["extract", str(figure_path), "--out", str(out), "--method", "watershed", "--db", str(tmp_path / "ide.sqlite")])
    assert result.exit_code == 0, result.output
    assert "fig1_1" in result.output and "1 measured, 1 skipped, 0 failed" in result.output
    assert {p.name for p in (out / "fig1_1").iterdir()} == {"overlay.png", "particles.csv", "rdf.png", "size_histogram.png", "summary.json"}
    assert [p.name for p in (out / "fig1_2").iterdir()] == ["summary.json"]
    with open_db(tmp_path / "ide.sqlite") as db:
        assert db.counts()["particles"] == len(DISC_CENTRES)


def test_extract_json_bpartis_two_samples(tmp_path):
    image = tmp_path / "discs.png"
    Image.fromarray(micrograph()[:128, :128]).save(image)
    result = CliRunner().invoke(main, ["extract", str(image), "--out", str(tmp_path / "out"), "--no-split", "--samples", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_done"] == 1 and report["results"][0]["name"] == "discs"
    summary = json.loads((tmp_path / "out" / "discs" / "summary.json").read_text())
    assert summary["segmentation"]["method"] == "bpartis" and summary["segmentation"]["details"]["n_samples"] == 2


def test_unwritable_out_is_one_line_error(figure_path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["extract", str(figure_path), "--out", str(blocker / "out"), "--method", "watershed"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1


def test_exit_status_tells_all_done_some_failed_and_all_failed(figure_path, tmp_path):
    """0: every input done or skipped; 3: some failed; 1: every input failed (or an error stopped the run)."""
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"garbage")
    all_failed = CliRunner().invoke(main, ["extract", str(broken), "--out", str(tmp_path / "a"), "--method", "watershed"])
    assert all_failed.exit_code == 1 and "0 measured, 0 skipped, 1 failed" in all_failed.output
    some_failed = CliRunner().invoke(main, ["extract", str(broken), str(figure_path), "--out", str(tmp_path / "b"), "--method", "watershed"])
    assert some_failed.exit_code == 3 and "1 measured, 1 skipped, 1 failed" in some_failed.output
    all_done = CliRunner().invoke(main, ["extract", str(figure_path), "--out", str(tmp_path / "b"), "--method", "watershed"])
    assert all_done.exit_code == 0, all_done.output


def _extract(*args: str):
    return CliRunner().invoke(main, ["extract", *args, "--method", "watershed", "--no-split"])


def test_dotted_name_stays_inside_out(tmp_path):
    """An input named ``...png`` (stem "..") must not write into the parent of --out."""
    Image.fromarray(micrograph()[:128, :128]).save(tmp_path / "...png", format="PNG")
    work = tmp_path / "work"
    result = _extract(str(tmp_path / "...png"), "--out", str(work / "out"))
    assert result.exit_code == 0, result.output
    assert [p.name for p in work.iterdir()] == ["out"]
    # (beside the result folder, the review page keeps its article pages in out/articles)
    [folder] = [p for p in (work / "out").iterdir() if (p / "summary.json").exists()]
    assert (folder / "summary.json").exists() and not folder.name.startswith(".")


def test_same_stem_different_suffix_get_own_folders(tmp_path):
    images = tmp_path / "in"
    images.mkdir()
    Image.fromarray(micrograph(seed=0)[:128, :128]).save(images / "x.png")
    Image.fromarray(micrograph(seed=1)[:128, :128]).save(images / "x.jpg", quality=95)
    result = _extract(str(images), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    sources = {json.loads((folder / "summary.json").read_text())["source"] for folder in (tmp_path / "out").iterdir() if (folder / "summary.json").exists()}
    assert sources == {str((images / "x.png").resolve()), str((images / "x.jpg").resolve())}


def test_image_named_like_the_report_pages_folder_gets_its_own_folder(tmp_path):
    """``ide extract`` writes the review site into --out too: an input named ``articles.png`` must
    not share the site's ``articles/`` pages folder."""
    Image.fromarray(micrograph()[:128, :128]).save(tmp_path / "articles.png")
    result = _extract(str(tmp_path / "articles.png"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    [folder] = [p for p in (tmp_path / "out").iterdir() if (p / "summary.json").exists()]
    assert folder.name == "articles_png"
    assert not (tmp_path / "out" / "articles" / "summary.json").exists()
    assert list((tmp_path / "out" / "articles").glob("figure-*.html"))


def test_relative_then_absolute_path_is_one_figure(tmp_path, monkeypatch):
    images = tmp_path / "in"
    images.mkdir()
    Image.fromarray(micrograph()[:128, :128]).save(images / "a.png")
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "ide.sqlite")
    assert _extract("in", "--out", "out", "--db", db).exit_code == 0
    with open_db(db) as database:
        first = database.counts()
    assert _extract(str(images.resolve()), "--out", "out", "--db", db).exit_code == 0
    with open_db(db) as database:
        assert database.counts() == first and first["figures"] == 1
