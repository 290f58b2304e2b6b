"""The panel-splitting stage: a figure image to its panels, each with its label and whether it is a
micrograph."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from ..imageio import as_rgb
from .classify import COLOURED_PIXEL_SPREAD, classify_panel
from .labels import CORNERS, LabelReading, consistent_labels, expected_labels, letter_index, missing_label, read_expected_label, read_panel_label, read_title_label
from .layout import Box, find_panels, grey_levels, gutter_lines, reading_order
from .types import Panel, SplitConfig

log = logging.getLogger(__name__)

#: Gutter lines added around a panel for label reading where the panel's edge is mostly blank
#: (a label in the gutter above it, a plot's trimmed white margin): a label flush against the crop's
#: edge is not read, as it cannot be told from the edge of a micrograph.
_LABEL_MARGIN_PX = 6
#: A panel's edge line is blank when this share of its pixels is within ``_BLANK_LEVELS`` grey
#: levels of its median (flat paper; a micrograph's noise keeps its edge from being blank). Half,
#: not more: a plot trimmed to its content starts at its label's top row, which the label's ink,
#: the axes' background and the white paper share (a "g" there was cut off by the crop's edge).
_BLANK_EDGE, _BLANK_LEVELS = 0.5, 3
#: A figure with a side under this (px) is one panel; one with a side over ``MAX_LAYOUT_SIDE`` is
#: laid out on a copy reduced to that size.
MIN_FIGURE_SIDE, MAX_LAYOUT_SIDE = 64, 1600
#: Fragments (see :func:`_absorb_fragments`): largest area, as a share of the median lettered
#: panel; the share of another panel's area a joined box may cover; the confidence of a joined box.
_FRAGMENT_AREA, _FRAGMENT_OVERLAP, _FRAGMENT_CONFIDENCE = 0.35, 0.05, 0.8


def _label_box(grey: np.ndarray, box: Box, config: SplitConfig) -> Box:
    """``box`` grown by up to ``_LABEL_MARGIN_PX`` gutter lines on each side whose edge is blank."""
    x0, y0, x1, y1 = box
    height, width = grey.shape

    def blank(line: np.ndarray) -> bool:
        return bool((np.abs(line - np.median(line)) <= _BLANK_LEVELS).mean() >= _BLANK_EDGE)

    grow_top, grow_bottom = blank(grey[y0, x0:x1]), blank(grey[y1 - 1, x0:x1])
    grow_left, grow_right = blank(grey[y0:y1, x0]), blank(grey[y0:y1, x1 - 1])
    for _ in range(_LABEL_MARGIN_PX):
        if grow_top and y0 > 0 and gutter_lines(grey[y0 - 1 : y0, x0:x1], axis=0, config=config)[0]:
            y0 -= 1
        if grow_bottom and y1 < height and gutter_lines(grey[y1 : y1 + 1, x0:x1], axis=0, config=config)[0]:
            y1 += 1
        if grow_left and x0 > 0 and gutter_lines(grey[y0:y1, x0 - 1 : x0], axis=1, config=config)[0]:
            x0 -= 1
        if grow_right and x1 < width and gutter_lines(grey[y0:y1, x1 : x1 + 1], axis=1, config=config)[0]:
            x1 += 1
    return x0, y0, x1, y1


def split_figure(image: np.ndarray, *, config: SplitConfig = SplitConfig()) -> list[Panel]:
    """Split a figure into its panels.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB figure (greyscale, RGBA and other dtypes are converted).
    config : :class:`SplitConfig`.

    Returns
    -------
    list[Panel]
        Panels in reading order (the order their letters rise in, where they do), bbox in figure
        pixels, each with a confidence (see :class:`Panel`). A figure without gutters or seams is
        one panel covering it (less flat margins); so is a figure under ``MIN_FIGURE_SIDE`` px a
        side. A figure over ``MAX_LAYOUT_SIDE`` px is laid out on a reduced copy.

    Example
    -------
    >>> import numpy as np
    >>> figure = np.full((200, 410, 3), 255, np.uint8)
    >>> rng = np.random.default_rng(0)
    >>> figure[:, :200] = figure[:, 210:] = rng.integers(60, 200, (200, 200, 1), dtype=np.uint8)
    >>> [panel.bbox for panel in split_figure(figure, config=SplitConfig(read_labels=False))]
    [(0, 0, 200, 200), (210, 0, 410, 200)]
    """
    image = as_rgb(image, name="figure")
    height, width = image.shape[:2]
    if min(height, width) < MIN_FIGURE_SIDE:
        crop = image.copy()
        crop.setflags(write=False)
        return [Panel((0, 0, width, height), None, *classify_panel(crop, config=config), crop)]
    # A very large figure is split on a reduced copy (the layout does not need the detail) and the
    # boxes are mapped back; labels are read and panels classified on the full image.
    scale = min(1.0, MAX_LAYOUT_SIDE / max(height, width))
    small = image if scale == 1.0 else np.asarray(Image.fromarray(image).resize((round(width * scale), round(height * scale)), Image.Resampling.BOX))
    grey = grey_levels(small)
    coloured = (small.max(axis=2).astype(np.int16) - small.min(axis=2)) > COLOURED_PIXEL_SPREAD
    found = find_panels(grey, config=config, coloured=coloured)
    if scale != 1.0:
        grey = grey_levels(image)
        found = [(_scaled(box, 1 / scale, (width, height)), confidence) for box, confidence in found]
    kinds = [classify_panel(_crop(image, box), config=config) for box, _ in found]
    # In a figure of several panels, a letter beyond their number is no panel's label (a plot's frame
    # corner read as "L"): dropped here, so that it neither hides a plot's title label nor says which
    # corner labels are in. (A figure of one panel may be a crop of a compound one that keeps its "b".)
    readings = [_read_label(image, grey, box, config) for box, _ in found]
    if len(found) > 1:
        readings = [reading if reading is None or letter_index(reading.label) < len(found) else None for reading in readings]
    # A plot without a corner label may start its title with it, inside its frame.
    readings = [
        read_title_label(_crop(image, box), config=config) if reading is None and config.read_labels and not is_micrograph else reading
        for (box, _), reading, (is_micrograph, _) in zip(found, readings, kinds)
    ]
    labels = [reading.label if reading else None for reading in readings]
    # Figures print their labels in one corner: the second look searches the corners labels were read in.
    corners = tuple(corner for corner in CORNERS if any(reading and reading.corner == corner for reading in readings)) or CORNERS
    found, kinds, labels = _absorb_fragments(image, found, kinds, labels, config)
    labels = _recheck_labels(image, grey, [box for box, _ in found], [is_micrograph for is_micrograph, _ in kinds], labels, corners, config)
    order, labels = _lettering_order([box for box, _ in found], labels)
    panels = [Panel(found[index][0], labels[index], *kinds[index], _crop(image, found[index][0]), confidence=round(found[index][1], 3)) for index in order]
    log.debug("figure %dx%d: %d panels", width, height, len(panels))
    return panels


def _crop(image: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1].copy()
    crop.setflags(write=False)
    return crop


def _scaled(box: Box, factor: float, size: tuple[int, int]) -> Box:
    x0, y0, x1, y1 = box
    return (int(x0 * factor), int(y0 * factor), min(size[0], int(np.ceil(x1 * factor))), min(size[1], int(np.ceil(y1 * factor))))


def _read_label(image: np.ndarray, grey: np.ndarray, box: Box, config: SplitConfig) -> LabelReading | None:
    if not config.read_labels:
        return None
    lx0, ly0, lx1, ly1 = _label_box(grey, box, config)
    return read_panel_label(image[ly0:ly1, lx0:lx1], config=config)


def _recheck_labels(
    image: np.ndarray, grey: np.ndarray, boxes: list[Box], micrographs: list[bool], labels: list[str | None], corners: tuple[str, ...], config: SplitConfig
) -> list[str | None]:
    """``labels`` (by panel) with each unread panel that the letters read say should carry a letter
    (see :func:`expected_labels`; in the cut hierarchy's order or in rows, which one letter read
    cannot tell apart; or the one letter missing from those read, in any order, see
    :func:`missing_label`) looked at again for it in ``corners``; a letter is kept only where it is read."""
    if not config.read_labels or len(boxes) < 2:
        return labels
    labels = list(labels)
    looked: list[set[str]] = [set() for _ in boxes]
    # A second round looks for the letters that the first one's finds lead to expect (all the
    # others, after an "a" found where none had been read).
    for _ in range(2):
        expected: list[set[str]] = [set() for _ in boxes]
        for order in (list(range(len(boxes))), reading_order(boxes)):
            for index, letter in zip(order, expected_labels([labels[index] for index in order])):
                if letter is not None and letter not in looked[index]:
                    expected[index].add(letter)
        gap = missing_label(labels)
        if gap is not None and gap[1] not in looked[gap[0]]:
            expected[gap[0]].add(gap[1])
        if not any(expected):
            break
        _look_again(image, grey, boxes, micrographs, labels, expected, corners, config)
        for index, letters in enumerate(expected):
            looked[index] |= letters
    return labels


def _look_again(
    image: np.ndarray, grey: np.ndarray, boxes: list[Box], micrographs: list[bool], labels: list[str | None], expected: list[set[str]], corners: tuple[str, ...], config: SplitConfig
) -> None:
    """Set ``labels[index]`` where one of ``expected[index]`` is read on a second look: in the
    panel's corners, and in a plot's title."""
    for index, letters in enumerate(expected):
        if letters:
            # The panel with its gutter lines, then without (a label box that merges with a white
            # gutter is no glyph's surround).
            for x0, y0, x1, y1 in dict.fromkeys([_label_box(grey, boxes[index], config), boxes[index]]):
                reading = read_expected_label(image[y0:y1, x0:x1], letters, corners=corners, config=config)
                if reading is not None:
                    labels[index] = reading.label
                    break
            else:
                if not micrographs[index]:
                    reading = read_title_label(_crop(image, boxes[index]), letters=letters, config=config)
                    if reading is not None:
                        labels[index] = reading.label


def _lettering_order(boxes: list[Box], labels: list[str | None]) -> tuple[list[int], list[str | None]]:
    """The order of the panels (the cut hierarchy, as found, or rows then columns, whichever the
    letters read rise in; rows when neither) and their letters made consistent in that order
    (misreadings dropped, see :func:`consistent_labels`)."""
    if len(boxes) < 2:
        return list(range(len(boxes))), labels
    candidates = [list(range(len(boxes))), reading_order(boxes)]
    for order in candidates:
        ordered = consistent_labels([labels[index] for index in order])
        letters = [label for label in ordered if label is not None]
        if letters and letters == sorted(letters):
            break
    else:
        order = candidates[1]
        ordered = consistent_labels([labels[index] for index in order])
    by_panel: list[str | None] = [None] * len(boxes)
    for index, label in zip(order, ordered):
        by_panel[index] = label
    return order, by_panel


def _absorb_fragments(
    image: np.ndarray, found: list[tuple[Box, float]], kinds: list[tuple[bool, str | None]], labels: list[str | None], config: SplitConfig
) -> tuple[list[tuple[Box, float]], list[tuple[bool, str | None]], list[str | None]]:
    """In a lettered figure (at least two panels with letters), join each unlettered piece smaller
    than ``_FRAGMENT_AREA`` times the median lettered panel (a legend, a colour key or a strip of a
    western blot cut off by a gutter) to the nearest panel that is no such piece (lettered, or too
    large for one: its letter may be unread) and that the joined box does not push into any other
    panel; the median is taken again after each join. Two micrographs are never joined, and the
    joined box is classified again and gets a confidence of at most ``_FRAGMENT_CONFIDENCE``."""
    found, kinds, labels = list(found), list(kinds), list(labels)
    if sum(label is not None for label in labels) < 2:
        return found, kinds, labels
    while True:
        # The lettered panels grow as fragments join them (a legend beside a plot is a fragment of
        # the plot with its own legend joined, not of the plot alone).
        limit = _FRAGMENT_AREA * float(np.median([_area(box) for (box, _), label in zip(found, labels) if label is not None]))
        fragments = [index for index, ((box, _), label) in enumerate(zip(found, labels)) if label is None and _area(box) < limit]
        joins = []
        for fragment in fragments:
            for target, ((box, _), label) in enumerate(zip(found, labels)):
                if target in fragments or (kinds[fragment][0] and kinds[target][0]):
                    continue
                union = _union(found[fragment][0], box)
                if all(_overlap(union, other) <= _FRAGMENT_OVERLAP * _area(other) for index, (other, _) in enumerate(found) if index not in (fragment, target)):
                    joins.append((_gap(found[fragment][0], box), fragment, target, union))
        if not joins:
            return found, kinds, labels
        _, fragment, target, union = min(joins)
        found[target] = (union, min(found[target][1], found[fragment][1], _FRAGMENT_CONFIDENCE))
        kinds[target] = classify_panel(_crop(image, union), config=config)
        del found[fragment], kinds[fragment], labels[fragment]


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _overlap(a: Box, b: Box) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _gap(a: Box, b: Box) -> int:
    """Pixels between two boxes (0 when they touch or overlap), the larger of the two axes."""
    return max(0, max(a[0], b[0]) - min(a[2], b[2]), max(a[1], b[1]) - min(a[3], b[3]))
