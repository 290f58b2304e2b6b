"""Settings and results of the panel-splitting stage."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SplitConfig:
    """Settings of :func:`imagedataextractor.figsplit.split_figure`.

    Finding panels:
    gutter_tolerance: grey levels (0-255) every pixel of a gutter line may differ from the line's
        median (absorbs JPEG noise) when that median is within ``gutter_extreme`` levels of black
        or white.
    gutter_strict_tolerance: the same for a gutter line of any other grey.
    min_edge_fraction: a gutter must have a panel edge on at least one side: a line next to it whose
        pixels differ from the gutter colour over at least this fraction of its length; except a
        white gutter at least ``min_paper_gutter_px`` wide (between plots on white paper).
    min_panel_px, min_panel_fraction: a piece between gutters narrower than
        max(min_panel_px, min_panel_fraction * longer figure side), or holding only marks smaller
        than that (a label, a caption, a plot's tick labels), is joined to its nearer neighbour
        instead of becoming a panel.

    Reading labels:
    read_labels: OCR a label in each panel's corners.
    label_min_confidence: Tesseract confidence (0-100) below which a reading is discarded.

    Classifying panels (statistics over the panel without a 5 % frame, see ``classify``):
    max_colour_fraction: share of coloured pixels above which the panel is a colour image.
    max_paper_fraction: share of flat near-white pixels above which the panel is a drawing.
    """

    gutter_tolerance: int = 24
    gutter_strict_tolerance: int = 1
    gutter_extreme: int = 12
    min_edge_fraction: float = 0.6
    min_paper_gutter_px: int = 2
    min_panel_px: int = 40
    min_panel_fraction: float = 0.06
    read_labels: bool = True
    label_min_confidence: float = 30.0
    max_colour_fraction: float = 0.1
    max_paper_fraction: float = 0.2


@dataclass(frozen=True)
class Panel:
    """One panel of a figure.

    bbox: (x0, y0, x1, y1) in figure pixels, end exclusive; the panel with the text attached to it
        (a label above it, a caption below it).
    label: the panel letter, lower case ("b" for a printed "(b)" or "B"), or None if none was read.
    is_micrograph: whether the panel looks like a greyscale micrograph.
    reason: why it is not a micrograph (None when it is).
    image: (y1 - y0, x1 - x0, 3) uint8 RGB crop of the figure, read-only.
    confidence: how sure the splitter is that bbox is exactly one printed panel, 0-1: 1 for a panel
        bounded by gutters; lower for one cut from its neighbour along an edge between two images
        (no gutter), or holding a line that is almost such an edge, or crossed by a line where its
        neighbours in the layout are cut (it may be two images).
    """

    bbox: tuple[int, int, int, int]
    label: str | None
    is_micrograph: bool
    reason: str | None
    image: np.ndarray = field(repr=False, compare=False)
    confidence: float = 1.0

    def to_dict(self) -> dict:
        """bbox, label, is_micrograph, reason and confidence as plain JSON values."""
        return {"bbox": list(self.bbox), "label": self.label, "is_micrograph": self.is_micrograph, "reason": self.reason, "confidence": self.confidence}


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1) in pixels, x1 and y1 exclusive."""
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
