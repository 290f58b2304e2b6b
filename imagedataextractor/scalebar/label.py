"""Finding and reading a bar's label: the text-sized blobs of the bar's colour next to it, grouped
into one line, cleaned, scaled and read by Tesseract a few ways; the readings are voted on."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from ..ocr import read_text
from .bar import Bar, bright_frame, find_box
from .parse import parse_label
from .types import BBox, ScalebarConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Characters a scalebar label can hold, the letters Tesseract reads the micro sign as (leaving
#: those out makes it read "µm" as "nm"), and those it reads 1 and 0 as (leaving those out makes
#: it drop a serif "1"); :func:`parse_label` maps them back.
OCR_WHITELIST = "0123456789.,nmuµμpjyhwlIO "
# Text is cut out of its surroundings at these levels between background (0) and bar (1): high
# first, which parts text from bright clutter next to it, then the midpoint, which keeps thin
# strokes, then near the bar's own level for text touching clutter almost as bright as itself.
_TEXT_LEVELS = (0.75, 0.5, 0.9)
# Glyphs of one word are at most this many glyph heights apart, words of one label at most
# _WORD_GAP line heights (a wide serif space between "1" and "µm" is about 1.3).
_LETTER_GAP = 1.2
_WORD_GAP = 1.8
# Least Tesseract confidence (0-100) for a reading whose unit is guessed from one letter ("5 m").
_GUESS_MIN_CONFIDENCE = 60
# Text lines read per level, nearest first (lines of one blob last).
_LINES_READ = 3


@dataclass(frozen=True)
class Label:
    """A label read next to a bar: OCR text, parsed (value, unit) or None, and its (x0, y0, x1, y1)
    bbox. exact: the whole unit was read (not guessed from what was left of it)."""

    text: str
    parsed: tuple[float, str] | None
    bbox: BBox
    exact: bool


@dataclass(frozen=True)
class _Frame:
    """The image with the label's colour made bright: ink and paper are the grey levels of text
    and of what is around it in that image."""

    work: np.ndarray
    ink: float
    paper: float

    def level(self, fraction: float) -> float:
        return self.paper + fraction * (self.ink - self.paper)


@dataclass(frozen=True)
class _Blob:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def _holes(blob: np.ndarray) -> int:
    """Enclosed background regions of a boolean blob. A character has at most two ("8"), a few
    merged ones rarely more than three; a box with the label cut out of it has one per letter."""
    outside = np.pad(~blob, 1, constant_values=True).astype(np.uint8)
    return cv2.connectedComponents(outside, connectivity=4)[0] - 2


def _text_blobs(work: np.ndarray, bar: Bar, window: BBox, level: float) -> tuple[list[_Blob], np.ndarray, np.ndarray]:
    """Character-sized blobs at least ``level`` bright inside ``window``, the window's label
    image, and every component's (x0, y0, x1, y1) box in image pixels (row = label)."""
    wx0, wy0, wx1, wy1 = window
    mask = (work[wy0:wy1, wx0:wx1] >= level).astype(np.uint8)
    bx0, by0, bx1, by1 = bar.bbox
    mask[max(0, by0 - wy0 - 1) : by1 - wy0 + 1, max(0, bx0 - wx0 - 1) : bx1 - wx0 + 1] = 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = np.column_stack([stats[:, 0] + wx0, stats[:, 1] + wy0, stats[:, 0] + stats[:, 2] + wx0, stats[:, 1] + stats[:, 3] + wy0])
    glyphs = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if x == 0 or y == 0 or x + w == mask.shape[1] or y + h == mask.shape[0]:
            continue  # cut by the window: not all of it is seen
        solid_and_wide = area > 0.85 * w * h and w > 0.8 * h  # a box or patch, not a character
        if 4 <= h <= 90 and area >= 6 and w <= 6 * h + 4 and not solid_and_wide and _holes(labels[y : y + h, x : x + w] == i) <= 3:
            glyphs.append(_Blob(*boxes[i].tolist()))
    return glyphs, labels, boxes


def _groups(items: Sequence[T], joined: Callable[[T, T], bool]) -> list[list[int]]:
    """Indices of ``items`` grouped transitively by the pairwise test ``joined(a, b)``."""
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if joined(items[i], items[j]):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(items)):
        groups[root(i)].append(i)
    return list(groups.values())


def _text_lines(glyphs: list[_Blob]) -> list[list[_Blob]]:
    """Group glyphs into lines: vertically overlapping neighbours less than _LETTER_GAP heights
    apart; then join lines of about the same height side by side less than _WORD_GAP heights
    apart (a wide space in "1 µm"), which small specks of clutter never are."""

    def letters(a: _Blob, b: _Blob) -> bool:
        overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
        gap = max(a.x0, b.x0) - min(a.x1, b.x1)
        return overlap >= 0.5 * min(a.height, b.height) and gap <= _LETTER_GAP * max(a.height, b.height)

    def words(a: list[_Blob], b: list[_Blob]) -> bool:
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = _bbox(a), _bbox(b)
        ha, hb = ay1 - ay0, by1 - by0
        overlap = min(ay1, by1) - max(ay0, by0)
        gap = max(ax0, bx0) - min(ax1, bx1)
        return min(ha, hb) >= 0.7 * max(ha, hb) and overlap >= 0.6 * min(ha, hb) and gap <= _WORD_GAP * max(ha, hb)

    lines = [[glyphs[i] for i in group] for group in _groups(glyphs, letters)]
    return [[blob for i in group for blob in lines[i]] for group in _groups(lines, words)]


def _bbox(blobs: list[_Blob]) -> BBox:
    return min(b.x0 for b in blobs), min(b.y0 for b in blobs), max(b.x1 for b in blobs), max(b.y1 for b in blobs)


def _same_box(a: BBox, b: BBox) -> bool:
    """Boxes within two pixels of each other on every side: the same line found at another level."""
    return all(abs(p - q) <= 2 for p, q in zip(a, b))


def _label_shaped(box: BBox, bar: Bar) -> bool:
    """A label is wider than tall (it has two characters or more) and its text is shorter than
    the bar is long; letters' own strokes, taken for bars, fail the second test."""
    width, height = box[2] - box[0], box[3] - box[1]
    return width >= 0.8 * height and height <= bar.length_px


def _distance_to_bar(box: BBox, bar: Bar) -> float | None:
    """Gap (pixels) between a text line and the bar when the line sits above, below, left or right
    of it the way labels do; None otherwise."""
    x0, y0, x1, y1 = box
    bx0, by0, bx1, by1 = bar.bbox
    height = y1 - y0
    if y1 > by0 and y0 < by1:  # beside the bar, sharing rows with it
        gap = bx0 - x1 if x1 <= bx0 else x0 - bx1
        return float(gap) if 0 <= gap <= max(2.5 * height, 15) else None
    if x1 > bx0 - 0.5 * height and x0 < bx1 + 0.5 * height:  # above or below, overlapping in x
        gap = by0 - y1 if y1 <= by0 else y0 - by1
        return float(gap) if 0 <= gap <= max(2.0 * height, 12) else None
    return None


def _ocr_inputs(
    frame: _Frame, labels: np.ndarray, boxes: np.ndarray, window: BBox, line: BBox, bar: Bar, config: ScalebarConfig
) -> list[np.ndarray]:
    """Dark-on-white greyscale crops of one text line, scaled so text is config.text_height_px tall:
    the components lying inside the line's box alone (clutter removed; decimal points and letter
    parts kept) at two scales, and the plain crop."""
    work = frame.work
    x0, y0, x1, y1 = line
    height = y1 - y0
    pad = max(2, height // 3)
    cx0, cy0 = max(window[0], x0 - pad), max(window[1], y0 - pad)
    cx1, cy1 = min(window[2], x1 + pad), min(window[3], y1 + pad)
    crop = work[cy0:cy1, cx0:cx1]
    # The plain crop reaches further sideways: an end glyph touching clutter is no blob of the line.
    sx0, sx1 = max(0, x0 - height), min(work.shape[1], x1 + height)
    wide = work[cy0:cy1, sx0:sx1].copy()
    bx0, by0, bx1, by1 = bar.bbox  # keep the bar's end ticks out of the wide crop
    wide[max(0, by0 - cy0 - 1) : max(0, by1 - cy0 + 1), max(0, bx0 - sx0 - 1) : max(0, bx1 - sx0 + 1)] = frame.paper
    span = max(frame.ink - frame.paper, 1.0)
    wx0, wy0 = window[0], window[1]
    inside = (boxes[:, 0] >= x0 - 1) & (boxes[:, 1] >= y0 - 1) & (boxes[:, 2] <= x1 + 1) & (boxes[:, 3] <= y1 + 1)
    inside[0] = False  # label 0 is the background
    own = inside[labels[cy0 - wy0 : cy1 - wy0, cx0 - wx0 : cx1 - wx0]]
    own = cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    plain = np.clip((wide - frame.paper) / span, 0, 1)  # 1 on text, 0 on background
    clean = np.where(own, np.clip((crop - frame.paper) / span, 0, 1), 0.0)
    inputs = []
    for image, target in ((clean, config.text_height_px), (clean, config.text_height_px * 0.6), (plain, config.text_height_px)):
        scale = float(np.clip(target / max(height, 1), 0.5, 8.0))
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        scaled = cv2.resize(image.astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
        grey = np.clip(255 - scaled * 255, 0, 255).astype(np.uint8)
        inputs.append(cv2.copyMakeBorder(grey, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255))
    return inputs


def _read_line(inputs: list[np.ndarray], line: BBox) -> Label:
    """OCR each input; the (value, unit) with the highest summed confidence wins. Readings whose
    unit is only guessed count when Tesseract was at least _GUESS_MIN_CONFIDENCE sure."""
    votes: dict[tuple[float, str], float] = defaultdict(float)
    texts: dict[tuple[float, str], str] = {}
    exact_readings: set[tuple[float, str]] = set()
    first_text = ""
    for image in inputs:
        result = read_text(image, whitelist=OCR_WHITELIST, psm=7)
        first_text = first_text or result.text
        parsed = parse_label(result.text)
        log.debug("OCR %r -> %s (confidence %.0f)", result.text, parsed, result.confidence)
        if parsed is None:
            continue
        exact = parse_label(result.text, guess=False) == parsed
        if not exact and result.confidence < _GUESS_MIN_CONFIDENCE:
            continue  # a unit guessed from one letter, read unsurely: texture as often as text
        votes[parsed] += result.confidence / 100.0
        texts.setdefault(parsed, result.text)
        if exact:
            exact_readings.add(parsed)
    if not votes:
        return Label(first_text, None, line, False)
    best = max(votes, key=votes.__getitem__)
    return Label(texts[best], best, line, best in exact_readings)


def _candidate_lines(work: np.ndarray, bar: Bar, window: BBox, level: float) -> tuple[list[BBox], np.ndarray, np.ndarray]:
    """Label-shaped text lines at ``level`` beside the bar, best first (several glyphs, then
    nearest), with the window's label image and component boxes."""
    glyphs, labels, boxes = _text_blobs(work, bar, window, level)
    ranked = []
    for line in _text_lines(glyphs):
        box = _bbox(line)
        distance = _distance_to_bar(box, bar) if _label_shaped(box, bar) else None
        if distance is not None:
            ranked.append((len(line) < 2, distance, box))
    return [box for *_rank, box in sorted(ranked)], labels, boxes


def _read_in_frame(grey: np.ndarray, frame: _Frame, bar: Bar, window: BBox, config: ScalebarConfig) -> Label | None:
    """Find and read the bar's label in one colour frame (see :func:`read_label`)."""
    nearest = _candidate_lines(frame.work, bar, window, frame.level(_TEXT_LEVELS[0]))[0]
    box = find_box(grey, bar, nearest[0]) if nearest else None
    if box is not None:
        window = box
    best: Label | None = None
    seen: list[BBox] = []
    for fraction in _TEXT_LEVELS:
        lines, labels, boxes = _candidate_lines(frame.work, bar, window, frame.level(fraction))
        fresh = [line for line in lines if not any(_same_box(line, other) for other in seen)]
        for line in fresh[:_LINES_READ]:
            seen.append(line)
            label = _read_line(_ocr_inputs(frame, labels, boxes, window, line, bar, config), line)
            if label.exact:
                return label
            if best is None or best.parsed is None and label.parsed is not None:
                best = label
    return best


def read_label(grey: np.ndarray, bar: Bar, *, config: ScalebarConfig = ScalebarConfig()) -> Label | None:
    """Find and read the label of ``bar`` in the greyscale (H, W) image; None when no text-like
    line sits next to the bar. The returned Label's ``parsed`` is None when the text is unreadable.

    The label is looked for in the bar's colour first, then in the opposite one (a white bar with
    black text, or white text on a black box beside a black bar). When bar and label sit in a
    filled box, the label is looked for inside it only, so that the box's edge and the micrograph
    beyond are not read as characters.
    """
    grey = np.asarray(grey, np.float32)
    height, width = grey.shape
    bx0, by0, bx1, by1 = bar.bbox
    reach_x = int(bar.length_px) + 80
    reach_y = int(0.5 * bar.length_px) + 60
    window = (max(0, bx0 - reach_x), max(0, by0 - reach_y), min(width, bx1 + reach_x), min(height, by1 + reach_y))
    label = _read_in_frame(grey, _Frame(bright_frame(grey, bar.bright), bar.bar_level, bar.background_level), bar, window, config)
    if label is not None and label.parsed is not None:
        return label
    opposite = bright_frame(grey, not bar.bright)
    wx0, wy0, wx1, wy1 = window
    ink = float(np.percentile(opposite[wy0:wy1, wx0:wx1], 99.5))
    paper = 255.0 - bar.background_level
    if ink - paper < config.min_contrast:
        return label
    other = _read_in_frame(grey, _Frame(opposite, ink, paper), bar, window, config)
    if other is not None and (label is None or other.parsed is not None):
        return other
    return label
