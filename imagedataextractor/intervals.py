"""Confidence intervals of a size distribution: its mean, median and every histogram bin.

Four sources of error are combined in one Monte Carlo bootstrap (fixed seed, so reruns agree):

1. **particle sampling**: each replicate draws the particles with replacement (within each panel
   when several are pooled, so each panel keeps its particle count);
2. **segmentation**: each drawn particle's size is moved by a normal error with that particle's
   spread over BPartIS's MC-dropout samples
   (:func:`~imagedataextractor.measure.particles.diameter_spread_px`; zero for methods without samples);
3. **scalebar reading**: each panel's nm per pixel is divided by ``1 + e``, e normal with the bar
   length's relative uncertainty (``length_sd_px / length_px``, the measured sharpness of the bar's
   two ends, see :class:`~imagedataextractor.scalebar.Scalebar`), one draw per panel and replicate
   (all particles of a panel share their scale);
4. **the segmentation method's systematic error**: each replicate's sizes are multiplied by
   ``exp(s * z)``, z standard normal, one draw per replicate shared by all its particles (and, pooled,
   by all its panels: a method's error of the mean size is not averaged away by more particles).
   s is the method's relative systematic error of the mean diameter
   (:data:`~imagedataextractor.segment.methods.SYSTEMATIC_REL_SD`, or a learned bundle's
   ``systematic_rel_sd``), estimated on held-out hand-labelled images (BENCHMARKS.md); 0 gives the
   interval without the term, replicate for replicate.

The interval is the percentile interval of the replicates' statistics. Counts of a bin are of the
replicate's sizes within the bin's edges (sizes moved past the outer edges count in no bin).

A module of its own (numpy only), so that the measurement stage (one panel) and the store's
queries (pooled panels) share one arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: Values (replicates x particles) drawn at once by :func:`distribution_interval`.
REPLICATE_BLOCK = 2_000_000


@dataclass(frozen=True)
class IntervalConfig:
    """Settings of :func:`distribution_interval`.

    level: two-sided confidence level (0.95 gives the 2.5 and 97.5 percentiles).
    n_resamples: bootstrap replicates. seed: of the replicates' random generator.
    """

    level: float = 0.95
    n_resamples: int = 2000
    seed: int = 0


@dataclass(frozen=True, eq=False)
class DistributionInterval:
    """``level`` confidence intervals of one distribution, in the unit of its values.

    mean_low, mean_high, median_low, median_high: bounds of the mean and the median (None without
    values). counts_low, counts_high: (n_bins,) float64 bounds of each histogram bin's count (a
    percentile of the replicates' counts, so possibly fractional). n_resamples: replicates drawn.
    systematic_rel_sd: the method's relative systematic error s used (pooled: the largest of the
    panels'; 0 for none).
    """

    level: float
    mean_low: float | None
    mean_high: float | None
    median_low: float | None
    median_high: float | None
    counts_low: np.ndarray
    counts_high: np.ndarray
    n_resamples: int
    systematic_rel_sd: float = 0.0

    def covers_mean(self, value: float) -> bool:
        """Whether ``value`` lies within [mean_low, mean_high] (False without an interval)."""
        return self.mean_low is not None and self.mean_high is not None and self.mean_low <= value <= self.mean_high

    def to_dict(self) -> dict:
        return {
            "level": self.level,
            "mean_low": self.mean_low,
            "mean_high": self.mean_high,
            "median_low": self.median_low,
            "median_high": self.median_high,
            "counts_low": [float(c) for c in self.counts_low],
            "counts_high": [float(c) for c in self.counts_high],
            "n_resamples": self.n_resamples,
            "systematic_rel_sd": self.systematic_rel_sd,
        }


def scale_relative_sd(length_px: float | None, length_sd_px: float | None) -> float:
    """Relative standard uncertainty of a scale read from a bar ``length_px`` long whose length is
    uncertain by ``length_sd_px`` (both pixels); 0 when either is unknown."""
    if not length_px or length_sd_px is None:
        return 0.0
    return float(length_sd_px) / float(length_px)


def log_mean_variance(interval: DistributionInterval) -> float:
    """The sampling variance of the log of the mean implied by ``interval``'s bounds (positive
    sizes), read as a normal interval on the log scale: ((log high - log low) / (2 z))^2, z the
    normal quantile of its level (1.96 at 0.95). NaN without bounds."""
    if interval.mean_low is None or interval.mean_high is None or interval.mean_low <= 0:
        return math.nan
    z = NormalDist().inv_cdf(0.5 + interval.level / 2.0)
    return ((math.log(interval.mean_high) - math.log(interval.mean_low)) / (2.0 * z)) ** 2


def random_effects_sd(log_ratios: np.ndarray, log_variances: np.ndarray) -> float:
    """A method's relative systematic error s from images with a known truth: ``log_ratios`` (k,)
    log(predicted mean / true mean), bias included; ``log_variances`` (k,) each image's sampling
    variance of the log mean (:func:`log_mean_variance`). The moment estimate of a random effect:
    s^2 = max(0, mean(r^2) - mean(v)), what the ratios spread beyond their sampling error."""
    r = np.asarray(log_ratios, dtype=np.float64)
    v = np.asarray(log_variances, dtype=np.float64)
    if r.shape != v.shape or r.size == 0:
        raise ValueError(f"log_ratios {r.shape} and log_variances {v.shape} must be one non-empty shape")
    return float(np.sqrt(max(0.0, float(np.mean(r**2) - np.mean(v)))))


def _bin_counts(replicates: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """(B, n_bins) counts of each row of (B, n) values in the bins of ``bin_edges`` (numpy's
    histogram, whose equal-width bins need no search); values outside count nowhere."""
    return np.stack([np.histogram(row, bin_edges)[0] for row in replicates]) if len(bin_edges) > 1 else np.zeros((len(replicates), 0), np.int64)


def distribution_interval(
    values: np.ndarray,
    *,
    bin_edges: np.ndarray,
    value_sd: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    scale_rel_sd: np.ndarray | float = 0.0,
    systematic_rel_sd: np.ndarray | float = 0.0,
    config: IntervalConfig = IntervalConfig(),
) -> DistributionInterval:
    """Confidence intervals of the mean, median and histogram counts of ``values`` (see the module).

    Parameters
    ----------
    values : (n,) particle sizes in one unit (nm or px); non-finite entries are left out.
    bin_edges : (n_bins + 1,) histogram edges in that unit.
    value_sd : (n,) each size's MC-dropout spread (standard deviation, same unit), or None for none.
    groups : (n,) integer panel of each particle, 0..g-1, for pooled panels; None: one panel.
    scale_rel_sd : relative uncertainty of each panel's scale, (g,) or one float for all.
    systematic_rel_sd : relative systematic error s of each panel's segmentation method, (g,) or
        one float for all; one standard normal draw per replicate is shared by all panels.
    config : :class:`IntervalConfig`.

    Returns
    -------
    DistributionInterval
        Without values: None bounds and zero counts.

    Example
    -------
    >>> ci = distribution_interval(np.array([9.0, 10.0, 11.0, 10.0]), bin_edges=np.array([8.0, 10.0, 12.0]))
    >>> ci.mean_low <= 10.0 <= ci.mean_high
    True
    """
    values = np.asarray(values, dtype=np.float64)
    bin_edges = np.asarray(bin_edges, dtype=np.float64)
    sd = np.zeros_like(values) if value_sd is None else np.nan_to_num(np.asarray(value_sd, dtype=np.float64))
    group = np.zeros(values.shape, np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    if not (sd.shape == group.shape == values.shape):
        raise ValueError(f"values {values.shape}, value_sd {sd.shape} and groups {group.shape} must have one shape")
    finite = np.isfinite(values)
    values, sd, group = values[finite], sd[finite], group[finite]
    n_bins = max(len(bin_edges) - 1, 0)
    if values.size == 0:
        zeros = np.zeros(n_bins)
        return DistributionInterval(config.level, None, None, None, None, zeros, zeros.copy(), config.n_resamples,
                                    float(np.max(systematic_rel_sd)))
    n_groups = int(group.max()) + 1
    relative = np.broadcast_to(np.asarray(scale_rel_sd, dtype=np.float64), (n_groups,))
    systematic = np.broadcast_to(np.asarray(systematic_rel_sd, dtype=np.float64), (n_groups,))
    rng = np.random.default_rng(config.seed)
    # Resampling within each panel: position j (panels in order) draws from its panel's particles.
    order = np.argsort(group, kind="stable")
    owner = group[order]
    starts = np.searchsorted(owner, np.arange(n_groups))
    sizes = np.bincount(group, minlength=n_groups)
    with_spread = bool(np.any(sd))  # no draws for methods without MC samples
    means, medians, counts = [], [], []
    # Replicates in blocks of about REPLICATE_BLOCK values, so pooled sets of many particles fit in memory.
    block = max(1, REPLICATE_BLOCK // values.size)
    for first in range(0, config.n_resamples, block):
        count = min(block, config.n_resamples - first)
        drawn = order[starts[owner] + rng.integers(0, sizes[owner], size=(count, values.size))]
        replicates = values[drawn]
        if with_spread:
            replicates += sd[drawn] * rng.standard_normal(drawn.shape)
        replicates /= (1.0 + relative[None, :] * rng.standard_normal((count, n_groups)))[:, owner]
        if systematic.any():  # drawn last, so that s = 0 leaves the other draws as they were
            replicates *= np.exp(systematic[None, :] * rng.standard_normal((count, 1)))[:, owner]
        means.append(replicates.mean(axis=1))
        medians.append(np.median(replicates, axis=1))
        counts.append(_bin_counts(replicates, bin_edges))
    tail = 100.0 * (1.0 - config.level) / 2.0
    percentiles = (tail, 100.0 - tail)
    mean_low, mean_high = np.percentile(np.concatenate(means), percentiles)
    median_low, median_high = np.percentile(np.concatenate(medians), percentiles)
    counts_low, counts_high = np.percentile(np.concatenate(counts), percentiles, axis=0)
    return DistributionInterval(
        config.level, float(mean_low), float(mean_high), float(median_low), float(median_high),
        np.asarray(counts_low, np.float64), np.asarray(counts_high, np.float64), config.n_resamples, float(systematic.max()),
    )
