"""Finding the panels of a figure by recursive cuts along uniform gutters and seams (an XY-cut).

A gutter line is a row (or column) of a region that is one flat colour near white or black, within
a tolerance for JPEG noise, or exactly one flat colour of any shade; white gutters, black gutters
and the 1-3 px borders between abutting panels all are. The non-gutter runs between gutter lines
are candidate pieces. A gutter needs a panel edge on at least one side unless it is white paper
(plots and drawings end in white), and pieces too thin to be panels or holding only small marks
(labels above a panel, captions under it, the tick labels of a plot; found as connected
components) are joined to a neighbour, so they stay with their panel: a label printed before its
panel to the panel after it, others to the nearer one. A region is cut along the axis with the
widest gutter and each piece is cut again. A region without gutters that is an image (not mostly
paper or colour) is cut along its strongest seam, a straight line where two touching images meet
(:func:`find_seams`), with a confidence under 1 for its pieces; in those pieces a weaker line
that continues a seam found across the region they were cut from is cut too (a grid of touching
images whose second seam shows in one row only), and so is a line where its siblings (the other
columns of a grid's row, or rows of its column) have a gutter, or a seam at one coordinate in two of
them (a grid's rows meet at the same line in every column, though JPEG noise may hide the gutter in
some): unsure, the splitter cuts rather than merge two images. A region with many straight lines
(a table, a heat map, a blot's lanes) is ruled, not a set of touching images, and is not cut along
seams. An image panel crossed by such a sibling's line that shows no seam there keeps a confidence
under 1. What cannot be cut is a panel, trimmed of its flat margins.
"""
from __future__ import annotations

from functools import cache

import numpy as np
from scipy import ndimage as ndi

from .types import SplitConfig

Box = tuple[int, int, int, int]
#: Where a region's pieces may be cut: (axis, first, last figure coordinate, whether it continues a
#: seam of the region they were cut from, rather than a line of a sibling, see ``grid_hints``).
Hint = tuple[int, int, int, bool]

#: Grey levels from the gutter colour beyond which a pixel is a mark (text, or a panel's content).
_INK_LEVELS = 8
#: Lines either side of a gutter searched for a panel edge (a JPEG may blur a panel's first line
#: into the gutter). Not 4: that fixed a 1 px gutter under JPEG-blurred micrographs (dev jpeg seed
#: 104) but kept gutters between a plot's tick labels and its axis title, which then joined the
#: wrong panel (benchmark plots-axis-titles seed 5).
_EDGE_LINES = 2
#: A weak piece whose ink ends within this share of its length is a label printed before its panel.
_LEADING_LABEL_SPAN = 0.15
#: ... followed by ink only this share of L further on (tick labels are spaced closer).
_LABEL_CLEARANCE = 0.2
#: Seams (see :func:`find_seams`, :func:`_band_breaks`): rows per band (down to ``_SEAM_MIN_BAND_PX``
#: in a region too short for ``_SEAM_MIN_BANDS_COUNT`` bands of ``_SEAM_BAND_PX``: the panels of
#: a downscaled figure) and most bands; correlation
#: span (lines), smoothing along the seam (sigma, px) and pairs compared for a step; a step is
#: ``_SEAM_STEP`` times the local median and ``_SEAM_MIN_STEP`` grey levels;
#: a line's texture needs this standard deviation (grey levels);
#: a dip is a correlation under ``_SEAM_MAX_CORRELATION`` and under ``_SEAM_DROP`` times the band's
#: median, which must be over ``_SEAM_MIN_REFERENCE``; a seam dips in ``_SEAM_MIN_BANDS`` of bands.
_SEAM_BAND_PX, _SEAM_MIN_BAND_PX, _SEAM_MAX_BANDS = 30, 15, 10
_SEAM_SPAN, _SEAM_SMOOTHING, _SEAM_NEIGHBOURHOOD = 3, 2.0, 7
_SEAM_STEP, _SEAM_MIN_STEP, _SEAM_LINE_STEP, _SEAM_RIDGE = 4.0, 1.5, 0.5, 30.0
_SEAM_MIN_SPREAD = 2.0
_SEAM_MAX_CORRELATION, _SEAM_DROP, _SEAM_MIN_REFERENCE = 0.3, 0.5, 0.6
#: Each piece either side of a seam is at least this share of the region (touching images are
#: of similar sizes; a thin strip is more likely an image's own edge).
_SEAM_MIN_PIECE = 0.2
_SEAM_MIN_BANDS, _SEAM_MIN_BANDS_COUNT = 0.75, 4
#: JPEG block size (px); grid pairs around a grid pair whose median step it is compared to; how
#: much larger steps on the grid are than elsewhere in a figure with visible blocks.
_JPEG_BLOCK, _SEAM_GRID_NEIGHBOURS, _JPEG_BLOCKINESS = 8, 7, 1.15
#: A panel with a line breaking this share of bands may be two images; seam cuts are this sure.
_SEAM_DOUBT, _SEAM_CONFIDENCE = 0.5, 0.9
#: A region with this many seam-strong lines (``_SEAM_MIN_BANDS``) along one axis is ruled (a table,
#: a heat map, the lanes of a blot), not two images: real ones have 1-3, micrographs of particles
#: at most 7 (EMPS, dev seeds), tables and heat maps 11-22 (figsplit-dev).
_SEAM_MAX_LINES = 10
#: A seam across a region too short for ``_SEAM_MIN_BANDS_COUNT`` bands of ``_SEAM_BAND_PX`` is
#: measured on few, thin bands: unless it breaks all of them it is alone at most this strong (a
#: doubt, not a cut; the lattice of close-packed particles breaks 3 of 4).
_SEAM_SHORT_STRENGTH = 0.7
#: A line breaking ``_SEAM_DOUBT`` of a region's bands is cut as a seam when it continues, within
#: this many px, a seam found across the region it was cut from (the second seam of a grid of
#: touching images, broken in only one row of them): unsure, the splitter cuts rather than merge.
_SEAM_HINT_PX = 3
#: The most confidence of an image panel crossed by a gutter of a sibling (a row or column of the
#: same layout) or a seam of the region it was cut from, where it shows no seam itself.
_CROSSED_CONFIDENCE = 0.7
#: Grey level from which a flat pixel is white paper (as in ``classify``).
_PAPER_LEVEL = 250


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


def _is_leading_label(piece: np.ndarray, colour: float) -> bool:
    """Whether the ink of a (k, L) piece starts with one small mark near the start of its lines (a
    panel label printed above-left of its panel): within the first ``_LEADING_LABEL_SPAN`` of L,
    and either alone or followed by ``_LABEL_CLEARANCE`` of L without ink (the label shares its
    rows with the top of its plot, or the axis title of the panel above)."""
    ink = np.asarray((np.abs(piece - colour) > _INK_LEVELS).any(axis=0))
    marks = _runs(ink)
    if not marks or marks[0][1] >= _LEADING_LABEL_SPAN * piece.shape[1]:
        return False
    return len(marks) == 1 or marks[1][0] - marks[0][1] >= _LABEL_CLEARANCE * piece.shape[1]


def _join_weak(pieces: list[tuple[int, int]], weak: list[bool], leading: list[bool]) -> list[tuple[int, int]]:
    """Join weak pieces (too thin for a panel, or text) to a neighbour, thinnest first, until no weak
    piece or only one piece is left: a ``leading`` piece (a label) to the piece after it, others to
    the neighbour across the narrower gap. A piece joined to a strong neighbour becomes strong; two
    weak pieces joined stay weak."""
    pieces, weak, leading = list(pieces), list(weak), list(leading)
    while len(pieces) > 1 and any(weak):
        thinnest = min((index for index in range(len(pieces)) if weak[index]), key=lambda index: pieces[index][1] - pieces[index][0])
        gap_before = pieces[thinnest][0] - pieces[thinnest - 1][1] if thinnest > 0 else None
        gap_after = pieces[thinnest + 1][0] - pieces[thinnest][1] if thinnest < len(pieces) - 1 else None
        if leading[thinnest] and gap_after is not None:
            join_before = False
        else:
            join_before = gap_after is None or (gap_before is not None and gap_before <= gap_after)
        first, second = sorted((thinnest, thinnest - 1 if join_before else thinnest + 1))
        pieces[first : second + 1] = [(pieces[first][0], pieces[second][1])]
        weak[first : second + 1] = [weak[first] and weak[second]]
        leading[first : second + 1] = [False]
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
    (``_EDGE_LINES``: a JPEG may blur a panel's first lines into the gutter)."""
    return float((np.abs(edge_lines - colour) > config.gutter_tolerance).mean(axis=1).max())


def _pieces(grey: np.ndarray, box: Box, axis: int, min_length: int, config: SplitConfig) -> list[tuple[int, int]]:
    """The pieces of ``box`` between gutters across ``axis`` (0: horizontal gutters), as (start, end)
    offsets along the axis.

    A run of gutter lines is kept as a gutter if it is white paper at least
    ``min_paper_gutter_px`` wide (plots and drawings on white end in white, so no edge bounds their
    gutters), or else if a panel edge bounds it on at least one side: the line next to it differs
    from the gutter colour along most of its length. Flat black background inside a micrograph
    (around SEM particles) is bounded by lines of mostly that same background, so it does not cut
    the micrograph. Weak pieces (see :func:`_join_weak`) that look like a panel label (a small mark
    at the start of the piece, where labels are printed above or left of their panel) or are a
    column of text (a plot's tick labels and axis title, left of it) join the piece after them;
    other weak pieces (captions, x tick labels) join the nearer neighbour.
    """
    x0, y0, x1, y1 = box
    region = grey[y0:y1, x0:x1]
    lines = region if axis == 0 else region.T
    pieces = _runs(~gutter_lines(region, axis=axis, config=config))
    joined, colours = pieces[:1], []
    for start, end in pieces[1:]:
        gap_start, gap_end = joined[-1][1], start
        colour = float(np.median(lines[gap_start:gap_end]))
        before = _edge_strength(lines[max(0, gap_start - _EDGE_LINES) : gap_start], colour, config)
        after = _edge_strength(lines[gap_end : gap_end + _EDGE_LINES], colour, config)
        paper = colour >= 255 - config.gutter_extreme and gap_end - gap_start >= config.min_paper_gutter_px
        if paper or max(before, after) >= config.min_edge_fraction:
            joined.append((start, end))
            colours.append(colour)
        else:
            joined[-1] = (joined[-1][0], end)
    if len(joined) == 1:
        return joined
    # A piece's background is the colour of the gutter before it (after it, for the first piece).
    backgrounds = [colours[0]] + colours
    text = [_is_text(lines[start:end], colour, min_length) for (start, end), colour in zip(joined, backgrounds)]
    weak = [end - start < min_length or is_text for (start, end), is_text in zip(joined, text)]
    # A column of text left of a panel (a plot's tick labels and axis title, its label) is that panel's.
    leading = [is_weak and ((axis == 1 and is_text) or _is_leading_label(lines[start:end], colour)) for (start, end), colour, is_weak, is_text in zip(joined, backgrounds, weak, text)]
    return _join_weak(joined, weak, leading)


def _bands(lines: np.ndarray) -> list[np.ndarray]:
    """The (rows, L) lines split into bands of about ``_SEAM_BAND_PX`` rows, at least
    ``_SEAM_MIN_BANDS_COUNT`` of them (so thinner in a short region) and at most ``_SEAM_MAX_BANDS``."""
    return np.array_split(lines, int(np.clip(lines.shape[0] // _SEAM_BAND_PX, _SEAM_MIN_BANDS_COUNT, _SEAM_MAX_BANDS)), axis=0)


def _correlation(band: np.ndarray, span: int) -> np.ndarray:
    """Pearson correlation of column j with column j + span of a (rows, L) band, j = 0 .. L - span - 1;
    NaN where either column is flat (standard deviation under ``_SEAM_MIN_SPREAD``)."""
    centred = band - band.mean(axis=0)
    spread = np.sqrt((centred**2).mean(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = (centred[:, :-span] * centred[:, span:]).mean(axis=0) / (spread[:-span] * spread[span:])
    correlation[(spread[:-span] < _SEAM_MIN_SPREAD) | (spread[span:] < _SEAM_MIN_SPREAD)] = np.nan
    return correlation


def _band_breaks(band: np.ndarray, origin: int | None) -> np.ndarray:
    """Boolean per column pair (k - 1, k), k = 1 .. L - 1, of a (rows, L) band smoothed along its
    rows: does the band break there? Either a step (the mean absolute difference across the pair
    is ``_SEAM_STEP`` times the median over the neighbouring pairs on its quieter side, at least ``_SEAM_MIN_STEP``
    grey levels, and still ``_SEAM_LINE_STEP`` of that across the ``2 * _SEAM_SPAN - 1`` lines
    around the pair, or those lines uncorrelated: a straight edge between two images, not a thin
    rule on one background), a light line ``_SEAM_RIDGE`` levels over both sides, or a texture break:
    the columns ``_SEAM_SPAN`` apart across the pair correlate under ``_SEAM_MAX_CORRELATION``
    while those just before and just after it, on either side, correlate over
    ``_SEAM_MIN_REFERENCE`` (each side is one textured image) and ``_SEAM_DROP`` times more. A
    periodic texture (close-packed particles) dips in the middle and on both sides together.

    JPEG compresses 8 x 8 blocks of the figure, which leaves straight edges on its 8-px grid
    (``origin``: the figure coordinate of the band's first column; None when the figure shows no
    blocks): a pair on that grid breaks only if its step is also ``_SEAM_STEP`` times the median
    step of the grid pairs around it."""
    span = _SEAM_SPAN
    steps = np.abs(np.diff(band, axis=1)).mean(axis=0)
    # The same step measured between the lines ``span`` before and after the pair: it stays for an
    # edge between two images and vanishes for a thin line on one background (a table's rule, a
    # plot's axis), which steps up and back down.
    wide = np.zeros_like(steps)
    wide[span - 1 : steps.size - span + 1] = np.abs(band[:, 2 * span - 1 :] - band[:, : -(2 * span - 1)]).mean(axis=0)
    correlation = _correlation(band, span)
    # ... unless the lines either side of it are two different textures (a separator line between
    # two images): uncorrelated across the wide span.
    wide_correlation = np.ones_like(steps)
    wide_correlation[span - 1 : steps.size - span + 1] = np.nan_to_num(_correlation(band, 2 * span - 1), nan=1.0)
    # The quieter side's median: an image edge may run beside a busy texture.
    side = ndi.median_filter(steps, size=_SEAM_NEIGHBOURHOOD, mode="nearest")
    reach = _SEAM_NEIGHBOURHOOD // 2 + 1
    padded = np.pad(side, reach, mode="edge")
    local = np.minimum(padded[: -2 * reach], padded[2 * reach :])
    edge = (wide >= _SEAM_LINE_STEP * steps) | (wide_correlation < _SEAM_MAX_CORRELATION)
    breaks = (steps >= _SEAM_STEP * local) & (steps >= _SEAM_MIN_STEP) & edge
    # Pair (k - 1, k) is straddled by columns (k - 2, k + 1): correlation[k - 2]; the side
    # references are correlation[k - 2 - span] (columns k - 5, k - 2) and correlation[k + 1].
    cross = correlation[span:-span]
    sides = np.fmin(correlation[: -2 * span], correlation[2 * span :])
    with np.errstate(invalid="ignore"):
        dips = (cross < _SEAM_MAX_CORRELATION) & (sides > _SEAM_MIN_REFERENCE) & (cross < _SEAM_DROP * sides)
    texture_breaks = np.zeros(steps.size, bool)
    texture_breaks[2 * span - 1 : 2 * span - 1 + dips.size] = dips
    # A light separator line (1-3 px) too noisy for a gutter: column c brighter than both columns
    # two away by ``_SEAM_RIDGE`` levels in most rows; the break is before it.
    ridge = np.zeros(steps.size, bool)
    above = np.minimum(band[:, 2:-2] - band[:, :-4], band[:, 2:-2] - band[:, 4:])
    ridge[1 : 1 + above.shape[1]] = np.median(above, axis=0) >= _SEAM_RIDGE
    found = breaks | texture_breaks | ridge
    if origin is not None:
        on_grid = np.flatnonzero((origin + np.arange(1, steps.size + 1)) % _JPEG_BLOCK == 0)
        grid_steps = steps[on_grid]
        if grid_steps.size:
            found[on_grid] &= grid_steps >= _SEAM_STEP * ndi.median_filter(grid_steps, size=_SEAM_GRID_NEIGHBOURS, mode="nearest")
    return found


def find_seams(region: np.ndarray, *, axis: int, min_length: int, min_support: float = _SEAM_MIN_BANDS, origin: int | None = None) -> list[tuple[int, float]]:
    """Straight seams across a grey region where two images abut without a gutter, or with a
    separator line too faint or noisy for a gutter: (offset along ``axis`` of the first line after
    the seam, strength 0-1), strongest first. ``axis`` 0 looks for horizontal seams.

    The region is smoothed along the seam direction (not across it) to lift pixel noise and split
    into bands across it; a seam is a line where at least ``_SEAM_MIN_BANDS`` of the bands break
    (see :func:`_band_breaks`), so a particle edge, an inset or a label over part of the length is
    no seam. Its strength is the share of bands that break (lines with at least ``min_support``
    are returned). Both pieces must be at least twice ``min_length`` long and ``_SEAM_MIN_PIECE``
    of the region. A region with ``_SEAM_MAX_LINES`` lines breaking ``_SEAM_MIN_BANDS`` of its
    bands is ruled (a table, a heat map, a lattice of particles) and has no seams of its own.
    ``origin``: the figure coordinate of the region's first line along ``axis``.
    """
    seams, ruled = _seams(region, axis=axis, min_length=min_length, min_support=min_support, origin=origin)
    return [] if ruled else seams


def _seams(region: np.ndarray, *, axis: int, min_length: int, min_support: float, origin: int | None) -> tuple[list[tuple[int, float]], bool]:
    """The seams of :func:`find_seams`, ruled regions' too, and whether the region is ruled."""
    lines = region if axis == 1 else region.T
    if lines.shape[1] < 2 * min_length or lines.shape[0] < _SEAM_MIN_BANDS_COUNT * _SEAM_MIN_BAND_PX:
        return [], False
    smooth = ndi.gaussian_filter1d(lines.astype(np.float32), _SEAM_SMOOTHING, axis=0)
    breaks = np.array([_band_breaks(band, origin) for band in _bands(smooth)])
    # A seam is straight: the same pair breaks in every band.
    support = breaks.mean(axis=0)
    steps = np.abs(np.diff(smooth, axis=1)).mean(axis=0)
    seams: list[tuple[int, float]] = []
    shortest = max(2 * min_length, int(_SEAM_MIN_PIECE * lines.shape[1]))
    for start, end in _runs(support >= min_support):
        line = start + int(np.argmax(steps[start:end])) + 1
        if shortest <= line <= lines.shape[1] - shortest:
            seams.append((line, float(support[start:end].max())))
    return sorted(seams, key=lambda seam: -seam[1]), len(_runs(support >= _SEAM_MIN_BANDS)) >= _SEAM_MAX_LINES


def jpeg_blocky(grey: np.ndarray) -> bool:
    """Whether a grey figure shows JPEG blocks: the median over columns (or rows) of the mean step
    between neighbours is ``_JPEG_BLOCKINESS`` times larger on the 8-px grid than off it (medians,
    so that a few panel edges on the grid do not count)."""
    ratios = []
    for lines in (grey, grey.T):
        steps = np.abs(np.diff(lines, axis=1)).mean(axis=0)
        on_grid = (np.arange(1, steps.size + 1) % _JPEG_BLOCK) == 0
        ratios.append(float(np.median(steps[on_grid])) / max(float(np.median(steps[~on_grid])), 1e-6) if on_grid.any() else 1.0)
    return max(ratios) >= _JPEG_BLOCKINESS


def _paper_fraction(region: np.ndarray) -> float:
    """Share of a grey region's pixels that are flat near-white paper (see ``classify``)."""
    flat = ndi.maximum_filter(region, size=3) == ndi.minimum_filter(region, size=3)
    return float((flat & (region >= _PAPER_LEVEL)).mean())


def find_panels(grey: np.ndarray, *, config: SplitConfig, coloured: np.ndarray | None = None) -> list[tuple[Box, float]]:
    """Panel boxes (x0, y0, x1, y1) of a grey (H, W) figure with a confidence (0-1) each, in reading
    order (rows top to bottom, then left to right within a row, following the cut hierarchy).

    ``coloured``: optional (H, W) boolean map of coloured pixels.
    A region is cut along its gutters (see :func:`_pieces`); one without gutters, unless it is
    mostly paper or colour (a plot, drawing or heat map, whose axis lines and cells would read as
    seams; more than ``max_paper_fraction`` / ``max_colour_fraction``), is cut along its
    strongest seam (:func:`find_seams`), and its pieces get a confidence of ``_SEAM_CONFIDENCE``
    times the seam's strength. A panel that holds a line almost strong enough for a seam (at least
    ``_SEAM_DOUBT`` of the bands break) keeps 1 minus that share: it may be two images. A figure
    with no gutter or seam gives one box: the whole figure less its flat margins (or the whole
    figure if it is all flat)."""
    height, width = grey.shape
    min_length = max(config.min_panel_px, int(config.min_panel_fraction * max(height, width)))
    panels: list[tuple[Box, float]] = []
    blocky = jpeg_blocky(grey)

    # Siblings look at each other's gutters and seams before each is cut: found once.
    trimmed_box = cache(lambda box: trim(grey, box, config))
    pieces_of = cache(lambda trimmed, axis: _pieces(grey, trimmed, axis, min_length, config))

    @cache
    def image_seams(trimmed: Box) -> list[tuple[float, int, int, int, bool]] | None:
        """(strength, axis, offset, figure coordinate, ruled) of the seams of a trimmed region with
        at least ``_SEAM_DOUBT`` support (ruled: found along an axis with many such lines, see
        :func:`find_seams`, which count only where the layout expects a cut); None when it is mostly paper or colour (a plot, drawing
        or heat map, whose axis lines and cells would read as seams). Kept for the region's
        siblings, which look at its seams too."""
        x0, y0, x1, y1 = trimmed
        region = grey[y0:y1, x0:x1]
        colour_fraction = float(coloured[y0:y1, x0:x1].mean()) if coloured is not None else 0.0
        if _paper_fraction(region) > config.max_paper_fraction or colour_fraction > config.max_colour_fraction:
            return None
        origins = (y0, x0)
        found = []
        for axis in (0, 1):
            seams, ruled = _seams(region, axis=axis, min_length=min_length, min_support=_SEAM_DOUBT, origin=origins[axis] if blocky else None)
            found += [(strength, axis, line, line + origins[axis], ruled) for line, strength in seams]
        return found

    def grid_hints(boxes: list[Box], axis: int) -> frozenset[Hint]:
        """Where the pieces of a region cut along ``axis`` (the columns of a grid) may be cut across
        the other axis: the gutters found in any of them, and the seams found at one coordinate
        in two of them (with at least ``_SEAM_DOUBT`` support, and ``_SEAM_MIN_BANDS`` in one of
        the two: lines of ``_SEAM_DOUBT`` are common inside single micrographs). A grid's rows
        meet at the same line in all its columns, but JPEG noise may hide it in some."""
        hints = []
        lines: list[tuple[int, int, float]] = []
        for index, box in enumerate(boxes):
            trimmed = trimmed_box(box)
            if trimmed is None:
                continue
            pieces = pieces_of(trimmed, 1 - axis)
            origin = trimmed[axis]
            hints += [(1 - axis, origin + before[1], origin + after[0], False) for before, after in zip(pieces, pieces[1:])]
            # (A piece with gutters of its own is cut along them, not along seams.)
            seams = image_seams(trimmed) if len(pieces) == 1 else None
            lines += [(index, at, strength) for strength, seam_axis, _, at, ruled in seams or [] if seam_axis == 1 - axis and not ruled]
        for index, at, strength in lines:
            if any(other != index and abs(other_at - at) <= _SEAM_HINT_PX and max(strength, other_strength) >= _SEAM_MIN_BANDS for other, other_at, other_strength in lines):
                hints.append((1 - axis, at, at, False))
        return frozenset(hints)

    def cut(box: Box, confidence: float, hints: frozenset[Hint] = frozenset()) -> None:
        trimmed = trimmed_box(box)
        if trimmed is None:
            return
        x0, y0, x1, y1 = trimmed
        options = []
        for axis in (0, 1):
            pieces = pieces_of(trimmed, axis)
            if len(pieces) > 1:
                widest_gap = max(after[0] - before[1] for before, after in zip(pieces, pieces[1:]))
                options.append((widest_gap, -axis, axis, pieces))
        if options:
            _, _, axis, pieces = max(options)
            boxes = [(x0, y0 + start, x1, y0 + end) if axis == 0 else (x0 + start, y0, x0 + end, y1) for start, end in pieces]
            grid = grid_hints(boxes, axis)
            for piece in boxes:
                cut(piece, confidence, hints | grid)
            return
        placed = image_seams(trimmed)
        if placed is None:
            panels.append((trimmed, confidence))
            return
        # A seam continuing a seam of the region this one was cut from, or a gutter or seam of its
        # siblings (see ``grid_hints``), counts as strong; in a ruled region (the lattice of
        # close-packed particles) only the former: one of its many lines is always near a sibling's.
        hinted = [
            (max(strength, _SEAM_MIN_BANDS), axis, line, at)
            for strength, axis, line, at, ruled in placed
            if any(axis == hint_axis and start - _SEAM_HINT_PX <= at <= end + _SEAM_HINT_PX and (seam or not ruled) for hint_axis, start, end, seam in hints)
        ]
        # Across a short region (few, thin bands, see :func:`_bands`) a seam that does not break
        # every band alone only doubts.
        short = [length < _SEAM_MIN_BANDS_COUNT * _SEAM_BAND_PX for length in (x1 - x0, y1 - y0)]
        unsure = [(min(strength, _SEAM_SHORT_STRENGTH) if short[axis] and strength < 1.0 else strength, axis, line, at) for strength, axis, line, at, ruled in placed if not ruled]
        # Of the lines strong enough to cut, one where the layout expects a cut goes first.
        strength, axis, line, _ = max(hinted or unsure, default=(0.0, 0, 0, 0))
        if strength < _SEAM_MIN_BANDS:
            # An image crossed by a sibling's gutter or a seam of its parent that it shows no seam
            # for may still be two images (of one texture, or the line lost to JPEG).
            crossed = any(start - (y0, x0)[hint_axis] >= min_length and (y1, x1)[hint_axis] - end >= min_length for hint_axis, start, end, _ in hints)
            panels.append((trimmed, min(confidence, 1.0 - strength, _CROSSED_CONFIDENCE if crossed else 1.0)))
            return
        found_strength = max(found for found, found_axis, found_line, _, _ in placed if (found_axis, found_line) == (axis, line))
        seam_confidence = min(confidence, _SEAM_CONFIDENCE * found_strength)
        hints = hints | {(other_axis, at, at, True) for other_strength, other_axis, _, at, ruled in placed if other_axis != axis and other_strength >= _SEAM_MIN_BANDS and not ruled}
        if axis == 0:
            cut((x0, y0, x1, y0 + line), seam_confidence, hints)
            cut((x0, y0 + line, x1, y1), seam_confidence, hints)
        else:
            cut((x0, y0, x0 + line, y1), seam_confidence, hints)
            cut((x0 + line, y0, x1, y1), seam_confidence, hints)

    cut((0, 0, width, height), 1.0)
    return panels or [((0, 0, width, height), 1.0)]


def reading_order(boxes: list[Box]) -> list[int]:
    """Indices of ``boxes`` in reading order: rows top to bottom, left to right within a row. A box
    joins the row of the topmost box not yet placed when it starts above that box's middle."""
    remaining = sorted(range(len(boxes)), key=lambda index: (boxes[index][1], boxes[index][0]))
    order: list[int] = []
    while remaining:
        first = boxes[remaining[0]]
        middle = (first[1] + first[3]) / 2
        row = [index for index in remaining if boxes[index][1] < middle]
        order += sorted(row, key=lambda index: (boxes[index][0], boxes[index][1]))
        remaining = [index for index in remaining if index not in row]
    return order
