"""Instance-segmentation metrics on instance maps drawn in code, with hand-worked expected values,
and COCO mAP checked against pycocotools."""

from __future__ import annotations

import contextlib
import doctest
import io
import math
import time

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from skimage.draw import disk

from imagedataextractor.datasets import load_split
from imagedataextractor.errors import ImageError
from imagedataextractor.evaluate import metrics
from imagedataextractor.evaluate.metrics import (
    METRIC_KEYS,
    EvaluationError,
    coco_map,
    evaluate_pair,
    f1_at,
    iou_matrix,
    paper_metrics,
    summarise,
)
from imagedataextractor.evaluate.analysis import histogram_cosine_distance, rdf_rmse


def squares(shape: tuple[int, int], boxes: dict[int, tuple[int, int, int, int]]) -> np.ndarray:
    """Instance map with instance ``id`` filling rows r0:r1, columns c0:c1 of each box."""
    labels = np.zeros(shape, np.uint16)
    for instance_id, (r0, r1, c0, c1) in boxes.items():
        labels[r0:r1, c0:c1] = instance_id
    return labels


def random_discs(rng: np.random.Generator, n: int, shape: tuple[int, int], radius: tuple[float, float]) -> np.ndarray:
    labels = np.zeros(shape, np.uint16)
    for instance_id in range(1, n + 1):
        centre = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        rr, cc = disk(centre, rng.uniform(*radius), shape=shape)
        labels[rr, cc] = instance_id
    return labels


def test_iou_of_a_shifted_square_is_exact():
    gt = squares((40, 40), {1: (5, 25, 5, 25)})
    pred = squares((40, 40), {1: (5, 25, 8, 28)})  # 20x20 square moved 3 px right
    # intersection 20 * 17, union 20 * 23
    assert iou_matrix(gt, pred)[0, 0] == 17 / 23


@pytest.mark.parametrize("id_offset", [0, 40_000, 2**30])
def test_iou_matrix_matches_pairwise_masks(id_offset):
    rng = np.random.default_rng(3)
    gt = random_discs(rng, 12, (80, 90), (4, 14)).astype(np.int64)
    pred = np.roll(gt, (2, -3), axis=(0, 1))
    pred[random_discs(rng, 4, (80, 90), (3, 9)) > 0] = 77  # a split-off / spurious instance
    pred = np.where(pred > 0, pred + id_offset, 0)  # non-contiguous, possibly huge ids
    gt_ids = [i for i in np.unique(gt) if i]
    pred_ids = [i for i in np.unique(pred) if i]
    expected = np.array([[np.sum((gt == g) & (pred == p)) / np.sum((gt == g) | (pred == p)) for p in pred_ids]
                         for g in gt_ids])
    np.testing.assert_allclose(iou_matrix(gt, pred), expected, rtol=0, atol=1e-15)


def test_perfect_prediction_scores_one_everywhere():
    gt = random_discs(np.random.default_rng(0), 15, (120, 120), (5, 15))
    permuted = np.random.default_rng(1).permutation(int(gt.max())) + 1
    pred = np.where(gt > 0, permuted[gt.astype(np.int64) - 1] + 100, 0)  # same instances, other ids
    result = evaluate_pair(gt, pred)
    assert result == {"AP": 1.0, "AP50": 1.0, "AP75": 1.0, "mIoU": 1.0, "mAP_coco": 1.0, "F1_50": 1.0}


def test_paper_metrics_hand_example_with_shift_and_false_positive():
    gt = squares((20, 50), {1: (2, 12, 2, 12), 2: (2, 12, 20, 30)})
    pred = squares((20, 50), {5: (2, 12, 2, 12), 9: (2, 12, 22, 32), 3: (15, 18, 40, 45)})
    # IoU(gt1, pred5) = 1; IoU(gt2, pred9) = 80 / 120 = 2/3 (10x10 shifted 2 px); pred3 touches nothing.
    # t = 0.00..0.65 (14 thresholds): TP 2, FP 1 (pred3), FN 0 -> precision 2/3, recall 1.
    # t = 0.70..0.95 (6 thresholds):  TP 1, FP 2 (pred9, pred3), FN 1 -> precision 1/3, recall 1/2.
    # Envelope (best precision at any lower threshold): 2/3 everywhere.
    # AP = trapezoid over recall, ordered by decreasing t: only the step 1/2 -> 1 has area,
    #      (1 - 1/2) * (2/3 + 2/3) / 2 = 1/3.
    # AP50 = precision(0.5) = 2/3, AP75 = precision(0.75) = 1/3.
    # mIoU at t = 0.5 over predictions: (1 + 2/3 + 0) / 3 = 5/9.
    m = paper_metrics(gt, pred)
    np.testing.assert_array_equal(m.tp, [2] * 14 + [1] * 6)
    np.testing.assert_array_equal(m.fp, [1] * 14 + [2] * 6)
    np.testing.assert_array_equal(m.fn, [0] * 14 + [1] * 6)
    assert m.ap == pytest.approx(1 / 3, abs=1e-15)
    assert m.ap50 == pytest.approx(2 / 3, abs=1e-15)
    assert m.ap75 == pytest.approx(1 / 3, abs=1e-15)
    assert m.mean_iou == pytest.approx(5 / 9, abs=1e-15)
    assert (m.n_gt, m.n_pred) == (2, 3)


def test_paper_metrics_hand_example_with_duplicate_and_envelope():
    gt = squares((10, 30), {1: (0, 10, 0, 10), 2: (0, 10, 20, 30)})
    pred = squares((10, 30), {1: (0, 10, 0, 8), 2: (0, 10, 8, 30)})
    # pred1 = 80 px inside gt1: IoU 0.8. pred2 = 220 px covering gt2 and 20 px of gt1:
    # IoU(gt1, pred2) = 20 / 300 = 0.0667, IoU(gt2, pred2) = 100 / 220 = 0.4545.
    # t = 0.00, 0.05:   gt1 matched by pred1 and pred2 (1 duplicate FP), gt2 by pred2
    #                   -> TP 2, FP 1, FN 0: precision 2/3, recall 1.
    # t = 0.10..0.45:   TP 2, FP 0: precision 1, recall 1.
    # t = 0.50..0.75:   only pred1 matches -> TP 1, FP 1, FN 1: precision 1/2, recall 1/2.
    # t = 0.80..0.95:   nothing matches (0.8 > 0.8 is false) -> precision 0, recall 0.
    # Envelope (best precision at any lower t): 2/3, 2/3, then 1 for every t >= 0.10.
    # Trapezoid over recall by decreasing t: steps 0 -> 1/2 and 1/2 -> 1, both at envelope 1:
    # AP = 1/2 * 1 + 1/2 * 1 = 1 (0.5 without the envelope).
    # mIoU at t = 0.5: (0.8 + 0) / 2 = 0.4.
    m = paper_metrics(gt, pred)
    np.testing.assert_array_equal(m.fp, [1, 1] + [0] * 8 + [1] * 6 + [2] * 4)
    np.testing.assert_allclose(m.precision, [2 / 3] * 2 + [1] * 8 + [1 / 2] * 6 + [0] * 4, rtol=0, atol=1e-15)
    np.testing.assert_allclose(m.recall, [1] * 10 + [1 / 2] * 6 + [0] * 4, rtol=0, atol=1e-15)
    assert m.ap == pytest.approx(1.0, abs=1e-15)
    assert (m.ap50, m.ap75) == (0.5, 0.5)
    assert m.mean_iou == pytest.approx(0.4, abs=1e-15)


def test_duplicate_predictions_of_one_particle_are_false_positives():
    gt = squares((12, 12), {1: (0, 10, 0, 10)})
    pred = squares((12, 12), {1: (0, 10, 0, 6), 2: (0, 10, 6, 10)})  # split in IoU 0.6 and 0.4
    m = paper_metrics(gt, pred)
    assert (m.tp[0], m.fp[0], m.fn[0]) == (1, 1, 0)  # t = 0: both match, the second is a duplicate
    assert m.ap50 == 0.5  # t = 0.5: pred2 is unmatched, still an FP
    assert f1_at(gt, pred) == pytest.approx(2 / 3)  # one-to-one: 1 TP, 1 FP


def test_paper_ap_is_zero_when_recall_is_constant_and_precision_imperfect():
    a, b = (0, 20, 0, 20), (0, 20, 30, 50)
    gt = squares((20, 50), {1: a, 2: b})
    pred = squares((20, 50), {1: a, 2: b})
    pred[0, 0] = 2  # gt1 loses one pixel to pred2: IoUs 399/400 and 400/401, and 1/800 for (gt1, pred2)
    m = paper_metrics(gt, pred)
    # Recall is 1 at every threshold; precision is 2/3 at t = 0 (duplicate) and 1 above: the curve
    # has no recall extent, so the paper AP is 0 while every other metric is perfect.
    assert np.all(m.recall == 1.0)
    assert m.precision[0] == pytest.approx(2 / 3) and np.all(m.precision[1:] == 1.0)
    assert m.ap == 0.0
    result = evaluate_pair(gt, pred)
    assert (result["AP50"], result["mAP_coco"], result["F1_50"]) == (1.0, 1.0, 1.0)


def test_missing_instance_lowers_recall():
    boxes = {1: (0, 8, 0, 8), 2: (0, 8, 10, 18), 3: (10, 18, 0, 8), 4: (10, 18, 10, 18)}
    gt = squares((20, 20), boxes)
    pred = squares((20, 20), {k: v for k, v in boxes.items() if k != 4})
    m = paper_metrics(gt, pred)
    assert np.all(m.recall == 0.75) and np.all(m.precision == 1.0)
    assert m.ap == 0.0  # recall never changes with the threshold: no area (the original's result too)
    assert f1_at(gt, pred) == pytest.approx(6 / 7)  # 2 * 3 / (4 + 3)
    # COCO, all scores equal: one point (recall 0.75, precision 1) -> precision 1 at the 76 recall
    # points 0.00..0.75 and 0 at the 25 above.
    assert coco_map(gt, pred) == pytest.approx(76 / 101)


def test_empty_maps():
    empty = np.zeros((16, 16), np.uint16)
    particle = squares((16, 16), {1: (2, 8, 2, 8)})
    nothing = evaluate_pair(empty, empty)
    assert set(nothing) == set(METRIC_KEYS) and all(math.isnan(v) for v in nothing.values())
    assert math.isnan(paper_metrics(empty, empty).ap)
    for gt, pred in ((particle, empty), (empty, particle)):
        assert evaluate_pair(gt, pred) == dict.fromkeys(METRIC_KEYS, 0.0)
        m = paper_metrics(gt, pred)
        assert not m.precision.any() and not m.recall.any()


def pycocotools_map(gt: np.ndarray, pred: np.ndarray, scores: np.ndarray) -> float:
    def rle(mask):
        return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))

    annotations = []
    for index, gt_id in enumerate(i for i in np.unique(gt) if i):
        encoded = rle(gt == gt_id)
        annotations.append({"id": index + 1, "image_id": 1, "category_id": 1, "segmentation": encoded,
                            "area": float(mask_utils.area(encoded)), "iscrowd": 0,
                            "bbox": list(mask_utils.toBbox(encoded))})
    detections = [{"image_id": 1, "category_id": 1, "segmentation": rle(pred == i), "score": float(scores[i - 1])}
                  for i in np.unique(pred) if i]
    coco = COCO()
    coco.dataset = {"images": [{"id": 1, "height": gt.shape[0], "width": gt.shape[1]}],
                    "categories": [{"id": 1}], "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(detections), iouType="segm")
        evaluation.params.maxDets = [1000]  # no cap, like coco_map
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][:, :, 0, 0, 0]  # (IoU thresholds, recall points)
    return float(precision[precision > -1].mean())


@pytest.mark.parametrize("seed", range(6))
def test_coco_map_matches_pycocotools(seed):
    rng = np.random.default_rng(seed)
    gt = random_discs(rng, int(rng.integers(3, 12)), (96, 96), (3, 12))
    pred = np.roll(gt, tuple(rng.integers(-3, 4, size=2)), axis=(0, 1))
    spurious = random_discs(rng, int(rng.integers(1, 5)), (96, 96), (3, 10))
    pred = np.where(spurious > 0, spurious + 100, pred)
    scores = rng.random(int(pred.max()))
    assert coco_map(gt, pred, scores=scores) == pytest.approx(pycocotools_map(gt, pred, scores), abs=1e-12)


def test_coco_map_follows_the_score_ranking():
    gt = squares((20, 20), {1: (0, 8, 0, 8)})
    pred = squares((20, 20), {1: (0, 8, 0, 8), 2: (10, 18, 10, 18)})  # a hit and a false positive
    assert coco_map(gt, pred, scores=np.array([0.9, 0.1])) == 1.0  # hit first: precision 1 up to recall 1
    assert coco_map(gt, pred, scores=np.array([0.1, 0.9])) == 0.5  # FP first: precision 1/2 at recall 1
    assert coco_map(gt, pred) == coco_map(gt, pred, scores=np.array([0.3, 0.3])) == 0.5  # ties: one point


def test_f1_uses_one_to_one_maximum_matching():
    gt = squares((10, 20), {1: (0, 10, 0, 10), 2: (0, 10, 10, 20)})
    pred = squares((10, 20), {1: (0, 10, 6, 14), 2: (0, 10, 14, 20)})
    # pred1 (80 px) overlaps gt1 and gt2 by 40 px each: IoU 40/140 = 0.286 with both;
    # pred2 (60 px) lies inside gt2: IoU 0.6. At 0.25 the best matching pairs pred1-gt1, pred2-gt2.
    assert f1_at(gt, pred, iou=0.25) == 1.0
    assert f1_at(gt, pred, iou=0.5) == 0.5  # only pred2-gt2
    merged = squares((10, 20), {1: (0, 10, 0, 20)})  # IoU exactly 0.5 with both: one match only
    assert f1_at(gt, merged) == pytest.approx(2 / 3)
    assert coco_map(gt, merged) == pytest.approx(np.mean([51 / 101] + [0] * 9))  # recall 1/2 at t = 0.5 only


def test_invalid_inputs_are_refused():
    gt = squares((16, 16), {1: (2, 8, 2, 8)})
    with pytest.raises(ImageError, match="native resolution"):
        evaluate_pair(gt, np.zeros((8, 8), np.uint16))
    with pytest.raises(ImageError, match="integer dtype"):
        iou_matrix(gt, gt.astype(np.float32))
    with pytest.raises(ImageError, match=">= 0"):
        paper_metrics(gt.astype(np.int32) - 1, gt)
    with pytest.raises(ImageError, match="2-D"):
        iou_matrix(gt[None], gt[None])
    with pytest.raises(EvaluationError, match="instance id 5"):
        coco_map(gt, gt * 5, scores=np.array([0.5]))
    with pytest.raises(EvaluationError, match="threshold"):
        f1_at(gt, gt, iou=1.5)


def test_summarise_means_over_images_skipping_nan():
    per_image = [{"AP": 1.0, "F1_50": 0.5}, {"AP": 0.5, "F1_50": math.nan}, {"AP": math.nan, "F1_50": math.nan}]
    summary = summarise(per_image)
    assert summary == {"AP": 0.75, "F1_50": 0.5}
    assert math.isnan(summarise([{"AP": math.nan}])["AP"])


def test_histogram_cosine_distance():
    a = np.array([1.0, 1.2, 2.5])  # two values in [1, 2), one in [2, 3]
    b = np.array([1.5, 2.2, 2.9])  # one in [1, 2), two in [2, 3]
    # histograms (2, 1) and (1, 2): cosine 4 / 5 -> distance 0.2
    assert histogram_cosine_distance(a, b, bins=np.array([1.0, 2.0, 3.0])) == pytest.approx(0.2)
    assert histogram_cosine_distance(a, np.repeat(a, 3), bins=5) == pytest.approx(0.0, abs=1e-12)
    assert histogram_cosine_distance(a, np.array([]), bins=5) == 1.0
    assert math.isnan(histogram_cosine_distance(np.array([]), np.array([]), bins=5))
    with pytest.raises(EvaluationError):
        histogram_cosine_distance(a, b, bins=np.array([2.0, 1.0]))


def test_rdf_rmse():
    assert rdf_rmse(np.array([0.0, 1.0, 1.0, 1.0]), np.array([0.0, 3.0, 1.0, 1.0])) == 1.0  # sqrt(4 / 4)
    with pytest.raises(EvaluationError, match="equal length"):
        rdf_rmse(np.ones(3), np.ones(4))


def test_docstring_examples_run():
    assert doctest.testmod(metrics, extraglobs={"np": np}).failed == 0


def test_a_large_map_is_fast():
    rng = np.random.default_rng(0)
    gt = random_discs(rng, 200, (1000, 1000), (10, 35))
    pred = np.roll(gt, (3, -2), axis=(0, 1))
    scores = rng.random(int(pred.max()))
    evaluate_pair(gt, pred, scores=scores)
    start = time.perf_counter()
    result = evaluate_pair(gt, pred, scores=scores)
    # About 20-30 ms on a busy 2-core machine; a per-pair loop over masks would take seconds.
    assert time.perf_counter() - start < 1.0
    assert 0.9 < result["F1_50"] <= 1.0


@pytest.mark.emps
def test_emps_ground_truth_against_itself_and_a_shift(emps_dir):
    for sample in load_split(emps_dir, "test")[:3]:
        _, gt = sample.load()
        assert evaluate_pair(gt, gt) == dict.fromkeys(METRIC_KEYS, 1.0)
        shifted = evaluate_pair(gt, np.roll(gt, 4, axis=1))
        assert 0.0 < shifted["mIoU"] < 1.0 and shifted["F1_50"] <= 1.0
