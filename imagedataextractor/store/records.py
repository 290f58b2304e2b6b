"""What the store accepts: one :class:`ImageRecord` per extracted image, saved in one transaction.

These are the store's own input types, so that the store imports no other stage; the pipeline
converts the stages' results into them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..version import __version__
from ..status import Status

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

BBox = tuple[int, int, int, int]


def pixel_sha256(image: np.ndarray) -> str:
    """sha256 (hex) of an image's pixels, shape and dtype: the identity of an image in the store.

    The same pixels give the same hash whatever file format or path they were read from.

    Example
    -------
    >>> import numpy as np
    >>> pixel_sha256(np.zeros((2, 2, 3), np.uint8))[:12]
    '2412f00e81eb'
    """
    import numpy as np

    array = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def settings_sha256(values: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON (sorted keys, no spaces) of ``values``: the one hash of
    settings, for the extractions in the store (:meth:`Provenance.settings_sha256`) and for the
    jobs of a run (:meth:`imagedataextractor.settings.ExtractSettings.key`)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Provenance:
    """How an image was extracted.

    method, model_name, model_version (a version string or the weights' sha256), tu (uncertainty
    threshold), samples (MC-dropout samples) and ``settings`` (every other option that changes the
    result, JSON-serialisable) together are the *settings*: saving the same image with the same
    settings replaces the earlier result, different settings keep both. source, doi,
    figure_locator, status, reason, software_version and extracted_at are recorded but are not
    part of the settings.
    """

    method: str
    model_name: str | None = None
    model_version: str | None = None
    tu: float | None = None
    samples: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    doi: str | None = None
    figure_locator: str | None = None
    status: Status = "done"
    reason: str | None = None
    software_version: str = __version__
    extracted_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def settings_sha256(self) -> str:
        """sha256 (hex) of the canonical JSON of the settings: the key that decides replace vs add."""
        key = {
            "method": self.method,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "tu": self.tu,
            "samples": self.samples,
            "settings": dict(self.settings),
        }
        return settings_sha256(key)


@dataclass(frozen=True)
class ScalebarRecord:
    """A scalebar read from an image: ``text`` as read ("100 nm"), ``value`` (100) and ``unit``
    ("nm"), the bar's ``length_px``, the resulting ``nm_per_px``, and ``bbox_px`` (x0, y0, x1, y1)
    in image pixels; ``length_sd_px``: the standard uncertainty of the bar's length. Any field may
    be None when it could not be read."""

    text: str | None = None
    value: float | None = None
    unit: str | None = None
    length_px: float | None = None
    nm_per_px: float | None = None
    bbox_px: BBox | None = None
    length_sd_px: float | None = None


@dataclass(frozen=True)
class DistributionRecord:
    """A histogram of one particle quantity. ``kind`` names it with its unit, like the particle
    column it counts ("diameter_nm", "diameter_px", "aspect_ratio_feret"); ``bin_edges`` has
    len(counts) + 1 values in that unit; ``n`` is the
    number of values (default: sum of counts); mean/median/std are of the raw values.
    interval_level (0.95), mean_low/high, median_low/high (in the unit) and counts_low/high
    (len(counts) each): confidence intervals, None when not computed; systematic_rel_sd: the
    segmentation method's relative systematic error of sizes those intervals include (0: none)."""

    kind: str
    bin_edges: Sequence[float]
    counts: Sequence[int]
    mean: float | None = None
    median: float | None = None
    std: float | None = None
    n: int | None = None
    interval_level: float | None = None
    mean_low: float | None = None
    mean_high: float | None = None
    median_low: float | None = None
    median_high: float | None = None
    counts_low: Sequence[float] | None = None
    counts_high: Sequence[float] | None = None
    systematic_rel_sd: float | None = None


@dataclass(frozen=True)
class RdfRecord:
    """A radial distribution function: g(r) (dimensionless; NaN where undefined, stored as null)
    at ``radii`` (shell centres) in ``unit`` ("nm" or "px"), shells ``dr`` wide in that unit,
    from ``n_points`` particles."""

    radii: Sequence[float]
    g_r: Sequence[float]
    unit: str
    dr: float | None = None
    n_points: int | None = None


@dataclass(frozen=True)
class FigureRecord:
    """A figure: of an article, keyed by (``doi``, ``locator``) (e.g. "gr1"), the article row
    created if absent; or on its own, keyed by its ``source`` path or URL.

    sha256: :func:`pixel_sha256` of the figure image. microscopy: the techniques its caption names
    ("TEM", "SEM"), stored space-separated as many as fit the column (the store owns its widths).
    materials: material names found in the caption. Fields left None keep their stored value.
    """

    doi: str | None = None
    locator: str | None = None
    source: str | None = None
    label: str | None = None
    caption: str | None = None
    sha256: str | None = None
    microscopy: Sequence[str] | None = None
    materials: Sequence[str] | None = None
    is_em: bool | None = None


@dataclass(frozen=True)
class ImageRecord:
    """One image result: a panel (or a whole image) with everything extracted from it.

    sha256: :func:`pixel_sha256` of the image as segmented; width_px, height_px: its size.
    figure_id: the figure it was cut from (from :meth:`Database.upsert_figure`), or None for an
    image file on its own. bbox_px: (x0, y0, x1, y1) of the panel in the figure's pixels, or None
    for the whole figure. label: the printed panel label ("a"). is_micrograph / skip_reason: why
    a panel was not measured. confidence: the splitter's confidence (0-1) that the box holds exactly
    one printed panel (:attr:`~imagedataextractor.figsplit.Panel.confidence`), None where unknown.
    particles: one row per particle, with the columns of
    :data:`~imagedataextractor.store.schema.PARTICLE_COLUMNS` (others are kept as JSON in
    ``extra``), or None / empty for no particles.
    uncertainty_png: the per-pixel uncertainty as an 8-bit grey PNG (0..255 = 0..
    :data:`~imagedataextractor.store.schema.UNCERTAINTY_MAX_NATS` nats of mutual information), or
    None where the method gives none. masked_label_boxes: (x0, y0, x1, y1) in image pixels of the
    panel labels blanked before segmentation (empty for none), or None when not recorded.
    """

    sha256: str
    width_px: int
    height_px: int
    provenance: Provenance
    figure_id: int | None = None
    bbox_px: BBox | None = None
    label: str | None = None
    is_micrograph: bool = True
    skip_reason: str | None = None
    confidence: float | None = None
    scalebar: ScalebarRecord | None = None
    particles: pd.DataFrame | None = None
    distributions: Sequence[DistributionRecord] = ()
    rdf: RdfRecord | None = None
    uncertainty_png: bytes | None = None
    masked_label_boxes: Sequence[BBox] | None = None
