"""extract(): a drawn two-panel figure through split, scalebar, segmentation, measurement and store."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from pipeline_figures import DISC_CENTRES, DISC_RADIUS_PX, micrograph

import imagedataextractor
from imagedataextractor.pipeline import extract
from imagedataextractor.settings import ExtractSettings
from imagedataextractor.store import open_db


@pytest.fixture(scope="module")
def figure_results(figure_path, tmp_path_factory):
    db_path = tmp_path_factory.mktemp("db") / "ide.sqlite"
    return extract(figure_path, method="watershed", db=db_path), db_path


def test_micrograph_panel_measured_in_nm_without_the_scalebar(figure_results):
    results, _ = figure_results
    done = [r for r in results if r.status == "done"]
    assert len(done) == 1
    [result] = done
    assert result.name == "fig1_1"
    assert result.scalebar.text == "100 nm"
    assert result.nm_per_px == pytest.approx(1.0, rel=0.02)
    # one particle per disc: the bar and its label were blanked before segmentation
    assert len(result.particles) == len(DISC_CENTRES)
    assert result.particles["diameter_nm"].median() == pytest.approx(2 * DISC_RADIUS_PX, rel=0.05)
    assert result.segmentation.dtype == np.uint16 and result.segmentation.shape == result.image.shape[:2]
    assert result.size_distribution.unit == "nm" and result.size_distribution.counts.sum() == len(DISC_CENTRES)
    assert result.aspect_ratios.counts.sum() == len(DISC_CENTRES)
    frame = result.to_pandas()
    assert list(frame.columns[:3]) == ["source", "name", "panel_label"] and len(frame) == len(DISC_CENTRES)
    summary = json.loads(json.dumps(result.to_json()))
    assert summary["units"] == "nm" and summary["summary"]["n_particles"] == len(DISC_CENTRES)


def test_the_methods_systematic_error_widens_the_size_interval_and_is_stored(figure_results):
    """watershed's relative systematic error (a documented constant) goes from its segmentation's
    details into the size interval (not the aspect ratio's) and the stored distribution."""
    from imagedataextractor.segment.methods import SYSTEMATIC_REL_SD

    results, db_path = figure_results
    [result] = [r for r in results if r.status == "done"]
    assert result.measurements.size_histogram.interval.systematic_rel_sd == SYSTEMATIC_REL_SD["watershed"] > 0
    assert result.measurements.aspect_ratio_histogram.interval.systematic_rel_sd == 0.0
    with open_db(db_path) as database:
        stored = database.read_table("distributions").set_index("kind")["systematic_rel_sd"]
    assert stored["diameter_nm"] == SYSTEMATIC_REL_SD["watershed"] and stored["aspect_ratio_feret"] == 0.0


def test_plot_panel_is_skipped_with_reason(figure_results):
    results, _ = figure_results
    [skipped] = [r for r in results if r.status == "skipped"]
    assert "drawing" in skipped.reason
    assert skipped.panel.bbox[0] >= 260 and skipped.particles.empty and skipped.segmentation is None


def test_db_rows_written_and_rerun_replaces(figure_results, figure_path):
    results, db_path = figure_results
    with open_db(db_path) as db:
        before = db.counts()
        panels = db.read_table("panels")
        extractions = db.read_table("extractions")
    assert before["figures"] == 1 and before["panels"] == 2 and before["particles"] == len(DISC_CENTRES)
    assert set(extractions["status"]) == {"done", "skipped"}
    assert set(panels["skip_reason"].dropna()) == {results[1].reason}
    # the splitter's confidence per panel is kept with the panel
    assert sorted(panels["confidence"]) == sorted(r.panel.confidence for r in results)
    [done] = extractions[extractions["status"] == "done"].to_dict("records")
    assert done["method"] == "watershed" and done["source"] == str(figure_path)
    assert done["software_version"] == imagedataextractor.__version__
    extract(figure_path, method="watershed", db=db_path)
    with open_db(db_path) as db:
        assert db.counts() == before


def test_directory_run_records_bad_file_as_failed(figure_path, tmp_path):
    folder = tmp_path / "figures"
    folder.mkdir()
    (folder / "fig1.png").write_bytes(figure_path.read_bytes())
    (folder / "broken.png").write_bytes(b"not a png at all")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    results = extract(folder, method="watershed", db=tmp_path / "ide.sqlite")
    statuses = {(r.name, r.status) for r in results}
    assert statuses == {("broken", "failed"), ("fig1_1", "done"), ("fig1_2", "skipped")}
    [failed] = [r for r in results if r.status == "failed"]
    assert "broken.png" in failed.reason and failed.panel is None and failed.image is None
    with open_db(tmp_path / "ide.sqlite") as db:
        jobs = db.read_table("jobs")
        assert {(row.item.split()[0], row.status) for row in jobs.itertuples()} == {(str(folder / "broken.png"), "failed"), (str(folder / "fig1.png"), "done")}
        assert set(jobs["job"]) == {f"images:watershed:{ExtractSettings(method='watershed').key()}"}


def test_array_without_scalebar_is_in_pixels():
    [result] = extract(micrograph(with_scalebar=False), method="watershed", split=False)
    assert result.source is None and result.name == "array" and result.status == "done"
    assert result.nm_per_px is None and not result.scalebar.found
    assert len(result.particles) == len(DISC_CENTRES)
    assert not any(column.endswith("_nm") for column in result.particles.columns)
    assert result.to_json()["units"] == "px" and result.size_distribution.unit == "px"


def test_save_writes_every_file(tmp_path):
    [result] = extract(micrograph(), method="watershed", split=False)
    folder = result.save(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["overlay.png", "particles.csv", "rdf.png", "size_histogram.png", "summary.json"]
    assert json.loads((folder / "summary.json").read_text())["scalebar"]["text"] == "100 nm"


def test_package_import_stays_light_and_exposes_extract():
    code = "import sys, imagedataextractor as ide; assert 'torch' not in sys.modules; assert callable(ide.extract)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_instances_under_the_scalebar_are_dropped_and_ids_renumbered():
    from imagedataextractor.segment.masking import drop_instances_under
    from imagedataextractor.scalebar import scalebar_mask
    from imagedataextractor.scalebar.types import Scalebar
    from imagedataextractor.segment.types import Segmentation

    labels = np.zeros((40, 60), np.uint16)
    labels[2:8, 2:8], labels[30:38, 40:58], labels[10:20, 10:20] = 1, 2, 3
    segmentation = Segmentation(labels, scores=np.array([0.9, 0.8, 0.7], np.float32))
    bar = Scalebar(bar_bbox=(42, 34, 56, 36), text_bbox=(42, 26, 56, 32))
    kept = drop_instances_under(segmentation, scalebar_mask(labels.shape, bar))
    assert set(np.unique(kept.labels)) == {0, 1, 2}
    assert (kept.labels[10:20, 10:20] == 2).all() and not kept.labels[30:38, 40:58].any()
    assert kept.scores.tolist() == pytest.approx([0.9, 0.7])
    assert drop_instances_under(segmentation, scalebar_mask(labels.shape, Scalebar())) is segmentation


def test_labels_printed_in_micrographs_are_not_measured_as_particles(tmp_path):
    from pathlib import Path

    from PIL import Image

    from imagedataextractor.viz import LABEL_COLOUR

    demo = Path(__file__).resolve().parents[2] / "examples" / "figure-demo.png"

    def panel_a(mask_labels: bool):
        return extract(demo, method="watershed", mask_labels=mask_labels)[0]

    def particles_under_labels(result) -> int:
        # Panel a's own label "a" and its source article's white "(d)" fill its top-left 150 x 120 px.
        particles = result.particles
        return int(((particles.centroid_x_px < 150) & (particles.centroid_y_px < 120)).sum())

    unmasked, masked = panel_a(mask_labels=False), panel_a(mask_labels=True)
    assert particles_under_labels(unmasked) >= 1 and unmasked.labels_in_image == ()  # watershed takes the white glyphs for particles
    assert particles_under_labels(masked) == 0
    assert sorted(reading.label for reading in masked.labels_in_image) == ["a", "d"]
    assert [entry["label"] for entry in masked.to_json()["labels_in_image"]] == [r.label for r in masked.labels_in_image]
    overlay = np.asarray(Image.open(masked.save(tmp_path) / "overlay.png").convert("RGB"))
    outlined = (overlay == LABEL_COLOUR).all(axis=2)  # the blanked region's outline, in orange
    # (below the image, the legend band has an orange swatch of its own)
    assert outlined[:160, :200].sum() > 200 and not outlined[200 : masked.image.shape[0]].any()


@pytest.mark.parametrize("keep_border", [False, True])
def test_summary_histogram_and_stored_distribution_describe_the_same_particles(tmp_path, keep_border):
    """Every measured panel of the demo figure: the stored size distribution's n, mean, median and std
    are the summary's, also when border particles are segmented (then kept out of both)."""
    from pathlib import Path

    from imagedataextractor.store import open_db, pixel_sha256

    demo = Path(__file__).resolve().parents[2] / "examples" / "figure-demo.png"
    results = extract(demo, method="watershed", keep_border=keep_border, db=tmp_path / "ide.sqlite")
    with open_db(tmp_path / "ide.sqlite") as database:
        stored = database.read_table("distributions").merge(database.read_table("panels"), left_on="panel_id", right_on="id")
    done = [r for r in results if r.status == "done"]
    assert len(done) >= 2
    for result in done:
        unit = "nm" if result.nm_per_px is not None else "px"
        [row] = stored[(stored.sha256 == pixel_sha256(result.image)) & (stored.kind == f"diameter_{unit}")].itertuples()
        summary = result.measurements.summary
        assert (row.n, row.mean, row.median, row.std) == (
            summary["n_particles"], summary[f"diameter_mean_{unit}"], summary[f"diameter_median_{unit}"], summary[f"diameter_std_{unit}"]
        )
        assert row.n == result.size_distribution.counts.sum()
    if keep_border:
        assert any(r.particles["touches_border"].any() for r in done)
