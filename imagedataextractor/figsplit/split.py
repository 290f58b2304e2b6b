"""The panel-splitting stage: a figure image to its panels, each with its label and whether it is a
micrograph."""

from __future__ import annotations

import logging

import numpy as np

from ..imageio import as_rgb
from .classify import COLOURED_PIXEL_SPREAD, classify_panel
from .labels import read_panel_label
from .layout import Box, find_panels, gutter_lines, grey_levels
from .types import Panel, SplitConfig

log = logging.getLogger(__name__)

#: Gutter lines added around a panel for label reading where the panel's edge is mostly blank
#: (a label in the gutter above it, a plot's trimmed white margin): a label flush against the crop's
#: edge is not read, as it cannot be told from the edge of a micrograph.
_LABEL_MARGIN_PX = 6
#: A panel's edge line is blank when this share of its pixels is within ``_BLANK_LEVELS`` grey
#: levels of its median (flat paper; a micrograph's noise keeps its edge from being blank).
_BLANK_EDGE, _BLANK_LEVELS = 0.7, 3


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
        Panels in reading order, bbox in figure pixels. A figure without gutters is one panel
        covering it (less flat margins).

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
    grey = grey_levels(image)
    panels = []
    coloured = (image.max(axis=2).astype(np.int16) - image.min(axis=2)) > COLOURED_PIXEL_SPREAD
    for box, confidence in find_panels(grey, config=config, coloured=coloured):
        x0, y0, x1, y1 = box
        crop = image[y0:y1, x0:x1].copy()
        crop.setflags(write=False)
        is_micrograph, reason = classify_panel(crop, config=config)
        reading = None
        if config.read_labels:
            lx0, ly0, lx1, ly1 = _label_box(grey, box, config)
            reading = read_panel_label(image[ly0:ly1, lx0:lx1], config=config)
        panels.append(Panel(box, reading.label if reading else None, is_micrograph, reason, crop, confidence=round(confidence, 3)))
    log.debug("figure %dx%d: %d panels", image.shape[1], image.shape[0], len(panels))
    return panels
