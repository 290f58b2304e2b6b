"""The uncertainty map and the masked panel labels: stored per extraction through the persistence
adapter, and shown on the report's panel page (the map with its colour bar, the labels outlined)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from PIL import Image

from imagedataextractor.persistence import uncertainty_png
from imagedataextractor.pipeline import extract
from imagedataextractor.report import write_report
from imagedataextractor.store import open_db, schema
from imagedataextractor.viz import LABEL_COLOUR

DEMO = Path(__file__).resolve().parents[2] / "examples" / "figure-demo.png"


def _discs(path: Path) -> Path:
    """A (200, 300) grey micrograph: bright discs on a noisy dark background, saved as PNG."""
    rng = np.random.default_rng(0)
    grey = rng.normal(60, 6, (200, 300))
    yy, xx = np.mgrid[:200, :300]
    for cy, cx in ((50, 60), (60, 170), (140, 100), (130, 230)):
        grey[(yy - cy) ** 2 + (xx - cx) ** 2 < 18**2] = 200
    Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).convert("RGB").save(path)
    return path


def _extractions(db_path: Path) -> list[dict]:
    with open_db(db_path, create=False) as db, db.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(schema.extractions).order_by(schema.extractions.c.id))]


def test_uncertainty_png_scales_zero_to_ln2_and_shrinks_the_long_side():
    uncertainty = np.tile(np.linspace(0, 1.0, 1200, dtype=np.float32), (300, 1))  # above ln 2 is clipped
    picture = Image.open(io.BytesIO(uncertainty_png(uncertainty)))
    grey = np.asarray(picture)
    assert picture.mode == "L" and grey.shape == (128, schema.UNCERTAINTY_MAX_SIDE_PX)  # 300 x 1200 -> 128 x 512
    assert grey[:, 0].max() == 0 and (grey[:, -5:] == 255).all()
    column = int(round(math.log(2) / 2 * 511))  # half of ln 2 is mid grey
    assert abs(int(grey[64, column]) - 128) <= 3
    small = np.asarray(Image.open(io.BytesIO(uncertainty_png(np.full((20, 30), math.log(2) / 2, np.float32)))))
    assert small.shape == (20, 30) and (small == 128).all()


def test_a_bpartis_run_stores_its_uncertainty_map_and_the_page_shows_it(tmp_path):
    from imagedataextractor.segment import BPartISConfig

    image = _discs(tmp_path / "discs.png")
    db_path = tmp_path / "ide.sqlite"
    [result] = extract(image, db=db_path, split=False, scalebar=False, bpartis=BPartISConfig(n_samples=2))
    assert result.status == "done" and result.uncertainty is not None
    [row] = _extractions(db_path)
    stored = np.asarray(Image.open(io.BytesIO(row["uncertainty_png"])))
    assert stored.shape == (200, 300) and stored.dtype == np.uint8
    expected = np.round(np.clip(result.uncertainty / schema.UNCERTAINTY_MAX_NATS, 0, 1) * 255)
    assert np.abs(stored.astype(int) - expected).max() <= 1
    assert row["masked_label_boxes"] == []  # no label printed in it, and that is recorded

    summary = write_report(db_path, tmp_path / "site", workers=1)
    [page] = (tmp_path / "site" / "articles").glob("*.html")
    html = page.read_text()
    [name] = [n for n in html.split('"') if n.endswith("-uncertainty.png")]
    drawn = Image.open(page.parent / name)
    assert drawn.size[0] > 100 and np.asarray(drawn.convert("L")).std() > 0
    assert "mutual information" in html and "nats" in html and "ln 2" in html and "Uncertainty map: not stored" not in html
    assert "masked before segmentation outlined in orange" in html
    assert summary.n_images >= 5  # overlay, size, aspect, rdf, uncertainty (and the original)


def test_masked_label_boxes_are_stored_and_outlined_in_the_report_overlay(tmp_path):
    db_path = tmp_path / "ide.sqlite"
    results = extract(DEMO, db=db_path, method="watershed", mask_labels=True)
    panel_a = results[0]
    assert sorted(r.label for r in panel_a.labels_in_image) == ["a", "d"]
    rows = _extractions(db_path)
    assert all(row["uncertainty_png"] is None for row in rows)  # a baseline has no uncertainty map
    by_source_boxes = [row["masked_label_boxes"] for row in rows if row["masked_label_boxes"]]
    assert [list(r.bbox) for r in panel_a.labels_in_image] in by_source_boxes

    write_report(db_path, tmp_path / "site", workers=1)
    [page] = (tmp_path / "site" / "articles").glob("*.html")
    html = page.read_text()
    assert "-uncertainty.png" not in html and "Uncertainty map: not stored (this method gives none)" in html
    [extraction_id] = [row["id"] for row in rows if row["masked_label_boxes"] == [list(r.bbox) for r in panel_a.labels_in_image]]
    [overlay] = (page.parent / page.stem).glob(f"e{extraction_id}-*-overlay.png")
    picture = np.asarray(Image.open(overlay).convert("RGB"))
    height = panel_a.image.shape[0]
    outlined = (picture[:height] == LABEL_COLOUR).all(axis=2)  # above the legend band: the labels' outlines
    for x0, y0, x1, y1 in (r.bbox for r in panel_a.labels_in_image):
        assert outlined[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2].any()
    assert not outlined[height // 2 :, :].any()  # nowhere else (both labels sit near the top)


def test_rows_without_them_keep_the_not_stored_text(tmp_path):
    # an extraction saved without either, as rows older than schema 4 read
    import pandas as pd

    from imagedataextractor.store import FigureRecord, ImageRecord, Provenance

    image = _discs(tmp_path / "discs.png")
    record = ImageRecord(sha256="0" * 64, width_px=300, height_px=200, provenance=Provenance(method="bpartis", source=str(image)), particles=pd.DataFrame())
    with open_db(tmp_path / "ide.sqlite") as db:
        db.save_figure(FigureRecord(source=str(image)), [record])
    write_report(tmp_path / "ide.sqlite", tmp_path / "site", workers=1)
    html = next((tmp_path / "site" / "articles").glob("*.html")).read_text()
    assert "Uncertainty map: not stored (extracted before the database kept uncertainty maps)" in html
    assert "-uncertainty.png" not in html and "outlined in orange" not in html
