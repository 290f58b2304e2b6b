"""Gaussian-mixture phase segmentation of pixel intensities plus connected components (the m2py
approach of Tatum et al.), with the number of phases chosen by BIC."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from ...errors import SettingsError
from ..types import Segmentation
from .common import (
    BORDER_BAND_FRACTION,
    Polarity,
    as_grey,
    check_polarity,
    make_segmentation,
    particles_are_bright,
)

log = logging.getLogger(__name__)

METHOD = "gmm"
LEVELS = np.arange(256, dtype=np.float64)
#: Smallest component variance (grey levels^2): keeps EM off the singularity of a one-level spike.
MIN_VARIANCE = 1.0


@dataclass(frozen=True)
class Gmm1D:
    """A 1-D Gaussian mixture over grey levels: weights, means and variances (grey levels, grey levels^2)
    of its ``k`` components sorted by mean, the log-likelihood of the fitted data and its BIC."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    log_likelihood: float
    bic: float

    def posteriors(self) -> np.ndarray:
        """(256, k) probability of each component for each grey level 0..255."""
        log_density = (
            np.log(self.weights)
            - 0.5 * np.log(2 * np.pi * self.variances)
            - 0.5 * (LEVELS[:, None] - self.means) ** 2 / self.variances
        )
        log_density -= log_density.max(axis=1, keepdims=True)
        density = np.exp(log_density)
        return density / density.sum(axis=1, keepdims=True)


def _em(counts: np.ndarray, means: np.ndarray, *, max_iter: int, tol: float) -> Gmm1D:
    """Run EM from the given initial means (equal weights, the overall variance) on a histogram."""
    k = len(means)
    total = counts.sum()
    overall_mean = float(counts @ LEVELS) / total
    variances = np.full(k, max(float(counts @ (LEVELS - overall_mean) ** 2) / total, MIN_VARIANCE))
    weights = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(max_iter):
        log_density = (
            np.log(weights)
            - 0.5 * np.log(2 * np.pi * variances)
            - 0.5 * (LEVELS[:, None] - means) ** 2 / variances
        )
        peak = log_density.max(axis=1, keepdims=True)
        level_likelihood = np.log(np.exp(log_density - peak).sum(axis=1)) + peak[:, 0]
        log_likelihood = float(counts @ level_likelihood)
        responsibility = np.exp(log_density - level_likelihood[:, None]) * counts[:, None]
        mass = responsibility.sum(axis=0) + 1e-12
        weights = np.maximum(mass / total, 1e-12)
        means = (responsibility.T @ LEVELS) / mass
        variances = np.maximum((responsibility * (LEVELS[:, None] - means) ** 2).sum(axis=0) / mass, MIN_VARIANCE)
        if log_likelihood - previous < tol * abs(log_likelihood):
            break
        previous = log_likelihood
    order = np.argsort(means)
    return Gmm1D(
        weights=weights[order] / weights.sum(),
        means=means[order],
        variances=variances[order],
        log_likelihood=log_likelihood,
        bic=-2.0 * log_likelihood + (3 * k - 1) * np.log(total),
    )


def fit_gmm_1d(counts: np.ndarray, k: int, *, max_iter: int = 200, tol: float = 1e-7) -> Gmm1D:
    """Fit a ``k``-component Gaussian mixture to a 256-bin grey-level histogram ``counts`` by EM.

    Each bin is weighted by its count, so the cost does not depend on the number of pixels. EM runs
    twice, from means at equally spaced quantiles (suits broad phases) and from means equally spaced
    between the 1st and 99th percentile (finds a small phase next to a dominant one), and the fit with
    the higher likelihood is kept. Deterministic.
    """
    counts = np.asarray(counts, np.float64)
    if counts.shape != (256,) or counts.sum() <= 0:
        raise ValueError("counts: expected a non-empty 256-bin histogram")
    cdf = np.cumsum(counts) / counts.sum()
    quantile_means = np.searchsorted(cdf, (np.arange(k) + 0.5) / k).astype(np.float64)
    low, high = np.searchsorted(cdf, [0.01, 0.99])
    spread_means = np.linspace(low, high, k) if k > 1 else quantile_means
    fits = [_em(counts, means, max_iter=max_iter, tol=tol) for means in (quantile_means, spread_means)]
    return max(fits, key=lambda fit: fit.log_likelihood)


def select_gmm_1d(counts: np.ndarray, *, max_components: int) -> Gmm1D:
    """The mixture with 1..``max_components`` components that has the lowest BIC on ``counts``."""
    fits = [fit_gmm_1d(counts, k) for k in range(1, max_components + 1)]
    return min(fits, key=lambda fit: fit.bic)


@dataclass(frozen=True)
class GmmConfig:
    """Settings of :func:`segment_gmm`.

    polarity: "auto" (decided per image), "bright" or "dark" particles.
    smooth_sigma_px: Gaussian smoothing before the fit (pixels; 0 = none), so that pixel noise does not
        scatter the phases.
    max_components: BIC chooses the number of phases among 1..max_components.
    min_contrast: particle and background phase means must differ by at least this (grey levels).
    min_area_px: connected components smaller than this many pixels are dropped.
    """

    polarity: Polarity = "auto"
    smooth_sigma_px: float = 1.0
    max_components: int = 4
    min_contrast: float = 10.0
    min_area_px: int = 100

    def __post_init__(self) -> None:
        check_polarity(self.polarity)
        if self.max_components < 1:
            raise SettingsError(f"max_components: expected >= 1, got {self.max_components}")
        if self.smooth_sigma_px < 0 or self.min_area_px < 0 or self.min_contrast < 0:
            raise SettingsError("smooth_sigma_px, min_area_px and min_contrast must be >= 0")


def _background_component(phase: np.ndarray, k: int) -> int:
    """The phase that covers most of the image's border band."""
    band = max(1, round(BORDER_BAND_FRACTION * min(phase.shape)))
    border = np.concatenate([phase[:band].ravel(), phase[-band:].ravel(), phase[:, :band].ravel(), phase[:, -band:].ravel()])
    return int(np.bincount(border, minlength=k).argmax())


def _particle_phases(mixture: Gmm1D, background: int, *, bright: bool, min_contrast: float) -> np.ndarray:
    """(k,) bool: the phases that make up particles.

    Candidates are the phases on the particle side of the background phase (or, if there are none,
    the phase farthest from it); the heaviest candidate is the main particle phase, and a candidate
    counts as particle when its mean is nearer the main particle phase than the background (so a
    phase of blurred particle edges close to the background stays background). Phases less than
    ``min_contrast`` grey levels from the background never count.
    """
    offsets = mixture.means - mixture.means[background]
    candidates = offsets > 0 if bright else offsets < 0
    if not candidates.any():
        candidates[np.abs(offsets).argmax()] = True
    candidates &= np.abs(offsets) >= min_contrast
    if not candidates.any():
        return candidates
    main = int(np.argmax(np.where(candidates, mixture.weights, -1.0)))
    nearer_main = np.abs(mixture.means - mixture.means[main]) < np.abs(offsets)
    return candidates & nearer_main


def segment_gmm(image: np.ndarray, *, config: GmmConfig = GmmConfig()) -> Segmentation:
    """Segment particles as connected regions of a Gaussian-mixture intensity phase.

    Steps (after m2py, Tatum et al.): greyscale, Gaussian smoothing; a 1-D GMM fitted by EM to the
    grey-level histogram, with 1..``max_components`` phases chosen by BIC; each pixel gets its most
    probable phase. The background phase is the one covering most of the border band; the particle
    phases are chosen from those on the particle side of it (brighter for bright particles, polarity
    from ``config.polarity``) by :func:`_particle_phases`. A single phase, or no phase at least
    ``min_contrast`` from the background, means no particles.
    Particles are the 4-connected components of the particle phases, those < ``min_area_px`` dropped.
    Touching particles of the same phase are NOT split.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB array ((H, W) greyscale accepted).
    config : :class:`GmmConfig`.

    Returns
    -------
    Segmentation with (H, W) uint16 labels at the input size; ``scores`` the mean posterior
    probability of the particle phases over each instance's pixels; method "gmm"; ``details`` the
    settings plus the chosen phase means and polarity.

    Example
    -------
    >>> import numpy as np, cv2
    >>> image = np.full((128, 128, 3), 200, np.uint8)
    >>> for x in (30, 90):
    ...     _ = cv2.circle(image, (x, 64), 15, (50, 50, 50), -1)
    >>> segment_gmm(image).n_instances
    2
    """
    grey = as_grey(image)
    bright = particles_are_bright(grey, config.polarity)
    smooth = cv2.GaussianBlur(grey, (0, 0), config.smooth_sigma_px) if config.smooth_sigma_px > 0 else grey
    mixture = select_gmm_1d(np.bincount(smooth.ravel(), minlength=256), max_components=config.max_components)
    k = len(mixture.means)
    posteriors = mixture.posteriors()
    phase = posteriors.argmax(axis=1).astype(np.uint8)[smooth]
    background = _background_component(phase, k)
    particle_phases = _particle_phases(mixture, background, bright=bright, min_contrast=config.min_contrast)
    details = {
        **dataclasses.asdict(config),
        "particles_bright": bool(bright),
        "phase_means": [round(float(m), 2) for m in mixture.means],
        "background_phase": background,
        "particle_phases": [int(i) for i in np.flatnonzero(particle_phases)],
    }
    mask = particle_phases[phase]
    labels, n = ndi.label(mask)
    if n == 0:
        return make_segmentation(labels, scores=np.zeros(0, np.float32), method=METHOD, details=details)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    particle_probability = posteriors[:, particle_phases].sum(axis=1)[smooth]
    scores = np.bincount(labels.ravel(), weights=particle_probability.ravel(), minlength=n + 1)[1:] / np.maximum(areas[1:], 1)
    small = areas < config.min_area_px
    small[0] = False
    labels[small[labels]] = 0
    log.debug("gmm: %d phases, %d instances", k, labels.max())
    return make_segmentation(labels, scores=scores, method=METHOD, details=details)
