"""Confidence intervals of a size distribution: the arithmetic on cases with known answers, the
per-particle spread over MC samples, and the calibration on a small synthetic set."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from imagedataextractor.intervals import (
    DistributionInterval,
    IntervalConfig,
    distribution_interval,
    log_mean_variance,
    random_effects_sd,
    scale_relative_sd,
)
from imagedataextractor.measure import MeasureConfig, diameter_spread_px, measure

EDGES = np.array([0.0, 5.0, 10.0, 15.0, 20.0])


def test_identical_values_without_other_errors_give_a_point_interval():
    ci = distribution_interval(np.full(20, 7.0), bin_edges=EDGES)
    assert (ci.mean_low, ci.mean_high, ci.median_low, ci.median_high) == (7.0, 7.0, 7.0, 7.0)
    assert ci.counts_low.tolist() == ci.counts_high.tolist() == [0.0, 20.0, 0.0, 0.0]


def test_the_bootstrap_interval_of_the_mean_matches_the_normal_theory_width():
    values = np.random.default_rng(0).normal(10.0, 2.0, 400)
    ci = distribution_interval(values, bin_edges=EDGES, config=IntervalConfig(n_resamples=4000))
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert ci.mean_low == pytest.approx(values.mean() - half_width, abs=0.05)
    assert ci.mean_high == pytest.approx(values.mean() + half_width, abs=0.05)
    assert ci.median_low < np.median(values) < ci.median_high
    assert np.all(ci.counts_low <= np.histogram(values, EDGES)[0]) and np.all(np.histogram(values, EDGES)[0] <= ci.counts_high)


def test_a_per_particle_spread_alone_widens_the_mean_by_sd_over_root_n():
    """Identical values (no sampling error) with spread 1 each: the mean varies as N(7, 1/n)."""
    n = 100
    ci = distribution_interval(np.full(n, 7.0), bin_edges=EDGES, value_sd=np.ones(n), config=IntervalConfig(n_resamples=4000))
    assert ci.mean_high - ci.mean_low == pytest.approx(2 * 1.96 / np.sqrt(n), rel=0.1)


def test_a_scale_error_alone_scales_the_interval_with_the_values():
    """One panel, identical values: only the scale varies, by 2 % (sd), so the mean's interval is
    about 7 / (1 -+ 1.96 x 0.02)."""
    ci = distribution_interval(np.full(50, 7.0), bin_edges=EDGES, scale_rel_sd=0.02, config=IntervalConfig(n_resamples=4000))
    assert ci.mean_low == pytest.approx(7.0 / (1 + 1.96 * 0.02), rel=0.005)
    assert ci.mean_high == pytest.approx(7.0 / (1 - 1.96 * 0.02), rel=0.005)
    assert scale_relative_sd(200.0, 1.0) == 0.005 and scale_relative_sd(None, 1.0) == 0.0 and scale_relative_sd(200.0, None) == 0.0


def test_no_systematic_error_gives_the_interval_without_the_term_replicate_for_replicate():
    """s = 0 draws nothing; a vanishing s draws last, so every other draw (particles, MC spreads,
    scale) is as it was and the bounds move by no more than s itself."""
    rng = np.random.default_rng(3)
    values, spread = rng.normal(10.0, 2.0, 60), rng.uniform(0.0, 0.5, 60)
    groups = np.r_[np.zeros(30, int), np.ones(30, int)]
    without = distribution_interval(values, bin_edges=EDGES, value_sd=spread, groups=groups, scale_rel_sd=0.01)
    assert distribution_interval(values, bin_edges=EDGES, value_sd=spread, groups=groups, scale_rel_sd=0.01,
                                 systematic_rel_sd=0.0).to_dict() == without.to_dict()
    vanishing = distribution_interval(values, bin_edges=EDGES, value_sd=spread, groups=groups, scale_rel_sd=0.01, systematic_rel_sd=1e-12)
    assert vanishing.mean_low == pytest.approx(without.mean_low, rel=1e-9)
    assert vanishing.mean_high == pytest.approx(without.mean_high, rel=1e-9)
    assert vanishing.median_low == pytest.approx(without.median_low, rel=1e-9)
    assert without.systematic_rel_sd == 0.0 and vanishing.to_dict()["systematic_rel_sd"] == 1e-12


def test_a_systematic_error_alone_scales_the_mean_and_median_by_exp_of_plus_minus_1_96_s():
    """Identical values (no other error): every replicate is 7 x exp(s z), so the interval is
    7 x exp(-+1.96 s)."""
    ci = distribution_interval(np.full(50, 7.0), bin_edges=EDGES, systematic_rel_sd=0.05, config=IntervalConfig(n_resamples=4000))
    for low, high in ((ci.mean_low, ci.mean_high), (ci.median_low, ci.median_high)):
        assert low == pytest.approx(7.0 * np.exp(-1.96 * 0.05), rel=0.005)
        assert high == pytest.approx(7.0 * np.exp(1.96 * 0.05), rel=0.005)
    assert ci.systematic_rel_sd == 0.05


def test_a_systematic_error_moves_whole_bins_of_particles():
    """All 20 particles at 9 (bin 5-10): a replicate with exp(s z) > 10/9 (z > 0.53 at s = 0.2,
    probability 0.3) moves all of them to the next bin, so both bins' counts range over 0..20."""
    ci = distribution_interval(np.full(20, 9.0), bin_edges=EDGES, systematic_rel_sd=0.2)
    assert ci.counts_low.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert ci.counts_high.tolist() == [0.0, 20.0, 20.0, 0.0]


def test_pooled_panels_share_one_systematic_draw():
    """Two panels of constant sizes 2 and 12, each with s = 0.1: one shared draw per replicate moves
    the pooled mean 7 by exp(s z), the full 7 x exp(-+1.96 s); independent draws per panel would
    give a narrower interval. Panels of several methods: each its own s (the largest recorded)."""
    values = np.r_[np.full(10, 2.0), np.full(10, 12.0)]
    groups = np.r_[np.zeros(10, int), np.ones(10, int)]
    ci = distribution_interval(values, bin_edges=EDGES, groups=groups, systematic_rel_sd=0.1, config=IntervalConfig(n_resamples=4000))
    assert ci.mean_low == pytest.approx(7.0 * np.exp(-1.96 * 0.1), rel=0.005)
    assert ci.mean_high == pytest.approx(7.0 * np.exp(1.96 * 0.1), rel=0.005)
    only_second = distribution_interval(values, bin_edges=EDGES, groups=groups, systematic_rel_sd=np.array([0.0, 0.1]),
                                        config=IntervalConfig(n_resamples=4000))
    assert only_second.mean_high == pytest.approx((20.0 + 120.0 * np.exp(1.96 * 0.1)) / 20.0, rel=0.005)
    assert only_second.systematic_rel_sd == 0.1


def test_the_random_effects_estimate_of_a_systematic_error():
    """s^2 = mean(r^2) - mean(v): ratios +-0.1 (mean square 0.01) with sampling variances 0.004 and
    0.006 leave 0.005; ratios within their sampling error give 0, not a negative variance."""
    assert random_effects_sd(np.array([0.1, -0.1]), np.array([0.004, 0.006])) == pytest.approx(np.sqrt(0.005))
    assert random_effects_sd(np.array([0.01, -0.02]), np.array([0.01, 0.01])) == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        random_effects_sd(np.zeros(0), np.zeros(0))


def test_the_log_mean_variance_read_from_an_interval():
    """An interval 10 x exp(-+1.96 x 0.05) is a log-normal interval of sd 0.05: variance 0.0025."""
    low, high = 10.0 * np.exp(-1.96 * 0.05), 10.0 * np.exp(1.96 * 0.05)
    interval = DistributionInterval(0.95, low, high, None, None, np.zeros(0), np.zeros(0), 2000)
    assert log_mean_variance(interval) == pytest.approx(0.0025, rel=1e-3)
    assert np.isnan(log_mean_variance(DistributionInterval(0.95, None, None, None, None, np.zeros(0), np.zeros(0), 2000)))


def test_measure_applies_the_systematic_error_to_sizes_not_to_aspect_ratios():
    labels, nm_per_px = synthetic_panel(0)
    plain = measure(labels, nm_per_px=nm_per_px)
    widened = measure(labels, nm_per_px=nm_per_px, systematic_rel_sd=0.1)
    assert widened.size_histogram.interval.systematic_rel_sd == 0.1
    assert (widened.size_histogram.interval.mean_high - widened.size_histogram.interval.mean_low
            > 1.5 * (plain.size_histogram.interval.mean_high - plain.size_histogram.interval.mean_low))
    assert widened.aspect_ratio_histogram.interval.to_dict() == plain.aspect_ratio_histogram.interval.to_dict()


def test_pooled_panels_are_resampled_within_each_panel():
    """Two panels of constant sizes 2 and 12: resampling within each keeps 10 of each, so the pooled
    mean is exactly 7 in every replicate; resampling across panels would not."""
    values = np.r_[np.full(10, 2.0), np.full(10, 12.0)]
    groups = np.r_[np.zeros(10, int), np.ones(10, int)]
    pooled = distribution_interval(values, bin_edges=EDGES, groups=groups)
    assert pooled.mean_low == pooled.mean_high == 7.0
    across = distribution_interval(values, bin_edges=EDGES)
    assert across.mean_low < 7.0 < across.mean_high


def test_the_interval_is_reproducible_and_empty_input_gives_none():
    values = np.random.default_rng(1).normal(10, 1, 30)
    assert distribution_interval(values, bin_edges=EDGES).to_dict() == distribution_interval(values, bin_edges=EDGES).to_dict()
    empty = distribution_interval(np.array([np.nan]), bin_edges=EDGES)
    assert empty.mean_low is None and empty.counts_high.tolist() == [0.0] * 4
    with pytest.raises(ValueError, match="one shape"):
        distribution_interval(values, bin_edges=EDGES, value_sd=np.ones(3))


def test_diameter_spread_of_a_disc_whose_rim_is_foreground_in_half_the_samples():
    """A disc of radius 10 whose ring out to radius 12 is foreground in half the samples: at levels
    below 0.5 the particle has radius 12, above it radius 10, so the diameter is 2 x 10 or 2 x 12
    (as equivalent diameters of the digitised discs) with equal weight: sd = half the difference."""
    labels = np.zeros((60, 60), np.uint16)
    inner, outer = np.zeros_like(labels, bool), np.zeros_like(labels, bool)
    inner[disk((30, 30), 10)] = True
    outer[disk((30, 30), 12)] = True
    labels[inner] = 1
    fraction = np.where(inner, 1.0, np.where(outer, 0.5, 0.0))
    expected = (np.sqrt(4 * outer.sum() / np.pi) - np.sqrt(4 * inner.sum() / np.pi)) / 2
    assert diameter_spread_px(labels, fraction, ring_px=3) == pytest.approx([expected])
    assert diameter_spread_px(labels, inner.astype(float)) == pytest.approx([0.0])


def synthetic_panel(seed: int, true_mean_px: float = 20.0) -> tuple[np.ndarray, float]:
    """An instance map of non-overlapping discs with lognormal diameters (mean ``true_mean_px``, cv
    0.2), none touching the border; returns (labels, nm_per_px)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((400, 400), np.uint16)
    sigma = np.sqrt(np.log1p(0.2**2))
    placed = 0
    for _ in range(2000):
        if placed == 40:
            break
        diameter = np.exp(rng.normal(np.log(true_mean_px) - sigma**2 / 2, sigma))
        r = diameter / 2
        cy, cx = rng.uniform(r + 2, 400 - r - 2, 2)
        rows, cols = disk((cy, cx), r + 2, shape=labels.shape)
        if labels[rows, cols].any():
            continue
        placed += 1
        labels[disk((cy, cx), r, shape=labels.shape)] = placed
    return labels, 2.0


def test_calibration_on_small_synthetic_set():
    """30 panels of 40 particles drawn from one distribution (mean 20 px = 40 nm, up to the
    digitisation of the discs): the interval for the mean covers it in about 95 % of them; with 30
    panels, at least 25 (a binomial(30, 0.95) gives fewer with probability below 0.01)."""
    covered = 0
    for seed in range(30):
        labels, nm_per_px = synthetic_panel(seed)
        result = measure(labels, nm_per_px=nm_per_px, scale_rel_sd=0.005, config=MeasureConfig(size_bins=10))
        covered += result.size_histogram.interval.covers_mean(40.0)
    assert 25 <= covered <= 30


def test_the_histogram_plot_draws_the_bins_and_mean_intervals(tmp_path):
    from matplotlib.container import ErrorbarContainer

    from imagedataextractor.viz import histogram_figure, save_histogram

    labels, nm_per_px = synthetic_panel(0)
    histogram = measure(labels, nm_per_px=nm_per_px).size_histogram
    ci = histogram.interval
    figure = histogram_figure(histogram.bin_edges, histogram.counts, quantity="diameter", unit="nm", mean=histogram.mean, std=histogram.std,
                              counts_interval=(ci.counts_low, ci.counts_high), mean_interval=(ci.mean_low, ci.mean_high), level=ci.level)
    axes = figure.axes[0]
    assert any(isinstance(c, ErrorbarContainer) for c in axes.containers)
    assert "95 % CI of mean" in axes.get_title()
    save_histogram(tmp_path / "size.png", histogram)
    assert (tmp_path / "size.png").stat().st_size > 0
