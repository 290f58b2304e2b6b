"""The measurement stage: an instance label map (and optionally the scale and an uncertainty map)
to a particle table and per-image statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import IDEError, ImageError
from .distributions import describe, histogram, radial_distribution
from .particles import particle_table
from .types import Histogram, MeasureConfig, RadialDistribution


def _plain(value: object) -> object:
    """A JSON-ready Python scalar: numpy scalars unwrapped, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True, eq=False)
class Measurements:
    """Everything measured on one label map.

    particles: one row per particle, columns described in
        :func:`imagedataextractor.measure.particles.particle_table`. The ``*_nm`` columns exist only
        when ``nm_per_px`` was given: pixel-only results carry no nm columns rather than NaN ones.
    summary: per-image statistics (plain Python values, None where undefined), over the particles
        counted (``include_border`` decides whether border particles are among them):
        ``n_particles`` counted, ``n_particles_total``, ``n_border_excluded``, ``coverage``
        (area fraction of all particles, border ones included), ``image_height_px``,
        ``image_width_px``, ``nm_per_px``, ``diameter_{mean,median,std}_px`` (and ``_nm``),
        ``aspect_ratio_feret_mean``, ``aspect_ratio_ellipse_mean``, ``circularity_mean`` and
        ``mean_uncertainty`` when an uncertainty map was given.
    size_histogram: equivalent circular diameter of the counted particles, in nm when the scale is
        known, else in px.
    aspect_ratio_histogram: the aspect ratio chosen by ``MeasureConfig.aspect_ratio``.
    rdf: radial distribution function of all particle centroids, or None with too few particles.
    """

    particles: pd.DataFrame
    summary: dict
    size_histogram: Histogram
    aspect_ratio_histogram: Histogram
    rdf: RadialDistribution | None
    nm_per_px: float | None

    def to_records(self) -> list[dict]:
        """The particle table as plain dicts (one per particle, NaN as None)."""
        return [{key: _plain(value) for key, value in row.items()} for row in self.particles.to_dict("records")]

    def to_dict(self) -> dict:
        """Everything as JSON-ready plain Python values."""
        return {
            "summary": self.summary,
            "particles": self.to_records(),
            "size_histogram": self.size_histogram.to_dict(),
            "aspect_ratio_histogram": self.aspect_ratio_histogram.to_dict(),
            "rdf": None if self.rdf is None else self.rdf.to_dict(),
        }


def _check_inputs(labels: np.ndarray, nm_per_px: float | None, uncertainty: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ImageError(f"labels: expected an (H, W) instance map, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ImageError(f"labels: expected an integer instance map, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ImageError("labels: instance ids must be >= 0 (0 = background)")
    if nm_per_px is not None and not (math.isfinite(nm_per_px) and nm_per_px > 0):
        raise IDEError(f"nm_per_px: must be a positive finite number, got {nm_per_px}")
    if uncertainty is not None:
        uncertainty = np.asarray(uncertainty, dtype=np.float64)
        if uncertainty.shape != labels.shape:
            raise ImageError(f"uncertainty: shape {uncertainty.shape} differs from the labels' {labels.shape}")
    return labels, uncertainty


def _mean_or_none(values: pd.Series) -> float | None:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _summary(particles: pd.DataFrame, counted: pd.DataFrame, shape: tuple[int, int], nm_per_px: float | None) -> dict:
    height, width = shape
    summary: dict = {
        "n_particles": len(counted),
        "n_particles_total": len(particles),
        "n_border_excluded": len(particles) - len(counted),
        "coverage": float(particles["area_px"].sum()) / float(height * width),
        "image_height_px": height,
        "image_width_px": width,
        "nm_per_px": nm_per_px,
    }
    units = ["px"] + (["nm"] if nm_per_px is not None else [])
    for unit in units:
        _n, mean, median, std = describe(counted[f"diameter_{unit}"].to_numpy())
        summary[f"diameter_mean_{unit}"], summary[f"diameter_median_{unit}"], summary[f"diameter_std_{unit}"] = mean, median, std
    for column in ("aspect_ratio_feret", "aspect_ratio_ellipse", "circularity"):
        summary[f"{column}_mean"] = _mean_or_none(counted[column])
    if "mean_uncertainty" in counted:
        summary["mean_uncertainty"] = _mean_or_none(counted["mean_uncertainty"])
    return summary


def measure(
    labels: np.ndarray,
    *,
    nm_per_px: float | None = None,
    uncertainty: np.ndarray | None = None,
    foreground_fraction: np.ndarray | None = None,
    scale_rel_sd: float = 0.0,
    systematic_rel_sd: float = 0.0,
    config: MeasureConfig = MeasureConfig(),
) -> Measurements:
    """Measure the particles of an instance label map.

    Parameters
    ----------
    labels : (H, W) integer array (uint16 from segmentation), 0 = background, one id per particle.
    nm_per_px : scale in nanometres per pixel, or None when unknown (then only pixel columns).
    uncertainty : optional (H, W) float per-pixel uncertainty map (e.g. mutual information, nats);
        adds the ``mean_uncertainty`` column.
    foreground_fraction : optional (H, W) share (0-1) of MC-dropout samples in which each pixel is
        foreground (:attr:`~imagedataextractor.segment.Segmentation.foreground_fraction`); adds the
        ``diameter_sd_px`` (and ``_nm``) column, each particle's size spread over the samples, which
        widens the size histogram's intervals.
    scale_rel_sd : relative standard uncertainty of ``nm_per_px`` (bar length uncertainty / bar
        length, see :func:`~imagedataextractor.intervals.scale_relative_sd`); 0 when unknown.
    systematic_rel_sd : the segmentation method's relative systematic error of the mean size
        (``Segmentation.details["systematic_rel_sd"]``, see
        :data:`~imagedataextractor.segment.methods.SYSTEMATIC_REL_SD`); widens the size
        histogram's intervals (not the aspect ratio's); 0 for none.
    config : :class:`MeasureConfig`.

    Returns
    -------
    Measurements
        An empty map gives zero particles (an empty table, zero counts, empty histograms, no RDF),
        not an error.

    Example
    -------
    >>> import numpy as np
    >>> from skimage.draw import disk
    >>> labels = np.zeros((100, 100), np.uint16)
    >>> labels[disk((50, 50), 20)] = 1
    >>> result = measure(labels, nm_per_px=2.0)
    >>> round(result.particles.loc[0, "diameter_nm"])
    80
    """
    labels, uncertainty = _check_inputs(labels, nm_per_px, uncertainty)
    if foreground_fraction is not None and np.shape(foreground_fraction) != labels.shape:
        raise ImageError(f"foreground_fraction: shape {np.shape(foreground_fraction)} differs from the labels' {labels.shape}")
    particles = particle_table(labels, nm_per_px=nm_per_px, uncertainty=uncertainty, foreground_fraction=foreground_fraction)
    counted = particles if config.include_border else particles[~particles["touches_border"]]
    size_unit = "px" if nm_per_px is None else "nm"
    aspect_column = f"aspect_ratio_{config.aspect_ratio}"
    rdf = None
    if len(particles) >= config.rdf_min_particles:
        dr_px = config.rdf_dr_px or max(1.0, float(particles["diameter_px"].median()) / 5.0)
        rdf = radial_distribution(
            particles[["centroid_x_px", "centroid_y_px"]].to_numpy(),
            image_shape=labels.shape,
            dr_px=dr_px,
            rcutoff=config.rdf_rcutoff,
            nm_per_px=nm_per_px,
        )
    return Measurements(
        particles=particles.reset_index(drop=True),
        summary=_summary(particles, counted, labels.shape, nm_per_px),
        size_histogram=histogram(
            counted[f"diameter_{size_unit}"].to_numpy(), quantity="diameter", unit=size_unit, bins=config.size_bins, intervals=config.intervals,
            value_sd=counted[f"diameter_sd_{size_unit}"].to_numpy() if foreground_fraction is not None else None,
            scale_rel_sd=scale_rel_sd if nm_per_px is not None else 0.0, systematic_rel_sd=systematic_rel_sd,
        ),
        aspect_ratio_histogram=histogram(counted[aspect_column].to_numpy(), quantity=aspect_column, unit=None, bins=config.aspect_ratio_bins,
                                         intervals=config.intervals),
        rdf=rdf,
        nm_per_px=nm_per_px,
    )
