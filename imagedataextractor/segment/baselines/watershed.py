"""The usual image-processing baseline: denoise, Otsu threshold, fill holes, distance transform,
h-maxima markers, marker-controlled watershed, small-object removal."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.morphology import local_maxima
from skimage.segmentation import watershed

from ...errors import SettingsError
from ..types import Segmentation
from .common import Polarity, as_grey, check_polarity, make_segmentation, particles_are_bright

log = logging.getLogger(__name__)

METHOD = "watershed"


@dataclass(frozen=True)
class WatershedConfig:
    """Settings of :func:`segment_watershed`.

    polarity: "auto" (decided per image), "bright" or "dark" particles.
    denoise: "median" (kernel ``denoise_size_px``), "gaussian" (sigma ``denoise_size_px`` / 3),
        "nlmeans" (OpenCV non-local means, strength ``nlmeans_strength``; slow: ~1 s per megapixel) or "none".
    min_contrast: the Otsu classes' mean grey levels must differ by at least this much (0-255 scale),
        else the image is taken to hold no particles.
    fill_holes: fill holes in the foreground mask (particles with bright/dark cores).
    h_px: markers are the h-maxima of the distance transform: a neck splits two particles when it is at
        least ``h_px`` pixels narrower (in half-width) than the smaller of the two.
    min_area_px: foreground blobs and final instances smaller than this many pixels are dropped.

    Defaults were picked on 25 EMPS training images (h_px 1-4, min_area_px 30/100, median/Gaussian/
    non-local-means denoising); non-local means scored slightly higher but costs ~5x the time.
    """

    polarity: Polarity = "auto"
    denoise: Literal["median", "gaussian", "nlmeans", "none"] = "median"
    denoise_size_px: int = 5
    nlmeans_strength: float = 10.0
    min_contrast: float = 10.0
    fill_holes: bool = True
    h_px: float = 3.0
    min_area_px: int = 100

    def __post_init__(self) -> None:
        check_polarity(self.polarity)
        if self.denoise not in ("median", "gaussian", "nlmeans", "none"):
            raise SettingsError(f"denoise: unknown method {self.denoise!r}")
        if self.denoise_size_px < 1 or (self.denoise == "median" and self.denoise_size_px % 2 == 0):
            raise SettingsError(f"denoise_size_px: expected a positive (odd for median) size, got {self.denoise_size_px}")
        if self.h_px < 0 or self.min_area_px < 0 or self.min_contrast < 0:
            raise SettingsError("h_px, min_area_px and min_contrast must be >= 0")


def _denoise(grey: np.ndarray, config: WatershedConfig) -> np.ndarray:
    if config.denoise == "median":
        return cv2.medianBlur(grey, config.denoise_size_px)
    if config.denoise == "gaussian":
        return cv2.GaussianBlur(grey, (0, 0), config.denoise_size_px / 3.0)
    if config.denoise == "nlmeans":
        return cv2.fastNlMeansDenoising(grey, None, h=config.nlmeans_strength, templateWindowSize=7, searchWindowSize=21)
    return grey


def foreground_mask(grey: np.ndarray, *, bright: bool, min_contrast: float) -> np.ndarray:
    """(H, W) bool: pixels on the particle side of the Otsu threshold of ``grey`` ((H, W) uint8), or all
    False when the two Otsu classes differ by less than ``min_contrast`` grey levels."""
    if int(grey.min()) == int(grey.max()):
        return np.zeros(grey.shape, bool)
    threshold = threshold_otsu(grey)
    above = grey > threshold
    if float(grey[above].mean()) - float(grey[~above].mean()) < min_contrast:
        return np.zeros(grey.shape, bool)
    return above if bright else ~above


def _remove_small(labels: np.ndarray, min_area_px: int) -> np.ndarray:
    """Zero the labels of ``labels`` (int, 0 = background) covering fewer than ``min_area_px`` pixels."""
    areas = np.bincount(labels.ravel())
    small = areas < min_area_px
    small[0] = False
    if small.any():
        labels = np.where(small[labels], 0, labels)
    return labels


def _merge_shallow_basins(basins: np.ndarray, height: np.ndarray, h: float) -> np.ndarray:
    """Merge watershed basins whose peaks rise less than ``h`` above the pass to a higher neighbour.

    ``basins`` (H, W) int labels from a watershed of ``-height`` seeded at every regional maximum;
    merging them in order of decreasing pass height gives the partition that h-maxima markers would,
    without the (slow) morphological reconstruction that computing h-maxima directly needs.
    """
    n = int(basins.max())
    if n < 2:
        return basins
    peak = np.asarray(ndi.maximum(height, labels=basins, index=np.arange(n + 1)), np.float64)
    # Passes: for each pair of 4-neighbouring pixels in different basins, the lower of the two heights;
    # the pass between two basins is the highest such value along their common border.
    pairs, levels = [], []
    for a, b, ha, hb in (
        (basins[:, :-1], basins[:, 1:], height[:, :-1], height[:, 1:]),
        (basins[:-1, :], basins[1:, :], height[:-1, :], height[1:, :]),
    ):
        border = (a != b) & (a > 0) & (b > 0)
        lo, hi = np.minimum(a[border], b[border]), np.maximum(a[border], b[border])
        pairs.append(lo.astype(np.int64) * (n + 1) + hi)
        levels.append(np.minimum(ha[border], hb[border]))
    keys, level = np.concatenate(pairs), np.concatenate(levels)
    if keys.size == 0:
        return basins
    order = np.lexsort((-level, keys))
    keys, level = keys[order], level[order]
    first = np.r_[True, keys[1:] != keys[:-1]]
    keys, level = keys[first], level[first]
    parent = np.arange(n + 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_height = np.argsort(-level, kind="stable")
    for key, pass_height in zip(keys[by_height], level[by_height]):
        ra, rb = root(int(key // (n + 1))), root(int(key % (n + 1)))
        if ra != rb and min(peak[ra], peak[rb]) - pass_height < h:
            keep, drop = (ra, rb) if peak[ra] >= peak[rb] else (rb, ra)
            parent[drop] = keep
    roots = np.array([root(i) for i in range(n + 1)])
    return roots[basins]


def split_by_distance(mask: np.ndarray, *, h_px: float, min_area_px: int) -> np.ndarray:
    """Split a foreground mask into convex-ish instances: watershed of the negated Euclidean distance
    transform from every regional maximum, basins merged while a peak rises less than ``h_px`` pixels
    above its pass (h-maxima markers), instances < ``min_area_px`` pixels dropped.

    mask: (H, W) bool. Returns (H, W) int labels (0 = background; ids not consecutive).
    Also the instance-separation stage of the learned ``unet`` baseline.
    """
    if not mask.any():
        return np.zeros(mask.shape, np.int32)
    distance = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    peaks, _ = ndi.label(local_maxima(distance) & mask)
    basins = watershed(-distance, peaks, mask=mask)
    return _remove_small(_merge_shallow_basins(basins, distance, h_px), min_area_px)


def segment_watershed(image: np.ndarray, *, config: WatershedConfig = WatershedConfig()) -> Segmentation:
    """Segment particles with the classic distance-transform watershed.

    Steps: greyscale; polarity (``config.polarity``, "auto" by
    :func:`~imagedataextractor.segment.baselines.common.particles_are_bright`); denoise; Otsu threshold
    on the particle side; fill holes; drop blobs < ``min_area_px``; Euclidean distance transform;
    watershed of the negated distance from every regional maximum, then basins merged while a peak
    rises less than ``h_px`` above its pass (equivalent to h-maxima markers); instances <
    ``min_area_px`` dropped. Splits touching convex particles; no confidence, so ``scores`` is None.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB array ((H, W) greyscale accepted).
    config : :class:`WatershedConfig`.

    Returns
    -------
    Segmentation with (H, W) uint16 labels at the input size, ``scores=None``, method "watershed" and
    the settings (plus the polarity used) in ``details``.

    Example
    -------
    >>> import numpy as np, cv2
    >>> image = np.full((128, 128, 3), 40, np.uint8)
    >>> _ = cv2.circle(image, (40, 64), 20, (200, 200, 200), -1)
    >>> _ = cv2.circle(image, (78, 64), 20, (200, 200, 200), -1)
    >>> segment_watershed(image).n_instances
    2
    """
    grey = as_grey(image)
    bright = particles_are_bright(grey, config.polarity)
    details = {**dataclasses.asdict(config), "particles_bright": bool(bright)}
    mask = foreground_mask(_denoise(grey, config), bright=bright, min_contrast=config.min_contrast)
    if config.fill_holes:
        mask = ndi.binary_fill_holes(mask)
    blobs, _ = ndi.label(mask)
    mask = _remove_small(blobs, config.min_area_px) > 0
    if not mask.any():
        return make_segmentation(np.zeros(grey.shape, np.int32), scores=None, method=METHOD, details=details)
    labels = split_by_distance(mask, h_px=config.h_px, min_area_px=config.min_area_px)
    log.debug("watershed: %d instances (particles %s)", labels.max(), "bright" if bright else "dark")
    return make_segmentation(labels, scores=None, method=METHOD, details=details)
