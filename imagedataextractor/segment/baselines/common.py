"""Helpers shared by the classical baselines: input checks, particle polarity, label packing."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from ...errors import ImageError, SettingsError
from ...imageio import as_rgb
from ..types import Segmentation

#: "bright": particles brighter than the background; "dark": darker; "auto": decided per image by
#: :func:`particles_are_bright`.
Polarity = Literal["auto", "bright", "dark"]
POLARITIES = ("auto", "bright", "dark")
#: Width of the border band that votes on the background's intensity, as a fraction of the short side.
BORDER_BAND_FRACTION = 0.05


def as_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luminance of an (H, W, 3) RGB image; (H, W) greyscale and RGBA are accepted too.

    Raises :class:`ImageError` naming ``image`` when the array cannot be an image.
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"image: expected a numpy array, got {type(image).__name__}")
    if image.ndim == 2 and image.dtype == np.uint8:
        if min(image.shape) < 1:
            raise ImageError(f"image: empty array of shape {image.shape}")
        return np.ascontiguousarray(image)
    return cv2.cvtColor(as_rgb(image, name="image"), cv2.COLOR_RGB2GRAY)


def check_polarity(polarity: str) -> None:
    if polarity not in POLARITIES:
        raise SettingsError(f"polarity: expected one of {POLARITIES}, got {polarity!r}")


def _largest_component_share(mask: np.ndarray) -> float:
    """Area of the largest 4-connected component of ``mask`` over the area of ``mask`` (0 if empty)."""
    total = int(np.count_nonzero(mask))
    if total == 0:
        return 0.0
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=4)
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / total


def particles_are_bright(grey: np.ndarray, polarity: Polarity = "auto") -> bool:
    """Whether particles are brighter than the background in ``grey`` ((H, W) uint8).

    With ``polarity="auto"`` the image is split at its Otsu threshold and the background is taken to
    be the side that (a) forms one large connected region and (b) covers the image border: the vote is
    ``share(dark) - share(bright) + (0.5 - bright fraction of the border band)``, where share is the
    largest 4-connected component's fraction of that side's area. On the 465 labelled EMPS images this
    agrees with the ground truth (mean intensity inside vs outside the particles) on 88 %; the border
    vote alone on 83 %, the minority side on 76 %.
    """
    check_polarity(polarity)
    if polarity != "auto":
        return polarity == "bright"
    smooth = cv2.GaussianBlur(grey, (0, 0), 1.5)
    if int(smooth.min()) == int(smooth.max()):
        return True
    bright = smooth > threshold_otsu(smooth)
    band = max(1, round(BORDER_BAND_FRACTION * min(grey.shape)))
    border = np.concatenate(
        [bright[:band].ravel(), bright[-band:].ravel(), bright[:, :band].ravel(), bright[:, -band:].ravel()]
    )
    vote = _largest_component_share(~bright) - _largest_component_share(bright) + (0.5 - float(border.mean()))
    return vote > 0


def particles_up(grey: np.ndarray, bright: bool) -> np.ndarray:
    """``grey`` if particles are bright, else its negative, so that particles are always bright."""
    return grey if bright else np.subtract(255, grey, dtype=np.uint8)


def make_segmentation(
    labels: np.ndarray, *, scores: np.ndarray | None, method: str, details: dict
) -> Segmentation:
    """Pack a non-negative integer instance map into a :class:`Segmentation`: the ids present are
    renumbered 1..n keeping their order, as uint16; ``scores`` (indexed by old id - 1) follow them."""
    labels = np.asarray(labels, dtype=np.int64)
    present = np.bincount(labels.ravel(), minlength=1) > 0
    present[0] = False
    old_ids = np.flatnonzero(present)
    if len(old_ids) > np.iinfo(np.uint16).max:
        raise ImageError(f"image: {len(old_ids)} instances do not fit a uint16 label map")
    lookup = np.zeros(len(present), np.uint16)
    lookup[old_ids] = np.arange(1, len(old_ids) + 1)
    if scores is not None:
        scores = np.clip(np.asarray(scores, np.float32)[old_ids - 1], 0.0, 1.0)
    return Segmentation(labels=lookup[labels], scores=scores, method=method, details=details)
