"""Instance-segmentation metrics: the BPartIS paper's AP family, COCO mask mAP and F1 (the
distribution distances of particle analyses are in :mod:`.analysis`, instance overlaps in
:mod:`imagedataextractor.labelmaps`).

Every function takes a ground-truth and a predicted instance map: (H, W) integer arrays, 0 =
background, any positive ids (not necessarily contiguous), at the image's native resolution (the
ground truth is never resized, so a prediction of another shape is refused). Instances are ordered
by ascending id wherever an array is indexed by instance.

Two families are reported side by side:

* **Paper metrics** (``AP``, ``AP50``, ``AP75``, ``mIoU``), as in Yildirim & Cole, "Bayesian
  Particle Instance Segmentation for Electron Microscopy Image Quantification", J. Chem. Inf.
  Model. 2021, following the authors' implementation (by256/bpartis, ``bpartis/utils/eval.py``,
  ``metrics``/``compute_tp_fp_fn``/``make_monotonic``). See :func:`paper_metrics` for the exact
  convention. This AP integrates precision over the *recall that changes with the IoU threshold*,
  not over a confidence ranking, so it is not a COCO AP: it can fall when more particles are
  matched at high IoU, and it is 0 when recall is the same at every threshold (unless the
  prediction is perfect).
* **Sound summaries** (``mAP_coco``, ``F1_50``): COCO mask mAP (pycocotools' algorithm, per image)
  and F1 with one-to-one matching at IoU >= 0.5.

Per-image values are combined by :func:`summarise` (mean over images). An image with neither
ground-truth nor predicted instances has nothing to score: its metrics are NaN and ``summarise``
leaves it out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import IDEError
from ..labelmaps import check_pair, instance_overlap, iou_matrix

#: IoU thresholds of the paper metric: 0.00, 0.05, ..., 0.95 (a match needs IoU > t).
PAPER_IOU_THRESHOLDS = np.round(np.arange(20) * 0.05, 2)
#: IoU thresholds of COCO mAP, exactly as pycocotools builds them (a match needs IoU >= t).
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
#: Recall points at which COCO samples the interpolated precision (101-point interpolation).
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)
#: Keys of :func:`evaluate_pair`'s result, in report order.
METRIC_KEYS = ("AP", "AP50", "AP75", "mIoU", "mAP_coco", "F1_50")

# Above this label value, ids are compacted with np.unique instead of a lookup table, so that a map
# with a few huge ids does not allocate a table as long as its largest id.


class EvaluationError(IDEError):
    """Arguments to a metric (scores, samples, curves) are inconsistent or malformed."""


@dataclass(frozen=True, eq=False)
class ImageMetrics:
    """The paper metrics of one image.

    ap, ap50, ap75: paper AP and the precision at IoU thresholds 0.5 and 0.75 (see :func:`paper_metrics`).
    mean_iou: mean over predictions of the best IoU with a ground-truth instance, where a prediction
        whose best IoU is <= 0.5 counts 0 (0.0 when there are no predictions).
    thresholds: (20,) IoU thresholds t = 0.00..0.95; a prediction matches a ground truth when IoU > t.
    precision, recall: (20,) float arrays, TP / (TP + FP) and TP / (TP + FN) at each threshold.
    tp, fp, fn: (20,) int arrays of the counts at each threshold.
    n_gt, n_pred: numbers of ground-truth and predicted instances.
    All scalars are NaN (arrays too) when the image has neither ground-truth nor predicted instances.
    """

    ap: float
    ap50: float
    ap75: float
    mean_iou: float
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    n_gt: int
    n_pred: int


def _nan_metrics(n_thresholds: int) -> ImageMetrics:
    nan_curve = np.full(n_thresholds, np.nan)
    nan_curve.setflags(write=False)
    zeros = np.zeros(n_thresholds, np.int64)
    zeros.setflags(write=False)
    return ImageMetrics(math.nan, math.nan, math.nan, math.nan, PAPER_IOU_THRESHOLDS, nan_curve, nan_curve,
                        zeros, zeros, zeros, 0, 0)


def _paper_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Paper AP from precision and recall in increasing-threshold order (see :func:`paper_metrics`)."""
    if np.all(precision == 1.0) and np.all(recall == 1.0):
        return 1.0
    envelope = np.maximum.accumulate(precision)[::-1]
    recall = recall[::-1]
    return float(np.sum(np.diff(recall) * (envelope[1:] + envelope[:-1]) / 2))


def _paper_from_iou(iou: np.ndarray) -> ImageMetrics:
    n_gt, n_pred = iou.shape
    thresholds = PAPER_IOU_THRESHOLDS
    if n_gt == 0 and n_pred == 0:
        return _nan_metrics(thresholds.size)
    gt_index, pred_index = np.nonzero(iou)  # IoU 0 never matches, since every t >= 0
    pair_iou = iou[gt_index, pred_index]
    tp = np.zeros(thresholds.size, np.int64)
    fp = np.zeros(thresholds.size, np.int64)
    for k, t in enumerate(thresholds):
        hit = pair_iou > t
        matches_per_gt = np.bincount(gt_index[hit], minlength=n_gt)
        matched_preds = np.count_nonzero(np.bincount(pred_index[hit], minlength=n_pred))
        tp[k] = np.count_nonzero(matches_per_gt)
        # Unmatched predictions, plus every match to a ground truth beyond its first (duplicates).
        fp[k] = (n_pred - matched_preds) + np.sum(np.maximum(matches_per_gt - 1, 0))
    fn = n_gt - tp
    precision = np.divide(tp, tp + fp, out=np.zeros(thresholds.size), where=(tp + fp) > 0)
    recall = tp / n_gt if n_gt else np.zeros(thresholds.size)
    best_iou = iou.max(axis=0) if n_gt else np.zeros(n_pred)
    mean_iou = float(np.mean(np.where(best_iou > 0.5, best_iou, 0.0))) if n_pred else 0.0
    for array in (precision, recall, tp, fp, fn):
        array.setflags(write=False)
    return ImageMetrics(
        ap=_paper_ap(precision, recall),
        ap50=float(precision[np.flatnonzero(thresholds == 0.5)[0]]),
        ap75=float(precision[np.flatnonzero(thresholds == 0.75)[0]]),
        mean_iou=mean_iou,
        thresholds=thresholds,
        precision=precision,
        recall=recall,
        tp=tp,
        fp=fp,
        fn=fn,
        n_gt=n_gt,
        n_pred=n_pred,
    )


def paper_metrics(gt: np.ndarray, pred: np.ndarray) -> ImageMetrics:
    """The BPartIS paper's AP, AP50, AP75 and mean IoU for one image.

    Convention (the authors' ``bpartis/utils/eval.py``): for each threshold t in 0.00, 0.05, ...,
    0.95 a (ground truth, prediction) pair matches when IoU > t. A ground truth with at least one
    match is a TP, one with none an FN; each match to a ground truth beyond the first is an FP
    (duplicate), and so is each prediction matching nothing. Below t = 0.5 one prediction may
    match several ground truths (each counts as a TP). precision(t) = TP / (TP + FP) (0 with no
    predictions), recall(t) = TP / (TP + FN) (0 with no ground truth). AP50 and AP75 are the raw
    precision at t = 0.5 and 0.75. mean IoU is taken at t = 0.5 over predictions: a matched
    prediction counts its best IoU, an unmatched one 0 (0.0 with no predictions).

    AP: ordered by decreasing threshold (so non-decreasing recall), precision is replaced by its
    envelope (the best precision at any lower threshold, i.e. at any recall at least as high) and
    integrated by the trapezoid rule between the recall at t = 0.95 and the recall at t = 0, with
    no extension to recall 0; a prediction perfect at every threshold scores 1. So when recall is
    the same at every threshold AP is 0 unless everything is perfect: finding 3 of 4 particles
    exactly scores 0, as does one extra false positive. This is what the original computes: its
    branch meant to give a constant curve its precision compares float16-rounded values with
    values carrying a 1e-12 denominator offset, so in effect it fires only for all-0 curves
    (equal to the trapezoid's 0 anyway). Kept as is so that numbers compare with the paper; use
    ``mAP_coco``/``F1_50`` for a sound summary. The original fails on an empty map; here see
    Returns. On 150 random pairs of non-empty maps, and on such constant curves, the results
    agree with the original to 1e-7 (its IoUs are float32).

    Parameters
    ----------
    gt, pred : (H, W) integer instance maps, 0 = background, same shape.

    Returns
    -------
    ImageMetrics; all zeros when exactly one map is empty, NaN scalars when both are.

    Example
    -------
    >>> gt = np.zeros((8, 8), np.uint16); gt[:4, :4] = 1
    >>> paper_metrics(gt, gt).ap
    1.0
    """
    return _paper_from_iou(instance_overlap(*check_pair(gt, pred)).iou)


def _has_conflicts(candidates: np.ndarray) -> bool:
    """Whether some instance has more than one candidate partner (never the case above IoU 0.5)."""
    return bool((candidates.sum(axis=0) > 1).any() or (candidates.sum(axis=1) > 1).any())


def _greedy_hits(iou: np.ndarray, threshold: float) -> np.ndarray:
    """Which predictions (columns, already in decreasing score order) are TPs under COCO's matching:
    each in turn takes the unmatched ground truth of highest IoU >= threshold."""
    candidates = iou >= threshold
    if not _has_conflicts(candidates):
        return np.asarray(candidates.any(axis=0))
    hits = np.zeros(iou.shape[1], bool)
    taken = np.zeros(iou.shape[0], bool)
    for j in np.flatnonzero(candidates.any(axis=0)):
        free = np.flatnonzero(candidates[:, j] & ~taken)
        if free.size:
            taken[free[np.argmax(iou[free, j])]] = True
            hits[j] = True
    return hits


def _pred_scores(scores: object, pred_ids: np.ndarray) -> np.ndarray:
    if scores is None:
        return np.zeros(pred_ids.size)
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise EvaluationError(f"scores: expected a 1-D array indexed by instance id - 1, got shape {values.shape}")
    if pred_ids.size and values.size < pred_ids[-1]:
        raise EvaluationError(f"scores: {values.size} given but the prediction has instance id {pred_ids[-1]}")
    chosen = values[pred_ids - 1]
    if not np.all(np.isfinite(chosen)):
        raise EvaluationError("scores: instance scores must be finite")
    return chosen


def _coco_from_iou(iou: np.ndarray, scores: np.ndarray) -> float:
    n_gt, n_pred = iou.shape
    if n_gt == 0:
        return math.nan if n_pred == 0 else 0.0
    if n_pred == 0:
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    iou, scores = iou[:, order], scores[order]
    hits = np.stack([_greedy_hits(iou, t) for t in COCO_IOU_THRESHOLDS])
    # Detections with equal scores are released together: the curve has a point only after the
    # last of each tie, so it does not depend on the order of tied instances.
    last_of_tie = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    tp = np.cumsum(hits, axis=1)[:, last_of_tie]
    recall = tp / n_gt
    precision = tp / (last_of_tie + 1)
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    sampled = np.zeros((COCO_IOU_THRESHOLDS.size, COCO_RECALL_POINTS.size))
    for k in range(COCO_IOU_THRESHOLDS.size):
        index = np.searchsorted(recall[k], COCO_RECALL_POINTS, side="left")
        reached = index < recall.shape[1]
        sampled[k, reached] = envelope[k, index[reached]]
    return float(sampled.mean())


def coco_map(gt: np.ndarray, pred: np.ndarray, *, scores: np.ndarray | None = None) -> float:
    """COCO mask mAP of one image: mean over IoU 0.50:0.05:0.95 of the 101-point interpolated AP.

    Follows pycocotools' ``COCOeval`` (iouType "segm", one category, area range "all"): at each
    threshold, predictions in decreasing score order each take the unmatched ground truth of
    highest IoU >= t; the precision-recall curve over that ranking is made monotone (envelope)
    and sampled at recall 0, 0.01, ..., 1 (0 beyond the highest recall reached). Differences
    from pycocotools: no cap on detections per image (pycocotools keeps the top 100), and tied
    scores are released together (one curve point per tie) instead of in input order.

    Parameters
    ----------
    gt, pred : (H, W) integer instance maps, 0 = background, same shape.
    scores : per-instance confidence indexed by prediction id - 1 (as ``Segmentation.scores``),
        length >= the largest predicted id. None means all predictions are equally confident, so
        the curve is the single point (precision, recall) of the whole prediction.

    Returns
    -------
    float in [0, 1]; 0 when either map has no instances, NaN when both have none (pycocotools
    reports -1, undefined, for an image without ground truth).

    Example
    -------
    >>> gt = np.zeros((8, 8), np.uint16); gt[:4, :4] = 1
    >>> coco_map(gt, gt)
    1.0
    """
    overlap = instance_overlap(*check_pair(gt, pred))
    return _coco_from_iou(overlap.iou, _pred_scores(scores, overlap.pred_ids))


def _one_to_one_matches(iou: np.ndarray, threshold: float) -> int:
    """Largest number of (ground truth, prediction) pairs with IoU >= threshold, each instance used
    at most once; among maximum matchings, the one of highest total IoU."""
    candidates = iou >= threshold
    if not _has_conflicts(candidates):
        return int(candidates.sum())
    rows, cols = np.flatnonzero(candidates.any(axis=1)), np.flatnonzero(candidates.any(axis=0))
    sub_iou, sub_candidates = iou[np.ix_(rows, cols)], candidates[np.ix_(rows, cols)]
    # Each match is worth more than any total IoU of fewer matches can make up for.
    weight = np.where(sub_candidates, min(rows.size, cols.size) + 1 + sub_iou, 0.0)
    matched_rows, matched_cols = linear_sum_assignment(weight, maximize=True)
    return int(sub_candidates[matched_rows, matched_cols].sum())


def _f1_from_iou(iou: np.ndarray, threshold: float) -> float:
    n_gt, n_pred = iou.shape
    if n_gt + n_pred == 0:
        return math.nan
    return 2 * _one_to_one_matches(iou, threshold) / (n_gt + n_pred)


def f1_at(gt: np.ndarray, pred: np.ndarray, *, iou: float = 0.5) -> float:
    """F1 = 2 TP / (2 TP + FP + FN) with one-to-one matching at IoU >= ``iou``.

    TP is the size of a maximum matching between ground-truth and predicted instances whose IoU is
    at least ``iou`` (unique above 0.5; found with the Hungarian algorithm where instances compete).

    Parameters
    ----------
    gt, pred : (H, W) integer instance maps, 0 = background, same shape.
    iou : IoU threshold in [0, 1].

    Returns
    -------
    float in [0, 1]; NaN when both maps are empty.

    Example
    -------
    >>> gt = np.zeros((8, 8), np.uint16); gt[:4, :4] = 1; gt[5:, 5:] = 2
    >>> f1_at(gt, np.where(gt == 2, 0, gt))
    0.6666666666666666
    """
    if not 0.0 <= iou <= 1.0:
        raise EvaluationError(f"iou: threshold must be in [0, 1], got {iou}")
    return _f1_from_iou(instance_overlap(*check_pair(gt, pred)).iou, iou)


def evaluate_pair(gt: np.ndarray, pred: np.ndarray, *, scores: np.ndarray | None = None) -> dict[str, float]:
    """All metrics of one image from one IoU computation.

    Parameters
    ----------
    gt, pred : (H, W) integer instance maps, 0 = background, same shape (native resolution).
    scores : optional per-instance confidence indexed by prediction id - 1, used by ``mAP_coco``.

    Returns
    -------
    dict with the keys of :data:`METRIC_KEYS`: ``AP``, ``AP50``, ``AP75``, ``mIoU`` (paper metrics,
    :func:`paper_metrics`), ``mAP_coco`` (:func:`coco_map`), ``F1_50`` (:func:`f1_at` at 0.5).
    All NaN when both maps are empty.

    Example
    -------
    >>> gt = np.zeros((8, 8), np.uint16); gt[:4, :4] = 1
    >>> evaluate_pair(gt, gt)["F1_50"]
    1.0
    """
    overlap = instance_overlap(*check_pair(gt, pred))
    paper = _paper_from_iou(overlap.iou)
    return {
        "AP": paper.ap,
        "AP50": paper.ap50,
        "AP75": paper.ap75,
        "mIoU": paper.mean_iou,
        "mAP_coco": _coco_from_iou(overlap.iou, _pred_scores(scores, overlap.pred_ids)),
        "F1_50": _f1_from_iou(overlap.iou, 0.5),
    }


def summarise(results: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over images, leaving out NaN values (images with nothing to score).

    Parameters
    ----------
    results : per-image dicts such as :func:`evaluate_pair` returns.

    Returns
    -------
    dict from each key seen (in first-seen order) to its mean; NaN for a key with no finite value.

    Example
    -------
    >>> summarise([{"AP": 1.0}, {"AP": 0.5}, {"AP": float("nan")}])
    {'AP': 0.75}
    """
    values: dict[str, list[float]] = {}
    for result in results:
        for key, value in result.items():
            values.setdefault(key, []).append(float(value))
    summary = {}
    for key, column in values.items():
        finite = [v for v in column if not math.isnan(v)]
        summary[key] = float(np.mean(finite)) if finite else math.nan
    return summary
