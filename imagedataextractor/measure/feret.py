"""Feret (caliper) diameters of a pixel region.

A pixel is taken as a disc of diameter 1 around its centre, so a region's caliper width in any
direction is the width of the convex hull of its pixel centres plus 1. Compared with the hull of the
pixel squares this is isotropic (a digitised disc of radius 20 gets a Feret aspect ratio of about
1.01 rather than 1.05, because square corners stick out along the diagonals), and it keeps the
exact minimum Feret min(w, h) of a w x h rectangle (maximum within 0.5 %), 1 for a single pixel and
n for a line of n pixels. scikit-image offers only the maximum; both come from one hull here.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi


def hull_of_pixels(mask: np.ndarray) -> np.ndarray:
    """Convex hull (k, 2), k >= 1, of the pixel centres of a non-empty boolean (H, W) mask, as (x, y)
    vertices in order around the hull (fewer than 3 for a point or a straight line)."""
    boundary = mask & ~ndi.binary_erosion(mask)
    rows, cols = np.nonzero(boundary)
    centres = np.stack([cols, rows], axis=1).astype(np.float32)
    return cv2.convexHull(centres).reshape(-1, 2).astype(np.float64)


def feret_diameters(hull: np.ndarray) -> tuple[float, float]:
    """Maximum and minimum Feret diameters (pixels) of the pixels whose centres have convex hull
    ``hull`` (k, 2), each pixel counted as a disc of diameter 1.

    Maximum: the largest distance between two vertices, + 1. Minimum: the smallest width over the
    directions normal to the hull's edges (rotating calipers: the minimum width of a convex polygon
    is attained with one caliper flush against an edge), + 1.
    """
    differences = hull[:, None, :] - hull[None, :, :]
    feret_max = float(np.sqrt((differences**2).sum(axis=2)).max())
    if len(hull) < 3:
        return feret_max + 1.0, 1.0
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    offsets = hull[None, :, :] - hull[:, None, :]
    distances = np.abs(edges[:, None, 0] * offsets[:, :, 1] - edges[:, None, 1] * offsets[:, :, 0]) / lengths[:, None]
    return feret_max + 1.0, float(distances.max(axis=1).min()) + 1.0
