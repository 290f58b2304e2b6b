"""Finding the panels of a figure by recursive cuts along uniform gutters (an XY-cut).

A gutter line is a row (or column) of a region that is one flat colour near white or black, within
a tolerance for JPEG noise, or exactly one flat colour of any shade; white gutters, black gutters
and the 1-3 px borders between abutting panels all are. The non-gutter runs between gutter lines
are candidate pieces. A gutter needs a panel edge on at least one side, and pieces too thin to be
panels or holding only small marks (labels above a panel, captions under it, the tick labels of a
plot; found as connected components) are joined to the nearer neighbour, so they stay with their
panel. A region is cut along the axis with the widest gutter, each piece is cut again, and what
cannot be cut is a panel, trimmed of its flat margins.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .types import SplitConfig

Box = tuple[int, int, int, int]

#: Grey levels from the gutter colour beyond which a pixel is a mark (text, or a panel's content).
_INK_LEVELS = 8


def grey_levels(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma (ITU-R 601) of an (H, W, 3) uint8 RGB image."""
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def gutter_lines(region: np.ndarray, *, axis: int, config: SplitConfig) -> np.ndarray:
    """Boolean per row (axis 0) or column (axis 1) of a grey region: could it be part of a gutter?

    Every pixel of the line must be within ``gutter_tolerance`` of the line's median (JPEG noise
    along a 1-3 px border reaches about 25 levels; no outlier is allowed, so a line that crosses
    even one thin stroke, such as a plot's frame, is no gutter), and that median must be near white
    or black, unless the line is flat within ``gutter_strict_tolerance``: the smooth, bright or dark
    but not saturated backgrounds of some micrographs are as flat as a JPEG gutter, but not the
    colour of one.
    """
    lines = region if axis == 0 else region.T
    median = np.median(lines, axis=1)
    deviation = np.abs(lines - median[:, None]).max(axis=1)
    extreme = (median <= config.gutter_extreme) | (median >= 255 - config.gutter_extreme)
    return (deviation <= config.gutter_strict_tolerance) | ((deviation <= config.gutter_tolerance) & extreme)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the runs of True in a 1-D boolean array, end exclusive."""
    padded = np.concatenate([[False], mask, [False]])
    changes = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(changes[::2].tolist(), changes[1::2].tolist()))


def _is_text(piece: np.ndarray, colour: float, min_length: int) -> bool:
    """Whether a piece holds only small marks on the gutter colour (a label, a caption, a plot's tick
    labels): no connected mark reaches ``min_length`` in either direction. Any pixel more than
    ``_INK_LEVELS`` from the gutter colour is a mark, so that a bright micrograph background (a
    few levels off white) joins its particles into one large mark."""
    ink = np.abs(piece - colour) > _INK_LEVELS
    if ink.mean() > 0.5:
        return False
    components, _ = ndi.label(ink, structure=np.ones((3, 3)))
    return all(rows.stop - rows.start < min_length and cols.stop - cols.start < min_length for rows, cols in ndi.find_objects(components))


def _join_weak(pieces: list[tuple[int, int]], weak: list[bool]) -> list[tuple[int, int]]:
    """Join weak pieces (too thin for a panel, or text) to the neighbour across the narrower gap,
    thinnest first, until no weak piece or only one piece is left. A piece joined to a strong
    neighbour becomes strong; two weak pieces joined stay weak."""
    pieces, weak = list(pieces), list(weak)
    while len(pieces) > 1 and any(weak):
        thinnest = min((index for index in range(len(pieces)) if weak[index]), key=lambda index: pieces[index][1] - pieces[index][0])
        gap_before = pieces[thinnest][0] - pieces[thinnest - 1][1] if thinnest > 0 else None
        gap_after = pieces[thinnest + 1][0] - pieces[thinnest][1] if thinnest < len(pieces) - 1 else None
        join_before = gap_after is None or (gap_before is not None and gap_before <= gap_after)
        first, second = sorted((thinnest, thinnest - 1 if join_before else thinnest + 1))
        pieces[first : second + 1] = [(pieces[first][0], pieces[second][1])]
        weak[first : second + 1] = [weak[first] and weak[second]]
    return pieces


def trim(grey: np.ndarray, box: Box, config: SplitConfig) -> Box | None:
    """``box`` shrunk past flat edge rows and columns; None if nothing but flat lines is left."""
    x0, y0, x1, y1 = box
    region = grey[y0:y1, x0:x1]
    rows = np.flatnonzero(~gutter_lines(region, axis=0, config=config))
    cols = np.flatnonzero(~gutter_lines(region, axis=1, config=config))
    if rows.size == 0 or cols.size == 0:
        return None
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)


def _edge_strength(edge_lines: np.ndarray, colour: float, config: SplitConfig) -> float:
    """Largest share of pixels unlike the gutter colour over the (k, L) lines next to a gutter
    (two lines: a JPEG may blur a panel's first line into the gutter)."""
    return float((np.abs(edge_lines - colour) > config.gutter_tolerance).mean(axis=1).max())


def _pieces(grey: np.ndarray, box: Box, axis: int, min_length: int, config: SplitConfig) -> list[tuple[int, int]]:
    """The pieces of ``box`` between gutters across ``axis`` (0: horizontal gutters), as (start, end)
    offsets along the axis.

    A run of gutter lines is kept as a gutter only if a panel edge bounds it on at least one side:
    the line next to it differs from the gutter colour along most of its length. Flat background
    inside a micrograph (black around SEM particles, a saturated TEM background) is bounded by
    lines of mostly that same background, so it does not cut the micrograph.
    """
    x0, y0, x1, y1 = box
    region = grey[y0:y1, x0:x1]
    lines = region if axis == 0 else region.T
    pieces = _runs(~gutter_lines(region, axis=axis, config=config))
    joined, colours = pieces[:1], []
    for start, end in pieces[1:]:
        gap_start, gap_end = joined[-1][1], start
        colour = float(np.median(lines[gap_start:gap_end]))
        before = _edge_strength(lines[max(0, gap_start - 2) : gap_start], colour, config)
        after = _edge_strength(lines[gap_end : gap_end + 2], colour, config)
        if max(before, after) >= config.min_edge_fraction:
            joined.append((start, end))
            colours.append(colour)
        else:
            joined[-1] = (joined[-1][0], end)
    if len(joined) == 1:
        return joined
    # A piece's background is the colour of the gutter before it (after it, for the first piece).
    backgrounds = [colours[0]] + colours
    weak = [end - start < min_length or _is_text(lines[start:end], colour, min_length) for (start, end), colour in zip(joined, backgrounds)]
    return _join_weak(joined, weak)


def find_panels(grey: np.ndarray, *, config: SplitConfig) -> list[Box]:
    """Panel boxes (x0, y0, x1, y1) of a grey (H, W) figure, in reading order (rows top to bottom,
    then left to right within a row, following the cut hierarchy). A figure with no gutter gives
    one box: the whole figure less its flat margins (or the whole figure if it is all flat)."""
    height, width = grey.shape
    min_length = max(config.min_panel_px, int(config.min_panel_fraction * max(height, width)))
    panels: list[Box] = []

    def cut(box: Box) -> None:
        trimmed = trim(grey, box, config)
        if trimmed is None:
            return
        x0, y0, x1, y1 = trimmed
        options = []
        for axis in (0, 1):
            pieces = _pieces(grey, trimmed, axis, min_length, config)
            if len(pieces) > 1:
                widest_gap = max(after[0] - before[1] for before, after in zip(pieces, pieces[1:]))
                options.append((widest_gap, -axis, axis, pieces))
        if not options:
            panels.append(trimmed)
            return
        _, _, axis, pieces = max(options)
        for start, end in pieces:
            cut((x0, y0 + start, x1, y0 + end) if axis == 0 else (x0 + start, y0, x0 + end, y1))

    cut((0, 0, width, height))
    return panels or [(0, 0, width, height)]
