"""What the scalebar stage takes and returns. Imports nothing heavy."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .parse import nm_per_unit

#: (x0, y0, x1, y1) in pixels, x1 and y1 exclusive, so width = x1 - x0.
BBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class ScalebarConfig:
    """Settings of :func:`~imagedataextractor.scalebar.read_scalebar`.

    min_length_px: shortest bar considered (pixels).
    max_length_frac: longest bar considered, as a fraction of the image width (longer lines are
        frame edges and panel borders).
    max_thickness_frac: thickest bar considered, as a fraction of its length.
    min_contrast: least grey-level difference (0-255) between a bar and the pixels around it.
    text_height_px: OCR input is scaled so that label text is about this tall (pixels).
    max_candidates: bars (best first) whose labels are read before giving up.
    keep_unlabelled: report a convincing bar whose label cannot be read (value None) instead of
        nothing.
    """

    min_length_px: int = 10
    max_length_frac: float = 0.9
    max_thickness_frac: float = 0.4
    min_contrast: float = 40.0
    text_height_px: int = 40
    max_candidates: int = 6
    keep_unlabelled: bool = True


@dataclass(frozen=True)
class Scalebar:
    """A scalebar read from an image; every field is None when no bar was found.

    text: the OCR text of the label; value and unit ("nm", "um" or "mm"): the parsed label, None
        when unreadable. length_px: bar length in pixels, measured between the half-contrast points
        of its ends. length_sd_px: standard uncertainty of length_px from the sharpness of its two
        ends (the scale's relative uncertainty is length_sd_px / length_px). nm_per_px: value in
        nanometres / length_px. bar_bbox, text_bbox: (x0, y0, x1, y1)
        pixel boxes of the bar and its label (x1, y1 exclusive); box_bbox: the filled box drawn
        behind both, when there is one.
    """

    text: str | None = None
    value: float | None = None
    unit: str | None = None
    length_px: float | None = None
    nm_per_px: float | None = None
    bar_bbox: BBox | None = None
    text_bbox: BBox | None = None
    box_bbox: BBox | None = None
    length_sd_px: float | None = None

    @property
    def found(self) -> bool:
        """True when a bar was found (its label may still be unreadable)."""
        return self.length_px is not None

    @property
    def conversion(self) -> float | None:
        """Metres per pixel (ImageDataExtractor 2's ``conversion``), or None without a read label."""
        return None if self.nm_per_px is None else self.nm_per_px * 1e-9

    @classmethod
    def from_reading(
        cls,
        *,
        text: str | None,
        label: tuple[float, str] | None,
        length_px: float,
        bar_bbox: BBox,
        text_bbox: BBox | None,
        box_bbox: BBox | None,
        length_sd_px: float | None = None,
    ) -> Scalebar:
        """Assemble a result from a bar and its (possibly unread) label; computes nm_per_px."""
        value, unit = label if label is not None else (None, None)
        nm_per_px = None if label is None else label[0] * nm_per_unit(label[1]) / length_px
        return cls(text, value, unit, length_px, nm_per_px, bar_bbox, text_bbox, box_bbox, length_sd_px)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable dict of all fields (bboxes as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
