"""The scalebar stage: image -> :class:`Scalebar` (bar, label, nm per pixel, regions to blank)."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ..imageio import as_rgb
from .bar import Bar, find_bars, find_box
from .label import Label, read_label
from .parse import NM_PER_UNIT
from .types import Scalebar, ScalebarConfig

log = logging.getLogger(__name__)

# Bars shorter than this (pixels) count only with a label whose unit was read whole.
_MIN_UNSURE_LENGTH_PX = 30
#: Widest field of view (nm) an electron micrograph shows: an SEM at its lowest magnification
#: (x5-x10) spans 1-3 cm. A label read in millimetres that makes the image wider is "nm" read as
#: "mm" (the two differ by one arch; "50 nm" on a TEM image read "50mm" made it 32 cm wide).
_MAX_FIELD_NM = 5e7


def _convincing(bar: Bar) -> bool:
    """A bar worth reporting without a readable label: drawn near pure white or black, standing
    out by 100 grey levels, at least five times as long as thick. Straight edges in micrographs,
    which sometimes have letter-like texture beside them, rarely are all three."""
    return bar.bar_level >= 230 and bar.contrast >= 100 and bar.length_px >= 5 * bar.thickness_px


def _choose(readings: list[tuple[Bar, Label | None]]) -> tuple[Bar, Label] | None:
    """The most bar-like bar whose label reads with a whole unit, else with a guessed one, else
    a convincing bar with an unreadable label. Bars with no text line beside them are never
    chosen, nor short ones (under _MIN_UNSURE_LENGTH_PX) unless their unit was read whole: short
    straight edges and letter strokes next to texture are common, real scalebars that short rare."""

    def rank(item: tuple[Bar, Label]) -> tuple[bool, bool, float]:
        bar, label = item
        return label.parsed is not None, label.exact, bar.score

    candidates = [
        (bar, label)
        for bar, label in readings
        if label is not None
        and (label.exact or bar.length_px >= _MIN_UNSURE_LENGTH_PX)
        and (label.parsed is not None or _convincing(bar))
    ]
    return max(candidates, key=rank) if candidates else None


def _plausible(parsed: tuple[float, str] | None, length_px: float, width_px: int) -> tuple[float, str] | None:
    """``parsed`` (value, unit), with "mm" taken for "nm" where millimetres would make the image
    (``width_px`` wide, the bar ``length_px``) wider than :data:`_MAX_FIELD_NM`."""
    if parsed is None or parsed[1] != "mm":
        return parsed
    value, _ = parsed
    field_nm = value * NM_PER_UNIT["mm"] / length_px * width_px
    return (value, "nm") if field_nm > _MAX_FIELD_NM else parsed


def read_scalebar(image: np.ndarray, *, config: ScalebarConfig = ScalebarConfig()) -> Scalebar:
    """Find the scalebar of a micrograph, read its label and convert it to nanometres per pixel.

    ``image`` is (H, W), (H, W, 3) or (H, W, 4), any numeric dtype (see
    :func:`imagedataextractor.imageio.as_rgb`). Returns a :class:`Scalebar`; with no bar found
    every field is None, and with a bar whose label cannot be read ``length_px`` and ``bar_bbox``
    are set and ``value``/``unit``/``nm_per_px`` are None. Raises ImageError for arrays of the
    wrong shape.

    Example
    -------
    >>> from imagedataextractor.imageio import read_image
    >>> bar = read_scalebar(read_image("tests/data/scalebar/1cb46bfdd5.png"))
    >>> bar.value, bar.unit, round(bar.length_px), round(bar.nm_per_px, 3)
    (100.0, 'nm', 187, 0.535)
    """
    rgb = as_rgb(image, name="image")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    bars = find_bars(grey, config=config)[: config.max_candidates]
    readings: list[tuple[Bar, Label | None]] = []
    for bar in bars:
        label = read_label(grey, bar, config=config)
        readings.append((bar, label))
        log.debug("bar %s length %.1f px: label %s", bar.bbox, bar.length_px, label)
        if label is not None and label.exact:
            break
    chosen = _choose(readings)
    if chosen is None:
        return Scalebar()
    bar, label = chosen
    if label.parsed is None and not config.keep_unlabelled:
        return Scalebar()
    return Scalebar.from_reading(
        text=label.text,
        label=_plausible(label.parsed, bar.length_px, rgb.shape[1]),
        length_px=bar.length_px,
        bar_bbox=bar.bbox,
        text_bbox=label.bbox,
        box_bbox=find_box(grey, bar, label.bbox),
        length_sd_px=bar.length_sd_px,
    )


def scalebar_mask(shape: tuple[int, ...], scalebar: Scalebar, *, margin_px: int = 2) -> np.ndarray:
    """Boolean (H, W) mask, True over the scalebar's box (or bar and label when unboxed), grown by
    ``margin_px``, for blanking before segmentation. ``shape`` is the image's shape; all False
    when no bar was found."""
    mask = np.zeros(shape[:2], bool)
    boxes = [scalebar.box_bbox] if scalebar.box_bbox is not None else [scalebar.bar_bbox, scalebar.text_bbox]
    for box in boxes:
        if box is not None:
            x0, y0, x1, y1 = box
            mask[max(0, y0 - margin_px) : max(0, y1 + margin_px), max(0, x0 - margin_px) : max(0, x1 + margin_px)] = True
    return mask
