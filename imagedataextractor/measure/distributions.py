"""Per-image distributions: histograms of a particle quantity and the radial distribution function."""

from __future__ import annotations

import logging
import warnings

import numpy as np

from ..intervals import IntervalConfig, distribution_interval
from .types import Histogram, RadialDistribution

log = logging.getLogger(__name__)


def describe(values: np.ndarray) -> tuple[int, float | None, float | None, float | None]:
    """(n, mean, median, std with ddof=1) of the finite entries of ``values``; None where undefined.
    The one place per-image statistics are computed, so the summary and the histograms agree."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = int(values.size)
    if n == 0:
        return 0, None, None, None
    return n, float(values.mean()), float(np.median(values)), float(values.std(ddof=1)) if n > 1 else None


def histogram(
    values: np.ndarray,
    *,
    quantity: str,
    unit: str | None,
    bins: int | str | tuple[float, ...],
    intervals: IntervalConfig | None = None,
    value_sd: np.ndarray | None = None,
    scale_rel_sd: float = 0.0,
    systematic_rel_sd: float = 0.0,
) -> Histogram:
    """Histogram of the finite entries of ``values``, with their :func:`describe` statistics; empty
    edges and counts when there are none. With ``intervals``, also the confidence intervals of
    :func:`~imagedataextractor.intervals.distribution_interval` (``value_sd``: each value's
    MC-dropout spread in the same unit, or None; ``scale_rel_sd``: the scale's relative uncertainty,
    0 for a unitless quantity; ``systematic_rel_sd``: the segmentation method's relative systematic
    error of sizes, 0 for a quantity it does not bias, like a ratio)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if value_sd is not None:
        value_sd = np.asarray(value_sd, dtype=np.float64)[finite]
    values = values[finite]
    if values.size == 0:
        return Histogram(quantity, unit, np.zeros(0), np.zeros(0, np.int64))
    counts, edges = np.histogram(values, bins=list(bins) if isinstance(bins, tuple) else bins)
    n, mean, median, std = describe(values)
    interval = None
    if intervals is not None:
        interval = distribution_interval(values, bin_edges=edges, value_sd=value_sd, scale_rel_sd=scale_rel_sd,
                                         systematic_rel_sd=systematic_rel_sd, config=intervals)
    return Histogram(quantity, unit, edges.astype(np.float64), counts.astype(np.int64), n, mean, median, std, interval)


def radial_distribution(
    centroids_px: np.ndarray,
    *,
    image_shape: tuple[int, int],
    dr_px: float,
    rcutoff: float,
    nm_per_px: float | None,
) -> RadialDistribution | None:
    """g(r) of (N, 2) centroids (pixels) in an image of ``image_shape`` (H, W), with rdfpy.

    The number density is N / (H W): the image is the observation window, while rdfpy's own
    estimate from the points' bounding box runs high. rdfpy's edge correction uses only origins
    whose whole shell lies inside the points' bounding box, so no shell leaves the image. Trailing
    shells with no valid origin are dropped; returns None when no shell fits (dr too large for
    the spread of the points).
    """
    from rdfpy import rdf

    centroids_px = np.asarray(centroids_px, dtype=np.float64)
    extent = centroids_px.max(axis=0) - centroids_px.min(axis=0)
    if centroids_px.shape[0] < 2 or extent.min() * rcutoff / 2 < dr_px:
        return None
    density = centroids_px.shape[0] / float(image_shape[0] * image_shape[1])
    with warnings.catch_warnings(record=True) as caught:
        # rdfpy warns about shells with few or no origins; they are reported in the log instead.
        warnings.simplefilter("always")
        g_r, radii = rdf(centroids_px, dr_px, rho=density, rcutoff=rcutoff)
    for warning in caught:
        log.info("RDF: %s", warning.message)
    valid = np.flatnonzero(np.isfinite(g_r))
    if valid.size == 0:
        return None
    g_r, radii = g_r[: valid[-1] + 1], radii[: valid[-1] + 1]
    return RadialDistribution(
        radii_px=radii,
        radii_nm=None if nm_per_px is None else radii * nm_per_px,
        g_r=g_r,
        dr_px=float(dr_px),
        n_points=int(centroids_px.shape[0]),
    )
