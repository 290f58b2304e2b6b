"""Settings and results of the measurement stage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..intervals import DistributionInterval, IntervalConfig


@dataclass(frozen=True)
class MeasureConfig:
    """Settings of :func:`imagedataextractor.measure.measure`.

    include_border: count particles that touch the image border in the per-image statistics
        (summary, histograms). They are cut off by the frame, so by default they are left out of
        those; the particle table always lists them, flagged ``touches_border``.
    size_bins, aspect_ratio_bins: ``bins`` argument of :func:`numpy.histogram` (a count, a rule
        name such as ``"auto"`` or ``"fd"``, or a tuple of bin edges in the histogram's unit) for the
        diameter and aspect-ratio histograms.
    aspect_ratio: which aspect ratio the aspect-ratio histogram and summary describe:
        ``"feret"`` (max Feret / min Feret) or ``"ellipse"`` (major / minor axis of the fitted ellipse).
    rdf_dr_px: shell width of the radial distribution function, pixels; ``None`` takes a fifth of
        the median equivalent diameter of all particles (at least 1 px).
    rdf_rcutoff: fraction of half the shorter side of the particles' bounding box out to which g(r)
        is computed (rdfpy's ``rcutoff``).
    rdf_min_particles: fewer particles than this give no RDF (``None``): a handful of points has no
        meaningful pair statistics.
    intervals: how the histograms' confidence intervals are drawn
        (:class:`~imagedataextractor.intervals.IntervalConfig`), None for none.
    """

    include_border: bool = False
    size_bins: int | str | tuple[float, ...] = "auto"
    aspect_ratio_bins: int | str | tuple[float, ...] = "auto"
    aspect_ratio: Literal["feret", "ellipse"] = "feret"
    rdf_dr_px: float | None = None
    rdf_rcutoff: float = 0.9
    rdf_min_particles: int = 10
    intervals: IntervalConfig | None = IntervalConfig()


@dataclass(frozen=True, eq=False)
class Histogram:
    """Counts of one per-particle quantity.

    quantity: the particle-table column it was built from without unit suffix ("diameter",
        "aspect_ratio_feret"); unit: "nm", "px", or None for a ratio.
    bin_edges: (n + 1,) float64; counts: (n,) int64. Both empty when no particle was counted.
    n, mean, median, std: of the values counted (the same particles as the bins; std with
        ``ddof=1``), in the histogram's unit; None where undefined (no value, or one for std).
        They are the summary's statistics of the same quantity (see :func:`describe`).
    interval: confidence intervals of the mean, median and counts
        (:class:`~imagedataextractor.intervals.DistributionInterval`), None when not computed.
    """

    quantity: str
    unit: str | None
    bin_edges: np.ndarray
    counts: np.ndarray
    n: int = 0
    mean: float | None = None
    median: float | None = None
    std: float | None = None
    interval: DistributionInterval | None = None

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "unit": self.unit,
            "bin_edges": [float(edge) for edge in self.bin_edges],
            "counts": [int(count) for count in self.counts],
            "n": self.n,
            "mean": self.mean,
            "median": self.median,
            "std": self.std,
            "interval": None if self.interval is None else self.interval.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class RadialDistribution:
    """2-D radial distribution function g(r) of particle centroids.

    radii_px: (n,) shell centres, pixels; radii_nm: the same in nm, or None when the scale is
    unknown. g_r: (n,) dimensionless, 1 for an uncorrelated (ideal-gas) arrangement; NaN where too
    few particles lie far enough from the edges to serve as origins. dr_px: shell width, pixels.
    n_points: particles used.
    """

    radii_px: np.ndarray
    radii_nm: np.ndarray | None
    g_r: np.ndarray
    dr_px: float
    n_points: int

    def to_dict(self) -> dict:
        return {
            "radii_px": [float(r) for r in self.radii_px],
            "radii_nm": None if self.radii_nm is None else [float(r) for r in self.radii_nm],
            "g_r": [None if math.isnan(g) else float(g) for g in self.g_r],
            "dr_px": self.dr_px,
            "n_points": self.n_points,
        }
