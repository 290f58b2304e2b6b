"""Keeping marks printed on a micrograph (a scalebar, panel labels) out of its segmentation:
inpaint them before, drop the instances under them after. Uses OpenCV, not torch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .types import Segmentation


def blank_regions(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of ``image`` ((H, W, 3) uint8) with the pixels under ``mask`` ((H, W) bool: a scalebar
    box, labels) inpainted from the surrounding pixels (OpenCV Telea), so that segmentation does
    not count them as particles. Returns ``image`` itself when the mask is empty."""
    import cv2

    if not mask.any():
        return image
    return cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)


def drop_instances_under(segmentation: Segmentation, mask: np.ndarray) -> Segmentation:
    """``segmentation`` without the instances that overlap ``mask`` ((H, W) bool, the blanked
    scalebar and labels): inpainting can leave a label's box as a bright rectangle that models take
    for a particle, and no particle is measurable under a label. Ids are renumbered 1..m in order."""
    labels = segmentation.labels
    overlapping = np.unique(labels[mask])
    overlapping = overlapping[overlapping > 0]
    if not len(overlapping):
        return segmentation
    keep = np.ones(int(labels.max()) + 1, bool)
    keep[0] = False
    keep[overlapping] = False
    new_ids = np.zeros(len(keep), labels.dtype)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=labels.dtype)
    scores = None if segmentation.scores is None else segmentation.scores[keep[1:]]
    return replace(segmentation, labels=new_ids[labels], scores=scores)


def remove_border_instances(labels: np.ndarray) -> np.ndarray:
    """Drop instances touching the image edge and relabel the rest 1..m, keeping their order."""
    edge_ids = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = np.ones(int(labels.max()) + 1, bool)
    keep[edge_ids] = False
    keep[0] = False
    new_ids = np.zeros_like(keep, dtype=labels.dtype)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=labels.dtype)
    return new_ids[labels]
