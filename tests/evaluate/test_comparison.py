"""The method comparison: particle-analysis distances on hand-made maps, the tu sweep on synthetic
MC outputs, `ide evaluate --method all` / `--sweep-tu` / `--grid` over a tiny EMPS-layout set drawn
in code."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage.draw import disk

from imagedataextractor.cli import main
from imagedataextractor.errors import ImageError
from imagedataextractor.evaluate import (
    ANALYSIS_KEYS,
    METRIC_KEYS,
    MCPrediction,
    compare_methods,
    evaluate_pair,
    mc_prediction,
    particle_analysis,
)
from imagedataextractor.evaluate import sweep as sweep_module
from imagedataextractor.evaluate.analysis import compare_stats, particle_stats, rice_edges
from imagedataextractor.evaluate.figures import GRID_HEADER_PX, overlay_grid, save_overlay_grid
from imagedataextractor.evaluate.analysis import rdf_rmse
from imagedataextractor.evaluate.metrics import EvaluationError
from imagedataextractor.evaluate.report import comparison_table, sweep_table
from imagedataextractor.evaluate.sweep import TuSweep, summarise_sweep, sweep_prediction
from imagedataextractor.measure.distributions import radial_distribution
from imagedataextractor.models.registry import write_bundle
from imagedataextractor.segment import methods as segment_methods
from imagedataextractor.segment import predict
from imagedataextractor.segment.embedding import coordinate_map
from imagedataextractor.segment.erfnet import BPartISNet
from imagedataextractor.segment.predict import BPartISConfig, MCOutputs, segment_bpartis
from imagedataextractor.segment.types import Segmentation

CHEAP = ["ide1", "gmm", "watershed"]


def squares(shape: tuple[int, int], boxes: list[tuple[int, int, int]]) -> np.ndarray:
    """Instance map with square k + 1 of side s at top-left (row, col) for each (row, col, s)."""
    labels = np.zeros(shape, np.uint16)
    for k, (row, col, side) in enumerate(boxes, start=1):
        labels[row : row + side, col : col + side] = k
    return labels


def disc_lattice(n_side: int, *, spacing: int = 20, radius: int = 6, jitter: int = 0, seed: int = 0) -> np.ndarray:
    """n_side x n_side discs on a square lattice (optionally jittered), none touching the border."""
    rng = np.random.default_rng(seed)
    size = spacing * (n_side + 1)
    labels = np.zeros((size, size), np.uint16)
    for k in range(n_side * n_side):
        row, col = divmod(k, n_side)
        centre = np.array([(row + 1) * spacing, (col + 1) * spacing]) + rng.integers(-jitter, jitter + 1, 2)
        labels[disk(tuple(centre), radius, shape=labels.shape)] = k + 1
    return labels


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as picture:
        return picture.size


# --- particle analysis -------------------------------------------------------------------------


def test_identical_maps_have_zero_distances():
    gt = disc_lattice(6, jitter=3)
    result = particle_analysis(gt, gt)
    assert result.n_gt == result.n_pred == 36
    assert result.size_hist_cosine == pytest.approx(0.0, abs=1e-12)
    assert result.aspect_hist_cosine == pytest.approx(0.0, abs=1e-12)
    assert result.rdf_rmse == 0.0


def test_size_histogram_distance_on_hand_binned_squares():
    # 4 squares of side 4 (area 16) and 4 of side 8 (area 64). n_gt = 8 -> Rice: ceil(2 * 8^(1/3)) = 4
    # bins over [16, 64]: edges 16, 28, 40, 52, 64. Truth (4, 0, 0, 4); the prediction misses two
    # small squares: (2, 0, 0, 4). cos = (8 + 16) / (sqrt(32) sqrt(20)) = 24 / sqrt(640).
    boxes = [(5 + 12 * i, 5, 4) for i in range(4)] + [(5 + 12 * i, 30, 8) for i in range(4)]
    gt = squares((60, 60), boxes)
    pred = squares((60, 60), boxes[2:])
    np.testing.assert_allclose(rice_edges(np.repeat([16.0, 64.0], 4)), [16, 28, 40, 52, 64])
    result = particle_analysis(gt, pred)
    assert result.size_hist_cosine == pytest.approx(1 - 24 / math.sqrt(640), abs=1e-12)
    # Feret ratios of digitised squares: 1.311 for side 4, 1.362 for side 8 (the hull of the pixel
    # squares), so the aspect-ratio histograms split the same way: the same distance.
    assert result.aspect_hist_cosine == pytest.approx(1 - 24 / math.sqrt(640), abs=1e-12)
    assert (result.n_gt, result.n_pred) == (8, 6)


def test_bins_are_the_truths_and_outliers_count_in_the_end_bins():
    # Truth: 4 squares of area 36 and 4 of area 64 -> 4 bins over [36, 64] (width 7): (4, 0, 0, 4).
    # The prediction adds one spurious 2 x 2 particle (area 4): clipped into the first bin, (5, 0, 0, 4).
    boxes = [(5 + 12 * i, 5, 6) for i in range(4)] + [(5 + 12 * i, 30, 8) for i in range(4)]
    gt = squares((60, 60), boxes)
    pred = squares((60, 60), boxes + [(50, 50, 2)])
    truth, predicted = particle_stats(gt), particle_stats(pred)
    result = compare_stats(truth, predicted)
    assert result.size_hist_cosine == pytest.approx(1 - 36 / math.sqrt(32 * 41), abs=1e-12)
    assert particle_analysis(gt, pred) == result  # the check's rule is the default
    # The rule before issue 31 spread the bins over both samples, [4, 64] (width 15): the outlier
    # moved the truth's small squares from the first bin to the third, (0, 0, 4, 4) against (1, 0, 4, 4).
    joint = compare_stats(truth, predicted, binning="joint")
    assert joint.size_hist_cosine == pytest.approx(1 - 32 / math.sqrt(32 * 33), abs=1e-12)
    with pytest.raises(EvaluationError, match="binning"):
        compare_stats(truth, predicted, binning="sturges")


def test_aspect_ratio_histogram_uses_feret_ratio():
    # 6 x 6 squares (Feret ratio 1.33) against 6 x 12 rectangles (about 2): no bin in common.
    gt = squares((40, 60), [(5, 5, 6), (5, 20, 6), (20, 5, 6), (20, 20, 6)])
    pred = np.zeros_like(gt)
    for k, (row, col) in enumerate([(5, 5), (5, 20), (20, 5), (20, 20)], start=1):
        pred[row : row + 6, col : col + 12] = k
    assert particle_analysis(gt, pred).aspect_hist_cosine == pytest.approx(1.0)


def test_border_particles_are_not_counted_and_empty_predictions_score_one():
    gt = squares((60, 60), [(5, 5, 6), (5, 20, 8), (20, 5, 10), (30, 30, 6)])
    with_border = gt.copy()
    with_border[0:12, 50:60] = 9  # a cut-off particle on the edge
    assert particle_analysis(gt, with_border) == particle_analysis(gt, gt)
    empty = particle_analysis(gt, np.zeros_like(gt))
    assert (empty.size_hist_cosine, empty.aspect_hist_cosine, empty.n_pred) == (1.0, 1.0, 0)
    assert math.isnan(empty.rdf_rmse)
    with pytest.raises(ImageError, match="native resolution"):
        particle_analysis(gt, gt[:30])


def test_border_particles_counted_on_request():
    # The diagnostic rule: a cut-off particle on the edge (area 120, Feret ratio about 1.3) is
    # counted in the map that has it, and only then changes the histograms.
    gt = squares((60, 60), [(5, 5, 6), (5, 20, 8), (20, 5, 10), (30, 30, 6)])
    with_border = gt.copy()
    with_border[0:12, 50:60] = 9
    inner, counted = particle_stats(with_border), particle_stats(with_border, include_border=True)
    assert (len(inner.areas_px), len(counted.areas_px), len(counted.aspect_ratios), len(counted.centroids_px)) == (4, 5, 5, 5)
    assert sorted(counted.areas_px) == [36, 36, 64, 100, 120]
    assert inner.mean_area_px == counted.mean_area_px  # the RDF shell width does not depend on the rule
    truth = particle_stats(gt, include_border=True)
    assert compare_stats(truth, truth).size_hist_cosine == pytest.approx(0.0, abs=1e-12)
    # Truth areas 36, 36, 64, 100 -> Rice ceil(2 * 4^(1/3)) = 4 bins over the truth's [36, 100]
    # (width 16): truth (2, 1, 0, 1); the prediction's 120 lies beyond and counts in the last bin: (2, 1, 0, 2).
    np.testing.assert_allclose(rice_edges(truth.areas_px), [36, 52, 68, 84, 100])
    h_true, h_pred = np.array([2, 1, 0, 1.0]), np.array([2, 1, 0, 2.0])
    expected = 1 - h_true @ h_pred / (np.linalg.norm(h_true) * np.linalg.norm(h_pred))
    assert compare_stats(truth, counted).size_hist_cosine == pytest.approx(expected, abs=1e-12)


def test_rdf_rmse_follows_the_documented_shells():
    gt = disc_lattice(7)
    pred = disc_lattice(7, jitter=4, seed=1)
    # Expected by hand from the documented recipe: shell width sqrt(mean true area) / 4 for both,
    # g(r) of the centroids of non-border particles, RMSE over the shells both reach.
    stats_true, stats_pred = particle_stats(gt), particle_stats(pred)
    dr = math.sqrt(stats_true.mean_area_px) / 4
    g_true = radial_distribution(stats_true.centroids_px, image_shape=gt.shape, dr_px=dr, rcutoff=0.9, nm_per_px=None).g_r
    g_pred = radial_distribution(stats_pred.centroids_px, image_shape=gt.shape, dr_px=dr, rcutoff=0.9, nm_per_px=None).g_r
    n = min(len(g_true), len(g_pred))
    expected = rdf_rmse(g_true[:n], g_pred[:n])
    result = particle_analysis(gt, pred)
    assert result.rdf_rmse == pytest.approx(expected, rel=1e-12)
    assert result.rdf_rmse > 0.1  # jitter blurs the lattice peaks
    assert math.isnan(particle_analysis(gt, np.where(gt == 1, gt, 0)).rdf_rmse)  # one particle: no g(r)


# --- tu sweep ----------------------------------------------------------------------------------


def synthetic_prediction(uncertainties: list[float], *, image_shape=(96, 128)) -> MCPrediction:
    """Squares 1..n on a 64 x 64 network canvas, instance k with uniform information uncertainties[k - 1]."""
    labels = torch.zeros(64, 64, dtype=torch.int64)
    information = torch.zeros(64, 64)
    for k, value in enumerate(uncertainties, start=1):
        row, col = divmod(k - 1, 4)
        labels[2 + 15 * row : 12 + 15 * row, 2 + 15 * col : 12 + 15 * col] = k
        information[labels == k] = value
    scores = torch.linspace(0.9, 0.5, len(uncertainties))
    return MCPrediction(labels, scores, information, image_shape)


def test_higher_tu_keeps_at_least_as_many_instances():
    values = [0.001, 0.004, 0.009, 0.012, 0.013, 0.02, 0.05, 0.3]
    prediction = synthetic_prediction(values)
    kept = []
    for tu in (0.0, 0.005, 0.0125, 0.0125001, 0.05, 0.051, 1.0, math.inf):
        labels, scores = prediction.at_tu(tu)
        assert labels.shape == (96, 128) and labels.dtype == np.uint16
        assert int(labels.max()) == len(scores) == sum(v < tu for v in values)  # "not below tu" is dropped
        kept.append(int(labels.max()))
    assert kept == sorted(kept) and kept[0] == 0 and kept[-1] == len(values)
    labels, scores = prediction.at_tu(0.0125)  # 0.001, 0.004, 0.009, 0.012 kept: the first four scores
    np.testing.assert_allclose(scores, prediction.scores[:4].numpy())


def test_sweep_rows_and_summary_on_synthetic_outputs():
    prediction = synthetic_prediction([0.001, 0.01, 0.1])
    truth, _ = prediction.at_tu(math.inf)  # the unfiltered prediction is exactly right
    tus = (0.005, 0.05, math.inf)
    rows = sweep_prediction(truth, prediction, tus)
    assert [row["n_pred"] for row in rows] == [1, 2, 3]
    assert [row["F1_50"] for row in rows] == pytest.approx([2 * 1 / 4, 2 * 2 / 5, 1.0])
    assert rows[-1] == {"tu": math.inf, **evaluate_pair(truth, truth, scores=prediction.scores.numpy()), "n_pred": 3}
    summary = summarise_sweep([{"image": "a", **row} for row in rows] * 2, tus)
    assert list(summary["tu"]) == list(tus) and list(summary["n_pred"]) == [2, 4, 6]
    assert list(summary.columns) == ["tu", *METRIC_KEYS, "n_pred"]
    with pytest.raises(EvaluationError, match=">= 0"):
        sweep_module.check_tu_values([-0.1])


def test_a_stored_sweep_renders_as_it_was_stored():
    prediction = synthetic_prediction([0.001, 0.01])
    truth, _ = prediction.at_tu(math.inf)
    rows = [{"image": "a", **row} for row in sweep_prediction(truth, prediction, (0.005, math.inf))]
    sweep = TuSweep(pd.DataFrame(rows), summarise_sweep(rows, (0.005, math.inf)), 0.005, 30, 1)
    stored = TuSweep.from_json(json.loads(json.dumps(sweep.to_json())))
    assert sweep_table(stored) == sweep_table(sweep) and stored.best("AP") == sweep.best("AP")
    assert stored.per_image.empty and (stored.n_samples, stored.n_images) == (30, 1)


def fake_mc_outputs(network, x, n_samples, *, seed=0, batch_size=3, flips=False):
    """Raw outputs whose embeddings put three discs exactly on their centres, with information
    0.001, 0.01 and 0.1 on them: what a trained network might give, without training one."""
    size = x.shape[-1]
    coords = coordinate_map(size, size)
    offsets = torch.zeros(2, size, size)
    seed_logit = torch.full((size, size), -8.0)
    information = torch.zeros(size, size)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for (cy, cx), value in zip([(14, 14), (14, 46), (46, 30)], [0.001, 0.01, 0.1]):
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= 81
        offsets[:, inside] = torch.atanh(coords[:, cy, cx][:, None] - coords[:, inside])
        seed_logit[inside] = 4.0
        information[inside] = value
    raw = torch.cat([offsets, torch.full((2, size, size), 0.8), seed_logit[None]])
    return MCOutputs(raw, information, (seed_logit > 0).float())


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """A random-weight BPartIS bundle working on 64-px inputs (fast; for wiring, not accuracy)."""
    torch.manual_seed(0)
    config = {"name": "tiny", "input_size": 64, "n_samples": 2, "tu": 0.0125, "seed_threshold": 0.5, "min_size": 4}
    return write_bundle(BPartISNet().state_dict(), tmp_path_factory.mktemp("tiny") / "bundle", config).path


def test_refiltering_matches_a_fresh_segmentation_at_each_tu(tiny_bundle, monkeypatch):
    monkeypatch.setattr(predict, "mc_outputs", fake_mc_outputs)  # the sweep's MC inference goes through it too
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    config = BPartISConfig(model=str(tiny_bundle), n_samples=2)
    prediction = mc_prediction(image, config)
    for tu, expected in ((0.005, 1), (0.0125, 2), (0.5, 3)):
        fresh = segment_bpartis(image, config=BPartISConfig(model=str(tiny_bundle), n_samples=2, tu=tu, keep_border=True))
        labels, scores = prediction.at_tu(tu)
        assert int(labels.max()) == expected
        np.testing.assert_array_equal(labels, fresh.labels)
        np.testing.assert_array_equal(scores, fresh.scores)


# --- the comparison over a tiny dataset ----------------------------------------------------------


def write_dataset(root, maps: dict[str, np.ndarray]):
    """EMPS layout: bright discs on a noisy dark image per instance map, segmaps, test.csv."""
    (root / "images").mkdir(parents=True)
    (root / "segmaps").mkdir()
    rng = np.random.default_rng(0)
    for name, labels in maps.items():
        grey = np.where(labels > 0, 200.0, 50.0) + rng.normal(0, 5, labels.shape)
        image = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
        Image.fromarray(image).save(root / "images" / f"{name}.png")
        Image.fromarray(labels.astype(np.uint16)).save(root / "segmaps" / f"{name}.png")
    (root / "test.csv").write_text("".join(f"{name}\n" for name in maps))
    return root


@pytest.fixture(scope="module")
def tiny_emps(tmp_path_factory):
    few = np.zeros((80, 96), np.uint16)
    for k, centre in enumerate([(25, 25), (25, 65), (58, 45)], start=1):
        few[disk(centre, 11)] = k
    return write_dataset(tmp_path_factory.mktemp("emps"), {"many": disc_lattice(6, jitter=2), "few": few})


@pytest.fixture
def cheap_registry(monkeypatch):
    """The registry holding the classical methods and a 'copy' method (returns the ground truth
    drawn in the image: every disc found), as another method registered at run time would be."""
    original = segment_methods.segment

    def segment(image, *, method, keep_border=False, bpartis=BPartISConfig()):
        if method == "copy":
            from skimage.measure import label

            return Segmentation(label(image[:, :, 0] > 125).astype(np.uint16), method="copy")
        return original(image, method=method, keep_border=keep_border, bpartis=bpartis)

    monkeypatch.setattr(segment_methods, "METHODS", (*CHEAP, "copy"))
    monkeypatch.setattr(segment_methods, "segment", segment)


def test_method_all_scores_every_registered_method(tiny_emps, cheap_registry, tmp_path):
    grid = tmp_path / "grid.png"
    result = CliRunner().invoke(main, ["evaluate", "--data", str(tiny_emps), "--method", "all", "--json", "--grid", str(grid), "--grid-images", "2"])
    assert result.exit_code == 0, result.output
    rows = {row["method"]: row for row in map(json.loads, result.stdout.strip().splitlines())}  # progress: stderr
    assert list(rows) == [*CHEAP, "copy"]
    for row in rows.values():
        assert row["n_images"] == 2 and row["n_failed"] == 0 and row["error"] is None
        assert set(METRIC_KEYS + ANALYSIS_KEYS) <= set(row) and row["seconds_per_image"] > 0
        assert row["n_analysis_images"] == 1  # only "many" has >= 30 particles
    copy = rows["copy"]
    assert copy["F1_50"] == 1.0 and copy["size_hist_cosine"] == 0.0 and copy["rdf_rmse"] == 0.0
    assert rows["ide1"]["paper"] == {"AP": 0.327, "AP50": 0.320, "AP75": 0.189, "mIoU": 0.249}
    assert rows["watershed"]["paper"] is None and rows["copy"]["paper_analysis"] is None
    assert png_size(grid) == (5 * 256, GRID_HEADER_PX + 2 * 256)  # ground truth + 4 methods
    table = CliRunner().invoke(main, ["evaluate", "--data", str(tiny_emps), "--method", "copy,gmm"])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert "size cos" in lines[0] and "paper AP/AP50/AP75/mIoU" in lines[0]
    assert lines[1].split()[0] == "copy" and lines[1].split()[-2:] == ["-", "-"]  # no paper row
    assert "0.411/0.289/0.215/0.236" in lines[2]


def test_failures_are_recorded_and_the_run_goes_on(tiny_emps, cheap_registry, monkeypatch):
    working = segment_methods.segment

    def segment(image, *, method, **kwargs):
        if method == "gmm" and image.shape[0] == 80:
            raise ImageError("gmm: no phases")
        return working(image, method=method, **kwargs)

    monkeypatch.setattr(segment_methods, "segment", segment)
    comparison = compare_methods(tiny_emps, methods=["gmm", "copy"], progress=False)
    gmm, copy = comparison.evaluations
    assert gmm.summary["n_failed"] == 1 and gmm.errors == ["few: ImageError: gmm: no phases"]
    assert copy.summary["n_failed"] == 0
    assert "gmm: failed on 1 of 2 images (few: ImageError: gmm: no phases)" in comparison_table(comparison.evaluations)
    renamed = [type(gmm)("dilated-unet-crf", gmm.per_image, gmm.summary)]  # a row of the MOF method says what it leaves out
    assert "VGG16 object classifier is not implemented" in comparison_table(renamed, style="markdown")
    # a stored row (an earlier run's to_json record, e.g. kept by methods_comparison.py --keep-stored) renders the same
    stored = json.loads(json.dumps([gmm.to_json(), copy.to_json()]))
    assert comparison_table(stored, style="markdown") == comparison_table(comparison.evaluations, style="markdown")
    with pytest.raises(EvaluationError, match="unknown method 'nope'"):
        compare_methods(tiny_emps, methods=["nope"])


def test_overlay_grid_size_and_failed_cells(tiny_emps, cheap_registry, tmp_path):
    comparison = compare_methods(tiny_emps, methods=["copy", "watershed"], keep_examples=2, progress=False)
    assert [example.name for example in comparison.examples] == ["many", "few"]
    example = comparison.examples[1]
    picture = overlay_grid([example, type(example)(example.name, example.image, example.truth, {"copy": example.truth})],
                           ["copy", "watershed"], cell=64)
    assert picture.shape == (GRID_HEADER_PX + 2 * 64, 3 * 64, 3)
    assert picture[GRID_HEADER_PX + 64 + 40, 2 * 64 + 32].tolist() == [32, 32, 32]  # failed cell: background
    save_overlay_grid(tmp_path / "sub" / "g.png", comparison.examples, ["copy", "watershed"], cell=50)
    assert png_size(tmp_path / "sub" / "g.png") == (150, GRID_HEADER_PX + 100)


def test_bpartis_and_the_sweep_from_the_cli(tiny_emps, tiny_bundle, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["evaluate", "--data", str(tiny_emps), "--method", "bpartis,ide1", "--limit", "1",
                                  "--method-model", f"bpartis={tiny_bundle}", "-T", "2", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [(row["method"], row["mode"], row["n_failed"]) for row in rows] == [("bpartis", "bayesian+filter", 0), ("ide1", None, 0)]
    assert rows[0]["paper_analysis"] == {"size_hist_cosine": 0.02111, "aspect_hist_cosine": 0.03261, "rdf_rmse": 0.63646}
    plot = tmp_path / "sweep.png"
    result = runner.invoke(main, ["evaluate", "--data", str(tiny_emps), "--sweep-tu", "--model", str(tiny_bundle), "-T", "2",
                                  "--limit", "1", "--tu-values", "0.001,0.0125,none", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["0.001", "0.0125*", "none"]
    assert "1 images, T=2" in result.output
    assert png_size(plot) == (650, 400)
    bad = runner.invoke(main, ["evaluate", "--data", str(tiny_emps), "--sweep-tu", "--tu-values", "0.01,x"])
    assert bad.exit_code != 0 and "'x' is not a number" in bad.output
    assert runner.invoke(main, ["evaluate", "--data", str(tiny_emps), "--plot", str(plot)]).exit_code != 0


def test_bayesian_modes_and_the_sweep_share_one_mc_inference_per_image(tiny_emps, tiny_bundle, monkeypatch):
    calls = []
    mc_outputs = predict.mc_outputs

    def counted(*args, **kwargs):
        calls.append(1)
        return mc_outputs(*args, **kwargs)

    monkeypatch.setattr(predict, "mc_outputs", counted)
    config = BPartISConfig(model=str(tiny_bundle), n_samples=2)
    comparison = compare_methods(tiny_emps, methods=["bpartis", "bpartis-bayesian"], bpartis=config,
                                 tu_values=(0.0125, math.inf), keep_examples=1, progress=False)
    assert len(calls) == 2  # two images, one MC inference each
    example = comparison.examples[0]
    for name, labels in example.predictions.items():  # what segment() gives for that mode
        own = segment_methods.segment(example.image, method=name, keep_border=True, bpartis=config)
        np.testing.assert_array_equal(labels, own.labels)
    filtered, bayesian = comparison.evaluations
    sweep = comparison.sweep.summary.set_index("tu")
    for evaluation, tu in ((filtered, 0.0125), (bayesian, math.inf)):
        assert evaluation.summary["n_failed"] == 0
        assert evaluation.summary["F1_50"] == pytest.approx(sweep.loc[tu, "F1_50"], nan_ok=True)
    assert comparison.sweep.n_images == 2 and comparison.sweep.n_samples == 2
