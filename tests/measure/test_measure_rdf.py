"""Radial distribution function of particle centroids."""

from __future__ import annotations

import numpy as np
import pytest

from imagedataextractor.measure import MeasureConfig, measure
from imagedataextractor.measure.distributions import radial_distribution


def lattice_labels(spacing: int, count: int, radius: int) -> np.ndarray:
    size = spacing * count
    labels = np.zeros((size, size), np.uint16)
    rows, cols = np.ogrid[:size, :size]
    centres = spacing // 2 + spacing * np.arange(count)
    for index, (cy, cx) in enumerate((cy, cx) for cy in centres for cx in centres):
        labels[(rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2] = index + 1
    return labels


def test_square_lattice_peaks_at_spacing_and_is_empty_below() -> None:
    result = measure(lattice_labels(20, 20, 3), nm_per_px=0.5, config=MeasureConfig(rdf_dr_px=1.0))
    rdf = result.rdf
    assert rdf is not None and rdf.n_points == 400
    assert np.all(rdf.g_r[rdf.radii_px < 18] == 0)
    first_shell = rdf.radii_px < 25
    assert abs(rdf.radii_px[first_shell][np.argmax(rdf.g_r[first_shell])] - 20) <= 1
    assert rdf.g_r[first_shell].max() > 5
    diagonal = np.abs(rdf.radii_px - 20 * np.sqrt(2)) <= 1
    assert rdf.g_r[diagonal].max() > 2
    np.testing.assert_allclose(rdf.radii_nm, rdf.radii_px * 0.5)


def test_uniform_random_points_have_flat_rdf() -> None:
    points = np.random.default_rng(3).uniform(0, 1000, size=(3000, 2))
    rdf = radial_distribution(points, image_shape=(1000, 1000), dr_px=5.0, rcutoff=0.9, nm_per_px=None)
    assert rdf is not None and rdf.radii_nm is None
    beyond_first_shell = rdf.radii_px >= 10
    assert np.nanmean(rdf.g_r[beyond_first_shell]) == pytest.approx(1.0, abs=0.03)
    assert np.all(np.abs(rdf.g_r[beyond_first_shell] - 1.0) < 0.15)


def test_too_few_particles_give_no_rdf() -> None:
    labels = lattice_labels(20, 3, 3)
    assert measure(labels).rdf is None
    assert measure(labels, config=MeasureConfig(rdf_min_particles=5)).rdf is not None


def test_default_shell_width_follows_particle_size() -> None:
    rdf = measure(lattice_labels(40, 6, 10)).rdf
    assert rdf is not None
    assert rdf.dr_px == pytest.approx(np.sqrt(4 * np.count_nonzero(lattice_labels(40, 1, 10)) / np.pi) / 5)
