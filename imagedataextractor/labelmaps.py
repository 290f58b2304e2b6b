"""Instance label maps ((H, W) integer arrays, 0 = background, one id per instance): checking them
and measuring how two maps' instances overlap. Used by the evaluation metrics and the dataset tools."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ImageError

_MAX_LOOKUP_LABEL = 1 << 24


@dataclass(frozen=True)
class Overlap:
    """Every pairwise IoU of two instance maps, rows and columns in ascending id order."""

    iou: np.ndarray  # (n_gt, n_pred) float64
    gt_ids: np.ndarray  # (n_gt,) ids in ascending order
    pred_ids: np.ndarray  # (n_pred,)


def check_map(labels: object, name: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 2:
        raise ImageError(f"{name}: an instance map must be a 2-D (H, W) array, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise ImageError(f"{name}: an instance map must have an integer dtype, got {array.dtype}")
    if array.size and array.dtype.kind == "i" and int(array.min()) < 0:
        raise ImageError(f"{name}: instance ids must be >= 0 (0 = background), found {int(array.min())}")
    return array


def check_pair(gt: object, pred: object) -> tuple[np.ndarray, np.ndarray]:
    gt_map, pred_map = check_map(gt, "gt"), check_map(pred, "pred")
    if gt_map.shape != pred_map.shape:
        raise ImageError(
            f"pred: shape {pred_map.shape} differs from the ground truth's {gt_map.shape}; "
            "predictions must be at the image's native resolution"
        )
    return gt_map, pred_map


def _compact(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (flat index map with 0 = background and 1..n in ascending id order, the n ids)."""
    flat = labels.ravel()
    top = int(flat.max()) if flat.size else 0
    if top > _MAX_LOOKUP_LABEL:
        ids, inverse = np.unique(flat, return_inverse=True)
        if ids[0] == 0:
            return inverse, ids[1:]
        return inverse + 1, ids
    flat = flat.astype(np.intp, copy=False)
    ids = np.flatnonzero(np.bincount(flat, minlength=top + 1)[1:]) + 1
    if ids.size == top:  # ids already 1..n: the map is its own index map
        return flat, ids
    lookup = np.zeros(top + 1, np.intp)
    lookup[ids] = np.arange(1, ids.size + 1)
    return lookup[flat], ids


def instance_overlap(gt: np.ndarray, pred: np.ndarray) -> Overlap:
    gt_index, gt_ids = _compact(gt)
    pred_index, pred_ids = _compact(pred)
    n_gt, n_pred = gt_ids.size, pred_ids.size
    # One joint histogram gives every pairwise intersection and, in row/column 0, each instance's
    # overlap with the other map's background: the areas follow from its margins.
    joint = np.bincount(gt_index * (n_pred + 1) + pred_index, minlength=(n_gt + 1) * (n_pred + 1))
    joint = joint.reshape(n_gt + 1, n_pred + 1)
    intersection = joint[1:, 1:]
    gt_area = joint[1:, :].sum(axis=1)
    pred_area = joint[:, 1:].sum(axis=0)
    union = gt_area[:, None] + pred_area[None, :] - intersection
    return Overlap(intersection / union, gt_ids, pred_ids)


def iou_matrix(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU between every ground-truth and every predicted instance.

    Parameters
    ----------
    gt, pred : (H, W) integer arrays, 0 = background, same shape.

    Returns
    -------
    (n_gt, n_pred) float64 array; row i is the i-th smallest ground-truth id present, column j the
    j-th smallest predicted id. Computed from one joint histogram of the two maps (O(H*W) time,
    O(n_gt * n_pred) memory).

    Example
    -------
    >>> gt = np.zeros((4, 4), np.uint16); gt[:2, :2] = 1
    >>> pred = np.zeros((4, 4), np.uint16); pred[:2, :1] = 7
    >>> iou_matrix(gt, pred)
    array([[0.5]])
    """
    return instance_overlap(*check_pair(gt, pred)).iou
