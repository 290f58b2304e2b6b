"""Finding scalebar bars: long, thin, uniform, high-contrast horizontal lines or filled rectangles,
white or black, optionally with end ticks, and measuring their length to a fraction of a pixel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .types import BBox, ScalebarConfig

# Grey levels (after flipping dark bars to bright) at which bar pixels are separated from the
# rest; several, because bars range from pure white on grey to anti-aliased lines one pixel thick.
_THRESHOLDS = (235, 200, 165)
# Pixels of a label box differ from its colour (white or black) by at most this (JPEG, scaling).
_BOX_TOLERANCE = 40
# Height of the vertical top-hat: lines thinner than this stand out from what is above and below.
_TOPHAT_HEIGHT_PX = 11
# End ticks may stick out of the body within this fraction of the length from either end.
_TICK_ZONE_FRAC = 0.15


@dataclass(frozen=True)
class Bar:
    """A bar candidate.

    bright: True for a bar lighter than its surroundings. body_bbox: the rows of the long run;
    bbox: the bar's measured extent with its end ticks. length_px: distance between the
    half-contrast points of its ends; length_sd_px: its standard uncertainty, from the sharpness of
    the two ends (see :func:`edge_uncertainty_px`). thickness_px: body rows. bar_level, background_level: grey
    levels (0-255, in the bar-is-bright frame, i.e. inverted for dark bars). contrast: the
    difference between the bar and the brighter of the backgrounds above and below it.
    """

    bright: bool
    bbox: BBox
    body_bbox: BBox
    length_px: float
    thickness_px: int
    bar_level: float
    background_level: float
    contrast: float
    length_sd_px: float = 0.0

    @property
    def score(self) -> float:
        """Geometric plausibility used to rank bars whose labels read equally well."""
        aspect = self.length_px / max(self.thickness_px, 1)
        # Length counts most: the strokes of letters are the commonest short, thin, bright things.
        return min(self.contrast, 200.0) / 200.0 + min(aspect, 20.0) / 40.0 + min(self.length_px / 60.0, 1.5)


def bright_frame(grey: np.ndarray, bright: bool) -> np.ndarray:
    """``grey`` (H, W) float32 as is for bright bars, inverted for dark ones."""
    return grey if bright else 255.0 - grey


def _runs(mask: np.ndarray, min_length: int, max_length: float) -> list[tuple[int, int, int]]:
    """(row, start, end) of every horizontal run of True in ``mask`` with a length in range."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # pairs with starts: both are ordered by row, then column
    lengths = ends - starts
    keep = (lengths >= min_length) & (lengths <= max_length)
    return list(zip(rows[keep].tolist(), starts[keep].tolist(), ends[keep].tolist()))


def _bodies(runs: list[tuple[int, int, int]]) -> list[BBox]:
    """Stack runs of consecutive rows that start and end within a pixel or two of each other into
    bar bodies (x0, y0, x1, y1); anything touching the bar but not in line with it is left out."""
    open_bodies: list[list[int]] = []  # [x0, y0, x1, y1, last start, last end]
    closed: list[list[int]] = []
    row = -1
    for r, start, end in runs:
        if r != row:
            closed.extend(b for b in open_bodies if b[3] < r)
            open_bodies = [b for b in open_bodies if b[3] == r]
            row = r
        tolerance = max(2, (end - start) // 50)
        for body in open_bodies:
            if body[3] == r and abs(body[4] - start) <= tolerance and abs(body[5] - end) <= tolerance:
                body[0], body[2], body[3], body[4], body[5] = min(body[0], start), max(body[2], end), r + 1, start, end
                break
        else:
            open_bodies.append([start, r, end, r + 1, start, end])
    closed.extend(open_bodies)
    return [(b[0], b[1], b[2], b[3]) for b in closed]


def _with_ticks(work: np.ndarray, body: BBox) -> BBox:
    """The body's box grown by end ticks: thin strokes as bright as the bar rising or falling from
    its ends (at most half the bar length) while the middle of those rows stays clear."""
    x0, y0, x1, y1 = body
    zone = max(2, int(round(_TICK_ZONE_FRAC * (x1 - x0))))
    limit = max(3, (x1 - x0) // 2)
    top_limit, bottom_limit = max(0, y0 - limit), min(work.shape[0], y1 + limit)
    middle = slice(x0 + zone, x1 - zone) if x1 - x0 > 2 * zone else slice(x0, x1)
    bar_level = float(np.median(work[y0:y1, middle]))
    around = np.concatenate([work[max(0, y0 - 3) : max(0, y0 - 1), middle].ravel(), work[y1 + 1 : y1 + 3, middle].ravel()])
    if not around.size:
        return body
    mask = work[top_limit:bottom_limit] >= (bar_level + float(np.median(around))) / 2

    def is_tick_row(y: int) -> bool:
        row = mask[y - top_limit]
        ends = np.concatenate([row[max(0, x0 - 2) : x0 + zone], row[x1 - zone : x1 + 2]])
        centre = row[middle] if x1 - x0 > 2 * zone else np.zeros(1, bool)
        return 0 < ends.sum() <= max(6, zone) and centre.mean() < 0.2

    top, bottom = y0, y1
    while top > top_limit and is_tick_row(top - 1):
        top -= 1
    while bottom < bottom_limit and is_tick_row(bottom):
        bottom += 1
    return x0, top, x1, bottom


def _crossing(profile: np.ndarray, level: float, start: int, step: int) -> float:
    """Walk ``profile`` from index ``start`` by ``step`` until it drops below ``level``; return the
    interpolated position (pixel-edge coordinates) of the crossing."""
    i = start
    while 0 <= i + step < len(profile) and profile[i + step] >= level:
        i += step
    j = i + step
    if not 0 <= j < len(profile):
        return float(i + (1 if step > 0 else 0))
    frac = (profile[i] - level) / max(profile[i] - profile[j], 1e-6)
    return i + 0.5 + step * frac  # pixel i's centre is at i + 0.5


#: Standard deviation (px) of an edge's position known only to the pixel: a uniform error over one pixel.
PIXEL_QUANTISATION_SD = 12 ** -0.5


def edge_uncertainty_px(profile: np.ndarray, bar_level: float, outside_level: float, start: int, step: int) -> float:
    """Standard uncertainty (px) of one end of a bar found at the half-contrast crossing of
    ``profile`` walking from ``start`` by ``step``: half the distance between the crossings at a
    quarter and at three quarters of the contrast (the width of the blurred edge), and at least a
    pixel's quantisation (:data:`PIXEL_QUANTISATION_SD`)."""
    contrast = bar_level - outside_level
    inner = _crossing(profile, outside_level + 0.75 * contrast, start, step)
    outer = _crossing(profile, outside_level + 0.25 * contrast, start, step)
    return max(PIXEL_QUANTISATION_SD, abs(outer - inner) / 2)


def _measure(work: np.ndarray, body: BBox, config: ScalebarConfig, bright: bool, full: BBox) -> Bar | None:
    """Measure a bar body in the bar-is-bright image ``work``; None when it is not a convincing bar."""
    width = work.shape[1]
    x0, y0, x1, y1 = body
    length = x1 - x0
    rows = work[y0:y1]
    profile = rows.mean(axis=0)
    inner = profile[x0 + max(1, length // 10) : x1 - max(1, length // 10)]
    bar_level = float(np.median(inner)) if inner.size else float(profile[x0:x1].mean())

    # Background beyond the ends: three columns, skipping the one an anti-aliased end spreads into
    # (further out there may be a box edge or other things).
    left = profile[max(0, x0 - 4) : max(0, x0 - 1)]
    right = profile[x1 + 1 : x1 + 4]
    mid = slice(x0 + length // 5, x1 - length // 5) if length >= 10 else slice(x0, x1)
    above = work[max(0, full[1] - 3) : full[1] - 1, mid] if full[1] >= 2 else np.empty(0)
    below = work[full[3] + 1 : full[3] + 3, mid]
    if not (above.size or below.size):
        return None
    side_levels = [float(np.median(a)) for a in (above, below) if a.size]
    if not left.size or not right.size:
        # A bar may end in the last column of a cropped figure; a long line there is a frame.
        if not (left.size or right.size) or length > 0.5 * width:
            return None
        left = left if left.size else np.array([max(side_levels)])
        right = right if right.size else np.array([max(side_levels)])
    left_level, right_level = float(np.median(left)), float(np.median(right))
    contrast = bar_level - max(side_levels)
    # The ends may run into a particle, so they need less contrast than the long sides.
    if contrast < config.min_contrast or bar_level - max(left_level, right_level) < 0.4 * config.min_contrast:
        return None
    background = float(np.median([left_level, right_level, *side_levels]))
    # Uniformity: the body's column means must be flat compared with the contrast.
    if inner.size >= 3 and float(np.percentile(inner, 10)) < bar_level - 0.35 * contrast:
        return None
    mid_col = (x0 + x1) // 2
    start = int(np.argmax(profile[x0:x1])) + x0 if profile[mid_col] < (bar_level + background) / 2 else mid_col
    left_edge = _crossing(profile, (bar_level + left_level) / 2, start, -1)
    right_edge = _crossing(profile, (bar_level + right_level) / 2, start, +1)
    length_sd = float(np.hypot(edge_uncertainty_px(profile, bar_level, left_level, start, -1),
                               edge_uncertainty_px(profile, bar_level, right_level, start, +1)))
    measured = right_edge - left_edge
    if measured < config.min_length_px or measured > config.max_length_frac * width:
        return None
    extent = (min(full[0], int(np.floor(left_edge))), full[1], max(full[2], int(np.ceil(right_edge))), full[3])
    return Bar(bright, extent, body, float(measured), y1 - y0, bar_level, background, float(contrast), length_sd)


def _candidate_masks(work: np.ndarray, config: ScalebarConfig) -> list[np.ndarray]:
    """Bar-pixel masks of the bar-is-bright image: fixed grey levels for bars that are near white,
    and a vertical top-hat (pixels brighter than what lies a few rows above and below) for thin
    lines that are anti-aliased to grey or drawn on a bright box."""
    masks = [work >= threshold for threshold in _THRESHOLDS]
    tophat = cv2.morphologyEx(work, cv2.MORPH_TOPHAT, np.ones((_TOPHAT_HEIGHT_PX, 1), np.uint8))
    masks += [tophat >= factor * config.min_contrast for factor in (1.0, 2.0)]
    return masks


def find_bars(grey: np.ndarray, *, config: ScalebarConfig = ScalebarConfig()) -> list[Bar]:
    """All bar candidates in a greyscale (H, W) image (any numeric dtype, 0-255), best first.

    Each polarity is thresholded a few ways; stacks of equally long runs in consecutive rows that
    are thin enough are measured (:class:`Bar`), and duplicates found in several masks are merged
    keeping the best.
    """
    grey = np.asarray(grey, np.float32)
    width = grey.shape[1]
    found: list[Bar] = []
    for bright in (True, False):
        work = bright_frame(grey, bright)
        for mask in _candidate_masks(work, config):
            for body in _bodies(_runs(mask, config.min_length_px, config.max_length_frac * width)):
                x0, y0, x1, y1 = body
                if y1 - y0 > max(2, config.max_thickness_frac * (x1 - x0)):
                    continue
                bar = _measure(work, body, config, bright, _with_ticks(work, body))
                if bar is not None:
                    found.append(bar)
    return _without_box_margins(_deduplicate(found))


def _overlap(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _without_box_margins(bars: list[Bar]) -> list[Bar]:
    """Drop the strips of a label box between its edge and the bar inside it: a strip of the box
    colour, longer than the bar and touching it from above or below, looks like a bar itself."""

    def is_margin(strip: Bar, bar: Bar) -> bool:
        sx0, sy0, sx1, sy1 = strip.bbox
        bx0, by0, bx1, by1 = bar.bbox
        touching = -1 <= sy0 - by1 <= 2 or -1 <= by0 - sy1 <= 2
        # The strip has the colour of what surrounds the bar (grey levels, not bar-is-bright).
        strip_grey = strip.bar_level if strip.bright else 255.0 - strip.bar_level
        ground_grey = bar.background_level if bar.bright else 255.0 - bar.background_level
        same_colour = abs(strip_grey - ground_grey) <= _BOX_TOLERANCE
        return strip.bright != bar.bright and touching and same_colour and sx0 <= bx0 and bx1 <= sx1 and strip.length_px > bar.length_px

    return [b for b in bars if not any(is_margin(b, other) for other in bars)]


def _deduplicate(bars: list[Bar]) -> list[Bar]:
    kept: list[Bar] = []
    for bar in sorted(bars, key=lambda b: -b.score):
        if not any(k.bright == bar.bright and _overlap(k.body_bbox, bar.body_bbox) for k in kept):
            kept.append(bar)
    return kept


def _padding(fractions: Iterator[float]) -> int:
    """Lines of a box's padding beyond the current edge: how many lines further out are almost
    entirely of the box colour, counted until the first that is not."""
    lines = 0
    for fraction in fractions:
        if fraction < 0.85:
            break
        lines += 1
    return lines


def find_box(grey: np.ndarray, bar: Bar, label_bbox: BBox | None, *, max_padding_px: int = 40) -> BBox | None:
    """The filled white or black box drawn behind ``bar`` and its label, or None when they sit on
    the micrograph.

    From the rectangle around bar and label, each side moves out over the lines made almost
    entirely of the box colour (the box's padding, at most ``max_padding_px``), twice round. It is
    a box when every side not at the image border has padding.
    """
    grey = np.asarray(grey, np.float32)
    height, width = grey.shape
    box_level = bar.background_level if bar.bright else 255.0 - bar.background_level
    if 30 < box_level < 225:
        return None
    in_box = np.abs(grey - box_level) <= _BOX_TOLERANCE
    x0, y0, x1, y1 = bar.bbox
    if label_bbox is not None:
        x0, y0, x1, y1 = min(x0, label_bbox[0]), min(y0, label_bbox[1]), max(x1, label_bbox[2]), max(y1, label_bbox[3])
    # Start two pixels out: anti-aliased edges of bar and text are neither their colour nor the box's.
    x0, y0, x1, y1 = max(0, x0 - 2), max(0, y0 - 2), min(width, x1 + 2), min(height, y1 + 2)
    padded = {"left": 0, "right": 0, "top": 0, "bottom": 0}
    for _round in range(2):
        grow = _padding(float(in_box[y, x0:x1].mean()) for y in range(y0 - 1, max(-1, y0 - 1 - max_padding_px), -1))
        y0, padded["top"] = y0 - grow, padded["top"] + grow
        grow = _padding(float(in_box[y, x0:x1].mean()) for y in range(y1, min(height, y1 + max_padding_px)))
        y1, padded["bottom"] = y1 + grow, padded["bottom"] + grow
        grow = _padding(float(in_box[y0:y1, x].mean()) for x in range(x0 - 1, max(-1, x0 - 1 - max_padding_px), -1))
        x0, padded["left"] = x0 - grow, padded["left"] + grow
        grow = _padding(float(in_box[y0:y1, x].mean()) for x in range(x1, min(width, x1 + max_padding_px)))
        x1, padded["right"] = x1 + grow, padded["right"] + grow
    at_border = {"left": x0 == 0, "right": x1 == width, "top": y0 == 0, "bottom": y1 == height}
    if any(padded[side] == 0 and not at_border[side] for side in padded):
        return None
    return x0, y0, x1, y1
