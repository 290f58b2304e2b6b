"""``build_dataset`` / ``ide dataset build`` against the replay server serving the recorded demo corpus
over 127.0.0.1: real harvesting, parsing, splitting (with OCR of labels) and de-duplication."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from dataset_helpers import DEMO, FAST_HARVEST, write_png

from imagedataextractor.cli import main
from imagedataextractor.datasets.build import VIA_PROJECT, BuildReport, build_dataset
from imagedataextractor.datasets.layout import image_size, read_metadata
from imagedataextractor.datasets.via import read_via
from imagedataextractor.document.corpus import article_dir
from imagedataextractor.errors import DatasetError
from imagedataextractor.harvest import harvest, read_doi_list

REPRINTED = "10.1016/j.carbon.2019.12.021"
REPRINT = "10.5555/ide-demo.reprint"


def _add_reprint(corpus: Path) -> None:
    """Put a second article into the corpus that republishes every figure of REPRINTED under another
    DOI (as a harvest of it would have left it), so the same figures appear twice."""
    source, copy = article_dir(corpus, REPRINTED), article_dir(corpus, REPRINT)
    shutil.copytree(source, copy)
    for name in ("article.xml", "provenance.json"):
        path = copy / name
        path.write_text(path.read_text(encoding="utf-8").replace(REPRINTED, REPRINT), encoding="utf-8")


@pytest.fixture(scope="module")
def built(replay_env, tmp_path_factory) -> BuildReport:
    root = tmp_path_factory.mktemp("build")
    dois = read_doi_list(DEMO / "dois.txt")
    harvest(dois, corpus_dir=root / "corpus", config=FAST_HARVEST)
    _add_reprint(root / "corpus")
    return build_dataset([*dois, REPRINT, "not-a-doi"], out_dir=root / "set", corpus_dir=root / "corpus", harvest_config=FAST_HARVEST)


def test_build_counts_and_failures(built: BuildReport) -> None:
    assert built.n_dois == 12
    assert built.n_articles == 11
    assert built.n_em_figures < built.n_figures  # the demo has plots with non-EM captions
    assert built.n_micrographs <= built.n_panels
    # every micrograph panel of the reprint duplicates one kept from the original article
    reprinted = [i for i in built.images if i.doi == REPRINTED]
    assert reprinted and built.n_duplicates == len(reprinted)
    assert not any(i.doi == REPRINT for i in built.images)
    assert built.n_written == built.n_micrographs - built.n_duplicates
    assert [f.item for f in built.failures] == ["not-a-doi"]


def test_build_writes_images_and_metadata(built: BuildReport) -> None:
    root = built.out_dir
    files = sorted(p.name for p in (root / "images").glob("*.png"))
    assert files == sorted(i.filename for i in built.images)
    for image in built.images:
        x0, y0, x1, y1 = image.bbox_px
        assert image_size(root / "images" / image.filename) == (x1 - x0, y1 - y0)
    emps = read_metadata(root)  # the EMPS reader still reads the file
    assert sorted(emps["filename"]) == files and set(emps["regions"]) == {"[]"}
    assert set(emps["doi"]) == {i.doi for i in built.images}
    full = pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False)
    assert {"caption", "source_url", "licence", "bbox_px", "microscopy"} <= set(full.columns)
    assert all(full["caption"]) and all(url.startswith("http://127.0.0.1") for url in full["source_url"])
    assert any("TEM" in m or "SEM" in m for m in full["microscopy"])


def test_build_via_project_lists_every_image(built: BuildReport) -> None:
    path = built.out_dir / VIA_PROJECT
    project = json.loads(path.read_text())
    assert {"_via_settings", "_via_img_metadata", "_via_attributes", "_via_image_id_list"} <= set(project)
    assert project["_via_image_id_list"] == list(project["_via_img_metadata"])
    for key, entry in project["_via_img_metadata"].items():
        assert key == entry["filename"] + str(entry["size"])  # VIA's own key: name + bytes
        assert entry["size"] == (built.out_dir / "images" / entry["filename"]).stat().st_size
    entries, problems = read_via(path)
    assert not problems
    assert sorted(e.filename for e in entries) == sorted(i.filename for i in built.images)
    assert all(e.regions == () for e in entries)
    assert {e.file_attributes["doi"] for e in entries} == {i.doi for i in built.images}


def test_rebuild_removes_stale_images_and_refuses_an_annotated_folder(replay_env, tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "set"
    first = build_dataset([REPRINTED, "10.1016/j.snb.2019.127107"], out_dir=out, corpus_dir=corpus, harvest_config=FAST_HARVEST)
    second = build_dataset([REPRINTED], out_dir=out, corpus_dir=corpus, harvest_config=FAST_HARVEST)
    dropped = {i.filename for i in first.images} - {i.filename for i in second.images}
    assert dropped and set(second.removed) == dropped and first.removed == ()
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(read_metadata(out)["filename"])

    (out / "segmaps").mkdir()
    write_png(out / "segmaps" / second.images[0].filename, 4, 4)
    with pytest.raises(DatasetError, match="segmaps"):
        build_dataset([REPRINTED], out_dir=out, corpus_dir=corpus, harvest_config=FAST_HARVEST)
    dois = tmp_path / "dois.txt"
    dois.write_text(f"{REPRINTED}\n")
    result = CliRunner().invoke(main, ["dataset", "build", "--doi-list", str(dois), "--out", str(out), "--corpus", str(corpus)])
    assert result.exit_code == 1 and "build into a new folder" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(read_metadata(out)["filename"])  # nothing touched


def test_build_command_json(replay_env, tmp_path: Path) -> None:
    dois = tmp_path / "dois.txt"
    dois.write_text(f"# one article\n{REPRINTED}\n")
    result = CliRunner().invoke(main, ["dataset", "build", "--doi-list", str(dois), "--out", str(tmp_path / "set"), "--db", str(tmp_path / "ide.sqlite"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["n_articles"] == 1 and summary["n_written"] >= 1 and summary["ok"]
    assert (tmp_path / "set" / "corpus").is_dir()  # default corpus location
    entries, _ = read_via(tmp_path / "set" / VIA_PROJECT)
    assert [e.filename for e in entries] == summary["written"]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ide.sqlite'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select doi from articles")).scalars().all() == [REPRINTED]
    engine.dispose()
