"""Reading a panel's label ("a", "(b)", "C)") from its corners.

In each corner window, in the order top-left, top-right, bottom-left, bottom-right, and for dark
text and for light text: threshold the window at a near-black (near-white) level, keep connected
components shaped like glyphs (glyph-sized, not solid blobs, not the box behind a label, clear of
the panel edges, near the corner, standing out from the pixels around them), take the one nearest the corner with its neighbours on the same line
(the brackets), binarise their small region black on white keeping only the ink that touches them
(which drops the micrograph texture), scale it to a height Tesseract reads well, and OCR it as one
line and the letter alone as one character, with a whitelist of letters and brackets. The first
corner with an accepted reading gives the label.

A reading is accepted when it is one letter, optionally bracketed, and the evidence is strong
enough that it is not micrograph texture read as a letter (see :func:`_accepted`):

* its confidence is at least ``SplitConfig.label_min_confidence``;
* the glyphs stand out from a uniform patch (contrast-to-noise ratio of at least
  :data:`_UNIFORM_CNR` against the pixels around them), or else the confidence is at least
  :data:`_CLUTTERED_MIN_CONFIDENCE`: on texture, blobs and streaks read as letters with middling
  confidence;
* "i", "j" and "l" (and "I"), the letters a lone stroke reads as, need both a uniform patch and a
  confidence of :data:`_STROKE_MIN_CONFIDENCE`: a streak in the texture, a frame line, a bracket
  or the stem of a "b" broken off its bowl reads as one of them; and a glyph that thin reads
  only as one of them (:data:`_THIN_STROKE_ASPECT`: a frame line read as "F");
* a group that reads as a number where digits are allowed too is a tick label, not a label.

On the synthetic benchmark (``benchmarks/figsplit_benchmark.py``, 300 figures of EMPS crops) these
rules took the share of reported labels that are right from 0.911 to 0.96 at the same label
accuracy (BENCHMARKS.md).

No letter is ever inferred. Where the letters read on a figure's other panels say which letter an
unread panel should carry (:func:`expected_labels`), that panel's corners are read a second time,
harder (:func:`read_expected_label`: scaled up, more thresholds, more candidates), and the panel
gets the letter only if Tesseract, free to read any letter, reads that one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from ..ocr import read_text
from .layout import grey_levels
from .types import SplitConfig

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
#: One letter, optionally bracketed; Tesseract sometimes hedges on case and doubles it ("Cc").
_LABEL = re.compile(r"^\(?([A-Za-z])(?i:\1)?\)?$")
#: Digits a tick label starts with (not 1, which an "l" reads as), and a reading that starts with
#: one. An "o" may read as "0", but is a label only in figures of 15 panels or more.
_DIGITS = "023456789"
_NUMBER = re.compile(r"^\(?[02-9]")
#: Grey levels below (dark text) / above (light text) which a pixel may belong to a label.
_DARK_TEXT, _LIGHT_TEXT = 80, 180
#: Smallest grey-level difference between a glyph and the pixels around it.
_MIN_CONTRAST = 60
#: Farthest a label's nearest glyph may be from the corner, as a fraction of the window's shorter side.
_MAX_CORNER_DISTANCE = 0.4
#: Largest corner window (height, width) searched for a panel's label, pixels; and for the labels
#: inside a micrograph, which copied source-article labels make larger and farther from the corner.
_LABEL_WINDOW = (90, 120)
_INNER_LABEL_WINDOW = (180, 240)
#: Where Otsu's ink touching a label's glyphs is over ``_INK_GROWTH`` times the glyphs' own, they
#: are read again with only the ink up to their height over ``_INK_REACH`` pixels from them.
_INK_GROWTH, _INK_REACH = 2.0, 8
#: Glyph height that Tesseract reads best, pixels.
_OCR_HEIGHT = 40
#: Contrast-to-noise ratio (difference of the median grey levels of the glyphs and of the pixels
#: around them, within half a glyph height, over the standard deviation of the latter) from which
#: a label's patch counts as uniform.
_UNIFORM_CNR = 3.0
#: Confidence a reading needs when its patch is not uniform.
_CLUTTERED_MIN_CONFIDENCE = 80.0
#: Letters (lower case) that a lone stroke reads as, and the confidence they need on a uniform patch.
_STROKE_LETTERS = frozenset("ijl")
#: Letters that a single stroke reads as, either of which may be printed.
_I_OR_L = frozenset("il")
#: A glyph narrower than this share of its height is a stroke (a bracket, the stem of one of those letters).
_STROKE_ASPECT = 0.45
_STROKE_MIN_CONFIDENCE = 90.0
#: A lone glyph narrower than this share of its height can only be one of the stroke letters (the
#: narrowest other letters, "f", "t" and "r", are about 0.45 of their height wide).
_THIN_STROKE_ASPECT = 0.3
#: Glyph groups read per polarity in each corner on the first look (a texture blob nearer the
#: corner than the label may come first).
_BLIND_GROUPS = 2
#: A panel with a side under this (px) is read a second time scaled up this many times where no
#: label was found at its own size (a downscaled figure's letters are 5-6 px tall, under the
#: smallest glyph height).
_SMALL_PANEL_SIDE, _SMALL_PANEL_UPSCALE = 128, 2


@dataclass(frozen=True)
class LabelReading:
    """A label read in a panel corner: the letter (lower case), the OCR text, its confidence, the
    corner, and the glyphs' box (x0, y0, x1, y1; pixels of the image read, end exclusive)."""

    label: str
    text: str
    confidence: float
    corner: str
    bbox: tuple[int, int, int, int]


@dataclass(frozen=True)
class _Recheck:
    """A second look for ``letters`` (lower case), one of which is expected on a panel (see :func:`read_expected_label`)."""

    letters: frozenset[str]


@dataclass(frozen=True)
class _Glyph:
    component: int  # id in the window's component map
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the corner window
    corner_distance: float


def _corner_window(grey: np.ndarray, corner: str, max_size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The region of a grey panel at ``corner`` (30 % of each side, at least 24 and at most
    ``max_size`` (height, width) pixels), that corner's (x, y) in the region, and the region's
    origin (x, y) in the panel."""
    height, width = grey.shape
    window_h = int(np.clip(0.3 * height, min(height, 24), min(height, max_size[0])))
    window_w = int(np.clip(0.3 * width, min(width, 24), min(width, max_size[1])))
    top, left = corner.startswith("top"), corner.endswith("left")
    rows = slice(0, window_h) if top else slice(height - window_h, height)
    cols = slice(0, window_w) if left else slice(width - window_w, width)
    return grey[rows, cols], (0 if left else window_w, 0 if top else window_h), (cols.start, rows.start)


def _is_box(local: np.ndarray) -> bool:
    """A filled rectangle with a hole (the box behind a label, not a glyph): all four sides inked."""
    return all(side.mean() >= 0.9 for side in (local[0], local[-1], local[:, 0], local[:, -1]))


def _glyphs(window: np.ndarray, corner_xy: tuple[int, int], dark_text: bool, level: float | None = None, min_contrast: float = _MIN_CONTRAST) -> tuple[np.ndarray, list[_Glyph]]:
    """The component map of the window thresholded at ``level`` (by default ``_DARK_TEXT`` or
    ``_LIGHT_TEXT``), and its components that look like glyphs."""
    window_h, window_w = window.shape
    if level is None:
        level = _DARK_TEXT if dark_text else _LIGHT_TEXT
    mask = window < level if dark_text else window > level
    components, _ = ndi.label(mask, structure=np.ones((3, 3)))
    glyphs = []
    for index, (rows, cols) in enumerate(ndi.find_objects(components), start=1):
        height, width = rows.stop - rows.start, cols.stop - cols.start
        if not (6 <= height <= 0.9 * window_h) or width > 2 * height or width < 2:
            continue
        # Labels keep a margin from the panel edges that meet at the corner.
        if (corner_xy[0] == 0 and cols.start == 0) or (corner_xy[0] == window_w and cols.stop == window_w):
            continue
        if (corner_xy[1] == 0 and rows.start == 0) or (corner_xy[1] == window_h and rows.stop == window_h):
            continue
        box = (cols.start, rows.start, cols.stop, rows.stop)
        nearest_x, nearest_y = np.clip(corner_xy[0], cols.start, cols.stop), np.clip(corner_xy[1], rows.start, rows.stop)
        distance = float(np.hypot(nearest_x - corner_xy[0], nearest_y - corner_xy[1]))
        local = components[rows, cols] == index
        # Solid blobs are no glyphs, but solid strokes are (the stem of an "i", "j" or "l").
        if not (0.1 <= local.mean() <= 0.85 or width < _STROKE_ASPECT * height) or _is_box(local):
            continue
        glyph_mask = components == index
        ring = ndi.binary_dilation(glyph_mask, iterations=2) & ~mask
        if not ring.any():
            continue
        contrast = window[ring].mean() - window[glyph_mask].mean()
        if (contrast if dark_text else -contrast) < min_contrast:
            continue
        glyphs.append(_Glyph(index, box, distance))
    return components, glyphs


def _union(glyphs: list[_Glyph]) -> tuple[int, int, int, int]:
    return (
        min(g.box[0] for g in glyphs),
        min(g.box[1] for g in glyphs),
        max(g.box[2] for g in glyphs),
        max(g.box[3] for g in glyphs),
    )


def _label_group(glyphs: list[_Glyph], max_distance: float) -> list[_Glyph]:
    """The glyph nearest the corner and its neighbours on the same line, left to right; empty if
    the nearest glyph is farther than ``max_distance`` from the corner."""
    nearest = min(glyphs, key=lambda glyph: glyph.corner_distance)
    if nearest.corner_distance > max_distance:
        return []
    group = [nearest]
    changed = True
    while changed:
        changed = False
        x0, y0, x1, y1 = _union(group)
        for glyph in glyphs:
            if glyph in group:
                continue
            overlap = min(y1, glyph.box[3]) - max(y0, glyph.box[1])
            gap = max(glyph.box[0] - x1, x0 - glyph.box[2])
            if overlap >= 0.5 * min(y1 - y0, glyph.box[3] - glyph.box[1]) and gap <= 0.5 * (y1 - y0):
                group.append(glyph)
                changed = True
    return sorted(group, key=lambda glyph: glyph.box[0])


def _is_bracket(glyph: _Glyph, group: list[_Glyph]) -> bool:
    """A thin glyph at least as tall as the rest of its group (the stem of a "b" broken off its bowl
    is thin too, but shorter than a bracket)."""
    top, bottom = _union(group)[1], _union(group)[3]
    width, height = glyph.box[2] - glyph.box[0], glyph.box[3] - glyph.box[1]
    return width < _STROKE_ASPECT * height and height >= 0.9 * (bottom - top)


def _leading_label(group: list[_Glyph]) -> list[_Glyph]:
    """The first letter of a group with its brackets (an opening one before it, a closing one after
    it): a label printed next to a plot's tick labels or axis title, which the group joins ("a) 1.0")."""
    lead = group[:1]
    if _is_bracket(group[0], group) and len(group) > 1:
        lead = group[:2]
    if len(group) > len(lead) and _is_bracket(group[len(lead)], group):
        lead = group[: len(lead) + 1]
    return lead


def _without_brackets(group: list[_Glyph]) -> list[_Glyph]:
    """The group less a bracket at either end (see :func:`_is_bracket`)."""
    inner = list(group)
    if len(inner) > 1 and _is_bracket(inner[0], group):
        inner.pop(0)
    if len(inner) > 1 and _is_bracket(inner[-1], group):
        inner.pop()
    return inner


def _patch(window: np.ndarray, components: np.ndarray, glyphs: list[_Glyph], dark_text: bool, height: int = _OCR_HEIGHT, near_only: bool = False) -> np.ndarray | None:
    """The glyphs black on white, scaled to ``height`` (px). Their region is binarised with Otsu's
    threshold (which recovers thin strokes that the fixed glyph threshold broke) and only the ink
    touching the glyphs is kept (not texture or other marks in the region); above a lone stroke, so
    is a mark within its width up to a glyph height above it (the dot of an "i" or "j"). With
    ``near_only``, where that ink is over ``_INK_GROWTH`` times the glyphs' own (texture of their
    shade joined them), only the ink up to ``_INK_REACH`` of their height from them is kept; None
    where it is not."""
    x0, y0, x1, y1 = _union(glyphs)
    pad = max(2, (y1 - y0) // 4)
    stroke = len(glyphs) == 1 and x1 - x0 < _STROKE_ASPECT * (y1 - y0)
    top = max(0, y0 - (y1 - y0 if stroke else pad))
    rows, cols = slice(top, y1 + pad), slice(max(0, x0 - pad), x1 + pad)
    region = window[rows, cols] if dark_text else 255 - window[rows, cols]
    glyph_pixels = np.isin(components[rows, cols], [glyph.component for glyph in glyphs])
    ink = (region < threshold_otsu(region) if np.ptp(region) > 0 else np.zeros(region.shape, bool)) | glyph_pixels
    ink_components, _ = ndi.label(ink, structure=np.ones((3, 3)))
    kept = set(np.unique(ink_components[glyph_pixels]).tolist())
    if near_only:
        if np.isin(ink_components, list(kept)).sum() <= _INK_GROWTH * glyph_pixels.sum():
            return None
        ink &= ndi.binary_dilation(glyph_pixels, iterations=max(1, (y1 - y0) // _INK_REACH)) | glyph_pixels
        ink_components, _ = ndi.label(ink, structure=np.ones((3, 3)))
        kept = set(np.unique(ink_components[glyph_pixels]).tolist())
    if stroke:
        left, right = x0 - cols.start, x1 - cols.start
        for index, (mark_rows, mark_cols) in enumerate(ndi.find_objects(ink_components), start=1):
            if mark_cols.start >= left - 1 and mark_cols.stop <= right + 1 and mark_rows.stop <= y0 - top:
                kept.add(index)
    binary = np.where(np.isin(ink_components, list(kept)), 0, 255).astype(np.uint8)
    if stroke:
        # The patch is scaled by the stroke's height, the dot above it included.
        ys = np.flatnonzero((binary == 0).any(axis=1))
        y0 = y1 - (int(ys[-1]) - int(ys[0]) + 1) if ys.size else y0
    scale = height / (y1 - y0)
    size = (max(1, round(binary.shape[1] * scale)), max(1, round(binary.shape[0] * scale)))
    image = Image.fromarray(binary).resize(size, Image.Resampling.LANCZOS)
    return np.pad(np.asarray(image), height // 2, constant_values=255)


def _contrast_to_noise(window: np.ndarray, components: np.ndarray, group: list[_Glyph]) -> float:
    """How far the group's glyphs stand out from the pixels around them (within half the group's
    height): difference of the median grey levels over the standard deviation of the surround
    (at least 1 grey level, so a flat surround gives the contrast itself)."""
    x0, y0, x1, y1 = _union(group)
    pad = max(2, (y1 - y0) // 2)
    rows, cols = slice(max(0, y0 - pad), y1 + pad), slice(max(0, x0 - pad), x1 + pad)
    region = window[rows, cols].astype(np.float64)
    glyph_pixels = np.isin(components[rows, cols], [glyph.component for glyph in group])
    around = region[~glyph_pixels]
    if not around.size:
        return 0.0
    return float(abs(np.median(around) - np.median(region[glyph_pixels])) / max(float(around.std()), 1.0))


def _accepted(letter: str, confidence: float, contrast_to_noise: float, config: SplitConfig) -> bool:
    """Whether a reading of ``letter`` (lower case) is strong enough (see the module docstring)."""
    uniform = contrast_to_noise >= _UNIFORM_CNR
    if letter in _STROKE_LETTERS:
        return uniform and confidence >= max(_STROKE_MIN_CONFIDENCE, config.label_min_confidence)
    return confidence >= config.label_min_confidence and (uniform or confidence >= _CLUTTERED_MIN_CONFIDENCE)


def _recheck_accepted(letter: str, confidence: float, contrast_to_noise: float, recheck: _Recheck, config: SplitConfig) -> bool:
    """Whether a reading on a second look is the expected letter, with enough confidence."""
    uniform = contrast_to_noise >= _UNIFORM_CNR
    if letter not in recheck.letters or confidence < config.label_min_confidence:
        return False
    if letter in _STROKE_LETTERS:
        return uniform and confidence >= _RECHECK_STROKE_CONFIDENCE
    return uniform or confidence >= _RECHECK_CLUTTERED_CONFIDENCE


def _read_group(
    window: np.ndarray,
    components: np.ndarray,
    group: list[_Glyph],
    dark_text: bool,
    corner: str,
    origin: tuple[int, int],
    config: SplitConfig,
    recheck: _Recheck | None = None,
) -> LabelReading | None:
    """The group read as one line (psm 7, which gives bracketed letters far steadier confidences
    than psm 8), or failing that its letter alone as one character (psm 10), or where both read
    nothing at all, as one word (psm 8: Tesseract 5 returns nothing in psm 7 and 10 for some clean
    single letters, e.g. a bold serif "e", that it reads at 90 as a word; where psm 7 or 10 read
    something else, psm 8 tends to read texture as a letter, so then it is only tried on a
    ``recheck``, where only the expected letter counts), or failing that, in a
    left corner (a group joined to a plot's tick labels or title), its first letter with its
    brackets (not in right corners, where the group is more likely a scale bar's text); on a
    ``recheck``, accepted only as the expected letter."""
    # On the first look, the line may also read as digits: a plot's tick label ("3.0" read as "B"
    # or "a" among letters alone) is then no label at all.
    line_whitelist = LETTERS + "()" + (_DIGITS if recheck is None else "")
    attempts = [(group, line_whitelist, 7, _OCR_HEIGHT), (_without_brackets(group), LETTERS, 10, _OCR_HEIGHT), (group, LETTERS + "()", 8, _OCR_HEIGHT)]
    if recheck is not None:
        attempts.append((group, LETTERS + "()", 7, _RECHECK_OCR_HEIGHT))
    lead = _leading_label(group)
    if corner.endswith("left") and len(lead) < len(group):
        attempts.append((lead, LETTERS + "()", 7, _OCR_HEIGHT))
    contrast_to_noise = _contrast_to_noise(window, components, group)
    thin_stroke = _is_thin_stroke(_without_brackets(group))
    read_anything = False
    # Where texture of the glyphs' shade joined them in the patch (a white "e" against a bright
    # crystal edge), the attempts are made again with only the ink next to them; after the whole
    # patch, as that ink is as often the letter's own strokes that the glyph threshold broke.
    for near_only, (glyphs, whitelist, psm, height) in itertools.product((False, True), attempts):
        if psm == 8 and read_anything and recheck is None:
            continue
        patch = _patch(window, components, glyphs, dark_text, height, near_only)
        if patch is None:
            continue
        result = read_text(patch, whitelist=whitelist, psm=psm)
        read_anything = read_anything or bool(result.text)
        if _NUMBER.match(result.text):
            return None
        match = _LABEL.match(result.text.replace(" ", ""))
        if not match:
            continue
        letter = match.group(1).lower()
        if thin_stroke and letter not in _STROKE_LETTERS:
            continue
        if recheck is not None and letter in _I_OR_L and letter not in recheck.letters:
            # A capital I and a lower-case l are one stroke in sans-serif fonts.
            letter = next(iter(_I_OR_L - {letter}))
        if _accepted(letter, result.confidence, contrast_to_noise, config) if recheck is None else _recheck_accepted(letter, result.confidence, contrast_to_noise, recheck, config):
            x0, y0, x1, y1 = _union(group)
            bbox = (x0 + origin[0], y0 + origin[1], x1 + origin[0], y1 + origin[1])
            return LabelReading(letter, result.text, result.confidence, corner, bbox)
    return None


def _is_thin_stroke(glyphs: list[_Glyph]) -> bool:
    """One glyph narrower than ``_THIN_STROKE_ASPECT`` of its height: only i, j or l (a plot's frame
    line read as "F" at 69)."""
    if len(glyphs) != 1:
        return False
    x0, y0, x1, y1 = glyphs[0].box
    return x1 - x0 < _THIN_STROKE_ASPECT * (y1 - y0)


def _inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _corner_readings(
    grey: np.ndarray,
    corner: str,
    config: SplitConfig,
    groups_per_polarity: int,
    window_size: tuple[int, int] = _LABEL_WINDOW,
    recheck: _Recheck | None = None,
    upscale: int = 1,
) -> Iterator[LabelReading]:
    """Accepted readings in one corner, best candidate first. For each polarity the glyph group
    nearest the corner is a candidate, then (up to ``groups_per_polarity``) the nearest group of the
    glyphs left over. When one group lies inside another, it is the insides of letters (the hole of
    a white "d" is a dark glyph) or a letter inside a box, and the outer group is read first;
    otherwise the group nearer the corner is. The window is read scaled up ``upscale`` times
    (readings' boxes are in ``grey`` pixels all the same). On a ``recheck`` it is searched up to
    ``_RECHECK_CORNER_DISTANCE`` from the corner, and also thresholded nearer black and
    white (``_RECHECK_DARK_TEXT``, ``_RECHECK_LIGHT_TEXT``: a black letter on a dark micrograph) and
    at its Otsu level, with ``_RECHECK_MIN_CONTRAST``."""
    window, corner_xy, origin = _corner_window(grey, corner, window_size)
    levels: dict[bool, list[float | None]] = {True: [None], False: [None]}
    min_contrast: float = _MIN_CONTRAST
    if upscale > 1:
        height, width = window.shape
        window = np.asarray(Image.fromarray(window).resize((width * upscale, height * upscale), Image.Resampling.BICUBIC))
        corner_xy = (corner_xy[0] * upscale, corner_xy[1] * upscale)
        origin = (origin[0] * upscale, origin[1] * upscale)
    if recheck is not None:
        levels = {True: [None, _RECHECK_DARK_TEXT], False: [None, _RECHECK_LIGHT_TEXT]}
        if np.ptp(window) > 0:
            for polarity in levels:
                levels[polarity].append(float(threshold_otsu(window)))
        min_contrast = _RECHECK_MIN_CONTRAST
    max_distance = (_MAX_CORNER_DISTANCE if recheck is None else _RECHECK_CORNER_DISTANCE) * min(window.shape)
    candidates = []
    for dark_text in (True, False):
        for level in levels[dark_text]:
            components, glyphs = _glyphs(window, corner_xy, dark_text, level, min_contrast)
            for _ in range(groups_per_polarity):
                group = _label_group(glyphs, max_distance) if glyphs else []
                if not group:
                    break
                candidates.append((min(glyph.corner_distance for glyph in group), dark_text, components, group))
                glyphs = [glyph for glyph in glyphs if glyph not in group]
    candidates.sort(key=lambda entry: entry[0])
    if len(candidates) >= 2 and _inside(_union(candidates[0][3]), _union(candidates[1][3])):
        candidates[0], candidates[1] = candidates[1], candidates[0]
    for _, dark_text, components, group in candidates:
        reading = _read_group(window, components, group, dark_text, corner, origin, config, recheck)
        if reading is not None:
            x0, y0, x1, y1 = reading.bbox
            yield LabelReading(reading.label, reading.text, reading.confidence, corner, (x0 // upscale, y0 // upscale, -(-x1 // upscale), -(-y1 // upscale)))


def read_panel_label(image: np.ndarray, *, config: SplitConfig = SplitConfig()) -> LabelReading | None:
    """Read the label of an (H, W, 3) uint8 RGB panel, or None if no corner holds one.

    Pass the panel with the gutter pixels next to it where there are some: a label printed against
    the panel's edge is then clear of the crop's edge. Within a corner, dark and light text are both
    tried (see :func:`_corner_readings`); the first corner with an accepted reading gives the label.
    A panel under ``_SMALL_PANEL_SIDE`` px a side where none is found is read again scaled up
    ``_SMALL_PANEL_UPSCALE`` times, by the same rules and a confidence of at least
    ``_CLUTTERED_MIN_CONFIDENCE``. ``bbox`` is in ``image`` pixels.
    """
    grey = grey_levels(image)
    upscales = (1, _SMALL_PANEL_UPSCALE) if min(grey.shape) < _SMALL_PANEL_SIDE else (1,)
    for upscale in upscales:
        for corner in CORNERS:
            for reading in _corner_readings(grey, corner, config, groups_per_polarity=_BLIND_GROUPS, upscale=upscale):
                # Scaled up, a fragment of a glyph reads as a letter too ("c" for part of an "e", at 68).
                if upscale == 1 or reading.confidence >= _CLUTTERED_MIN_CONFIDENCE:
                    return reading
    return None


#: The band at the top of a plot searched for a label that starts its title (:func:`read_title_label`):
#: this share of the panel's height, at least ``_TITLE_BAND_MIN_PX``.
_TITLE_BAND, _TITLE_BAND_MIN_PX = 0.25, 40
#: Words looked at in the band, nearest its top-left first.
_TITLE_WORDS = 8


def read_title_label(image: np.ndarray, *, letters: Collection[str] | None = None, config: SplitConfig = SplitConfig()) -> LabelReading | None:
    """The label that starts a plot's title inside its frame ("a) E. fuscoguttatus", as PLOS figures
    print them), in an (H, W, 3) uint8 RGB panel, or None. Dark words in the top band of the panel
    are looked at nearest its top-left first; a word counts only when the title's next word follows
    it on its line and it starts with one glyph and a closing bracket (by shape, :func:`_is_bracket`; Tesseract often reads the bracket with
    confidence 0, so the letter is read alone too), so a title's words are not taken for a label.
    A unit like "(s)" can be, and is then dropped by the figure's lettering
    (:func:`consistent_labels`) unless it fits. Given ``letters`` (lower case, expected there from
    the figure's other labels), only one of them is accepted, by the second look's rules
    (:func:`read_expected_label`: an italic "b)" read as "k)" on the first). ``bbox`` is in
    ``image`` pixels."""
    grey = grey_levels(image)
    band = grey[: min(grey.shape[0], max(_TITLE_BAND_MIN_PX, int(_TITLE_BAND * grey.shape[0])))]
    components, glyphs = _glyphs(band, (0, 0), dark_text=True)
    remaining = list(glyphs)
    for _ in range(_TITLE_WORDS):
        word = _label_group(remaining, float("inf")) if remaining else []
        if not word:
            return None
        remaining = [glyph for glyph in remaining if glyph not in word]
        lead = _leading_label(word)
        if len(lead) < 2 or not _is_bracket(lead[-1], word) or _is_bracket(lead[0], word) and len(lead) < 3:
            continue
        if not _title_follows(lead, glyphs):
            continue
        reading = _read_group(band, components, lead, True, "top-left", (0, 0), config, None if letters is None else _Recheck(frozenset(letters)))
        # Its bracket read as a second letter ("AA"): two strokes of a curve, not a letter and its bracket.
        if reading is not None and len(reading.text.replace(" ", "").strip("()")) == 1:
            return LabelReading(reading.label, reading.text, reading.confidence, "title", reading.bbox)
    return None


def _title_follows(lead: list[_Glyph], glyphs: list[_Glyph]) -> bool:
    """Whether a glyph of the same line starts within two of the lead's heights after it (the
    title's first word; a tick label such as "30" is followed by a tick mark, no glyph)."""
    x0, y0, x1, y1 = _union(lead)
    height = y1 - y0
    return any(
        0 <= glyph.box[0] - x1 <= 2 * height and min(y1, glyph.box[3]) - max(y0, glyph.box[1]) >= 0.5 * min(height, glyph.box[3] - glyph.box[1])
        for glyph in glyphs
        if glyph not in lead
    )


def read_corner_labels(image: np.ndarray, *, config: SplitConfig = SplitConfig(), groups_per_polarity: int = 3) -> list[LabelReading]:
    """Every panel label printed in the corners of an (H, W, 3) uint8 RGB micrograph: the figure's
    own label drawn over the image and the labels of the source article's figure that the image
    was cut from (a micrograph often carries both). ``bbox`` of each is in ``image`` pixels.
    Readings inside another reading's box (letter holes), far too big for a label, or of a
    confidence under 50 are left out. On the 465 EMPS images (crops of published figures), 252 had
    labels found, and the masks of :func:`label_mask` overlapped 1.3 % of the ground-truth
    particles, mostly particles the labels hide."""
    grey = grey_levels(image)
    readings = [reading for corner in CORNERS for reading in _corner_readings(grey, corner, config, groups_per_polarity, _INNER_LABEL_WINDOW)]
    readings = [r for r in readings if r.confidence >= _MIN_INNER_LABEL_CONFIDENCE and _label_sized(r.bbox, grey.shape)]
    return [r for r in readings if not any(o is not r and _inside(r.bbox, o.bbox) and o.bbox != r.bbox for o in readings)]


#: Confidence a label inside a micrograph needs: below it, on EMPS images, readings were mostly texture.
_MIN_INNER_LABEL_CONFIDENCE = 50.0
#: Largest height of a label inside a micrograph, as a fraction of the image's height, and largest
#: width of a (bracketed) letter for its height: bigger "letters" are texture read as one.
_MAX_INNER_LABEL_HEIGHT, _MAX_LABEL_ASPECT = 0.2, 2.5


def _label_sized(bbox: tuple[int, int, int, int], shape: tuple[int, int]) -> bool:
    height, width = bbox[3] - bbox[1], bbox[2] - bbox[0]
    return height <= _MAX_INNER_LABEL_HEIGHT * shape[0] and width <= _MAX_LABEL_ASPECT * height


def label_mask(image: np.ndarray, readings: list[LabelReading]) -> np.ndarray:
    """Boolean (H, W) mask over the labels ``readings`` of an (H, W) or (H, W, 3) uint8 image, for
    blanking before segmentation: each label's glyph box grown by half its height (brackets and
    thin strokes fall outside the glyphs read), and the box behind the label where it sits on one
    (a uniform backdrop that models take for a particle)."""
    if not readings:
        return np.zeros(image.shape[:2], bool)
    grey = grey_levels(image)
    height, width = grey.shape
    mask = np.zeros((height, width), bool)
    for reading in readings:
        x0, y0, x1, y1 = reading.bbox
        pad = max(2, (y1 - y0) // 2)
        mask[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = True
        backdrop = _backdrop(grey, reading.bbox)
        if backdrop is not None:
            bx0, by0, bx1, by1 = backdrop
            mask[by0:by1, bx0:bx1] = True
    return mask


#: Largest grey-level spread (standard deviation) of the pixels just around a label for them to be
#: a uniform backdrop; how far (grey levels) a backdrop pixel may be from their median; the share of
#: a row or column of the box that must be backdrop pixels.
_BACKDROP_MAX_STD, _BACKDROP_TOLERANCE, _BACKDROP_FILL = 10.0, 20, 0.9


def _backdrop(grey: np.ndarray, bbox: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """The box (x0, y0, x1, y1) behind the glyphs in ``bbox``: a rectangle grown from around the
    glyphs, one row or column at a time, while the new line is of the level around the glyphs.
    None when the pixels around the glyphs are not uniform, or the rectangle grows more than one
    label size beyond them (the label is printed on the image's own background, not on a box).
    A rectangle, not a flood fill: glyphs of the backdrop's colour printed next to the box (a
    white "(d)" beside a white box) would leak into a flood."""
    height, width = grey.shape
    # Clear of the glyphs' anti-aliased (and JPEG-blurred) edges.
    margin = max(3, (bbox[3] - bbox[1]) // 8)
    x0, y0 = max(0, bbox[0] - margin), max(0, bbox[1] - margin)
    x1, y1 = min(width, bbox[2] + margin), min(height, bbox[3] + margin)
    ring = np.concatenate([grey[y0, x0:x1], grey[y1 - 1, x0:x1], grey[y0:y1, x0], grey[y0:y1, x1 - 1]]).astype(np.float64)
    if ring.std() > _BACKDROP_MAX_STD:
        return None
    level = np.median(ring)
    limits = (x0 - (x1 - x0), y0 - (y1 - y0), x1 + (x1 - x0), y1 + (y1 - y0))

    def backdrop_line(line: np.ndarray) -> bool:
        return bool(np.mean(np.abs(line - level) <= _BACKDROP_TOLERANCE) >= _BACKDROP_FILL)

    grown = True
    while grown:
        grown = False
        if x0 > 0 and backdrop_line(grey[y0:y1, x0 - 1]):
            x0, grown = x0 - 1, True
        if y0 > 0 and backdrop_line(grey[y0 - 1, x0:x1]):
            y0, grown = y0 - 1, True
        if x1 < width and backdrop_line(grey[y0:y1, x1]):
            x1, grown = x1 + 1, True
        if y1 < height and backdrop_line(grey[y1, x0:x1]):
            y1, grown = y1 + 1, True
        if x0 < limits[0] or y0 < limits[1] or x1 > limits[2] or y1 > limits[3]:
            return None
    return x0, y0, x1, y1


def letter_index(letter: str) -> int:
    """A lower-case panel letter's place in the alphabet, 0 for "a": a figure of n panels is
    lettered with places 0 .. n - 1."""
    return ord(letter) - ord("a")


def consistent_labels(labels: list[str | None]) -> list[str | None]:
    """Panel letters (lower case, None where none was read) of a figure's panels in reading order,
    less those that cannot be printed there: a letter read twice, or beyond the number of panels,
    is a misreading (texture, a word, or a letter read as another) and is dropped. Nothing is added.
    """
    counts = {letter: labels.count(letter) for letter in set(labels) if letter is not None}
    return [label if label is not None and counts[label] == 1 and letter_index(label) < len(labels) else None for label in labels]


def expected_labels(labels: list[str | None]) -> list[str | None]:
    """The letter each unread panel would carry if the figure is lettered a, b, c, ... in this
    reading order (None for read panels, and where the letters read do not tell): every panel's
    place, when each letter read is its panel's place; otherwise the letters missing between two
    read ones go to the unread panels between them where their numbers match. Letters read out of
    reading order (A B over D C) tell nothing; where none was read, the first panel may be "a". Only a guess where to look: a panel is lettered
    with it only when the letter is read there (:func:`read_expected_label`)."""
    kept = consistent_labels(labels)
    known = [(index, label) for index, label in enumerate(kept) if label is not None]
    expected: list[str | None] = [None] * len(labels)
    if not known:
        return ["a"] + expected[1:]
    if any(first[1] >= second[1] for first, second in zip(known, known[1:])):
        return expected
    if all(letter_index(label) == index for index, label in known):
        return [chr(ord("a") + index) if label is None else None for index, label in enumerate(kept)]
    bounds = [(-1, chr(ord("a") - 1))] + known
    for (start, low), (end, high) in zip(bounds, bounds[1:]):
        unread = [index for index in range(start + 1, end) if kept[index] is None]
        if unread and ord(high) - ord(low) - 1 == len(unread):
            for offset, index in enumerate(unread, start=1):
                expected[index] = chr(ord(low) + offset)
    return expected


def missing_label(labels: list[str | None]) -> tuple[int, str] | None:
    """Where a figure's letters (lower case, None where none was read; any order, e.g. A B over
    D C) are "a" to the last one read less exactly one, and exactly one panel is unread: that
    panel's index and the missing letter, else None. Only a guess where to look, as for
    :func:`expected_labels`; with more than one letter missing, one misread letter sent the
    second look after the others on the wrong panels."""
    kept = consistent_labels(labels)
    unread = [index for index, label in enumerate(kept) if label is None]
    letters = {label for label in kept if label is not None}
    if len(unread) != 1 or not letters:
        return None
    missing = [chr(code) for code in range(ord("a"), ord(max(letters))) if chr(code) not in letters]
    return (unread[0], missing[0]) if len(missing) == 1 else None


#: Looking again for an expected letter (:func:`read_expected_label`): corner windows are scaled up
#: this many times (glyphs of downscaled figures are 5-10 px tall), glyphs are found at each
#: window's Otsu level as well as at the fixed levels, with this smallest contrast, and a reading
#: of the expected letter needs this confidence on texture, and on a uniform patch for i, j, l.
_RECHECK_UPSCALE, _RECHECK_MIN_CONTRAST, _RECHECK_CLUTTERED_CONFIDENCE, _RECHECK_STROKE_CONFIDENCE = 2, 35, 60.0, 60.0
_RECHECK_DARK_TEXT, _RECHECK_LIGHT_TEXT = 40, 215
#: A second look also reads the group scaled to this glyph height (px): on clean letters of the
#: label fonts at 11-18 pt, Tesseract reads 317 of 330 right at 24 px and 307 at 40 px, with
#: different errors ("a" as "d" at 40).
_RECHECK_OCR_HEIGHT = 24
#: Glyph groups read per polarity and level on a second look (texture blobs nearer the corner than
#: the label come first).
_RECHECK_GROUPS = 4
#: Farthest the expected letter may be from the corner, as a fraction of the window's shorter side
#: (a letter in a box inset from the corner of a small panel).
_RECHECK_CORNER_DISTANCE = 0.6


def read_expected_label(image: np.ndarray, letters: Collection[str], *, corners: Collection[str] = CORNERS, config: SplitConfig = SplitConfig()) -> LabelReading | None:
    """Look again, harder, in the corners of an (H, W, 3) uint8 RGB panel for one of ``letters``
    (lower case), expected there from the letters read on the other panels (one per reading order
    that they fit): the corner windows scaled up
    by ``_RECHECK_UPSCALE``, glyphs found at the window's Otsu level too and with a lower contrast.
    The panel gets a letter only when Tesseract, free to read any letter, reads exactly one of these
    with enough confidence; so a letter is never made up where none is printed. Only ``corners``
    (those the figure's other labels were read in) are searched. ``bbox`` is in
    ``image`` pixels."""
    grey = grey_levels(image)
    relaxed = _Recheck(frozenset(letters))
    for corner in (corner for corner in CORNERS if corner in corners):
        for reading in _corner_readings(grey, corner, config, groups_per_polarity=_RECHECK_GROUPS, recheck=relaxed, upscale=_RECHECK_UPSCALE):
            return reading
    return None
