"""Measurements of shapes of known size drawn in code."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagedataextractor.errors import IDEError, ImageError
from imagedataextractor.measure import MeasureConfig, measure


def draw_disc(labels: np.ndarray, centre_yx: tuple[float, float], radius: float, label: int) -> None:
    rows, cols = np.ogrid[: labels.shape[0], : labels.shape[1]]
    labels[(rows - centre_yx[0]) ** 2 + (cols - centre_yx[1]) ** 2 <= radius**2] = label


def draw_ellipse(labels: np.ndarray, centre_yx: tuple[float, float], semi_major: float, semi_minor: float, angle_deg: float, label: int) -> None:
    """Major axis at ``angle_deg`` from +x, counter-clockwise on screen (y axis pointing down)."""
    rows, cols = np.ogrid[: labels.shape[0], : labels.shape[1]]
    dx, dy_up = cols - centre_yx[1], centre_yx[0] - rows
    angle = math.radians(angle_deg)
    along = dx * math.cos(angle) + dy_up * math.sin(angle)
    across = -dx * math.sin(angle) + dy_up * math.cos(angle)
    labels[(along / semi_major) ** 2 + (across / semi_minor) ** 2 <= 1] = label


def draw_rectangle(labels: np.ndarray, centre_yx: tuple[float, float], width: float, height: float, angle_deg: float, label: int) -> None:
    """Long side ``width`` at ``angle_deg`` from +x, counter-clockwise on screen."""
    rows, cols = np.ogrid[: labels.shape[0], : labels.shape[1]]
    dx, dy_up = cols - centre_yx[1], centre_yx[0] - rows
    angle = math.radians(angle_deg)
    along = dx * math.cos(angle) + dy_up * math.sin(angle)
    across = -dx * math.sin(angle) + dy_up * math.cos(angle)
    labels[(np.abs(along) <= width / 2) & (np.abs(across) <= height / 2)] = label


@pytest.mark.parametrize("radius", [10, 20, 40])
def test_disc_size_and_shape(radius: int) -> None:
    labels = np.zeros((128, 128), np.uint16)
    draw_disc(labels, (64.3, 63.6), radius, 7)  # off the pixel grid: centred discs are a lattice special case
    row = measure(labels).particles.iloc[0]
    assert row["particle_id"] == 7
    assert row["area_px"] == pytest.approx(math.pi * radius**2, rel=0.02)
    assert row["diameter_px"] == pytest.approx(2 * radius, rel=0.01)
    assert row["perimeter_px"] == pytest.approx(2 * math.pi * radius, rel=0.02)
    # Pixel centres span 2r less up to 2 px, plus one pixel: within a pixel of 2r.
    assert row["feret_max_px"] == pytest.approx(2 * radius, abs=1.0)
    assert row["feret_min_px"] == pytest.approx(2 * radius, abs=1.0)
    assert row["aspect_ratio_feret"] == pytest.approx(1.0, abs=0.05)
    assert row["aspect_ratio_ellipse"] == pytest.approx(1.0, abs=0.01)
    assert row["circularity"] == pytest.approx(1.0, abs=0.05)
    assert row["solidity"] > 0.95
    assert (row["centroid_x_px"], row["centroid_y_px"]) == (pytest.approx(63.6, abs=0.05), pytest.approx(64.3, abs=0.05))
    assert not row["touches_border"]


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 90.0, 135.0])
def test_ellipse_axes_and_orientation(angle_deg: float) -> None:
    labels = np.zeros((160, 160), np.uint16)
    draw_ellipse(labels, (80, 80), 50, 20, angle_deg, 1)
    row = measure(labels).particles.iloc[0]
    assert row["ellipse_major_px"] == pytest.approx(100, rel=0.02)
    assert row["ellipse_minor_px"] == pytest.approx(40, rel=0.03)
    assert row["aspect_ratio_ellipse"] == pytest.approx(2.5, rel=0.03)
    assert row["feret_max_px"] == pytest.approx(100, rel=0.03)
    assert row["feret_min_px"] == pytest.approx(40, rel=0.04)
    difference = (row["orientation_deg"] - angle_deg + 90) % 180 - 90
    assert abs(difference) < 1.0
    assert 0 <= row["orientation_deg"] < 180


@pytest.mark.parametrize("angle_deg", [0.0, 30.0])
def test_rectangle_feret_and_aspect_ratio(angle_deg: float) -> None:
    labels = np.zeros((160, 160), np.uint16)
    draw_rectangle(labels, (80.3, 79.6), 80, 20, angle_deg, 1)
    row = measure(labels).particles.iloc[0]
    diagonal = math.hypot(80, 20)
    assert row["area_px"] == pytest.approx(1600, rel=0.03)
    assert row["feret_max_px"] == pytest.approx(diagonal, rel=0.02)
    assert row["feret_min_px"] == pytest.approx(20, rel=0.05)
    assert row["aspect_ratio_feret"] == pytest.approx(diagonal / 20, rel=0.05)
    assert row["aspect_ratio_ellipse"] == pytest.approx(4.0, rel=0.05)
    assert row["solidity"] > 0.93
    difference = (row["orientation_deg"] - angle_deg + 90) % 180 - 90
    assert abs(difference) < 1.0


def test_exact_rectangle_feret_axis_aligned() -> None:
    labels = np.zeros((64, 64), np.uint16)
    labels[10:30, 5:45] = 1
    row = measure(labels).particles.iloc[0]
    assert row["feret_min_px"] == 20.0
    assert row["feret_max_px"] == pytest.approx(math.hypot(40, 20), rel=0.01)


def test_single_pixel_and_line() -> None:
    labels = np.zeros((32, 32), np.uint16)
    labels[5, 5] = 1
    labels[20, 4:24] = 2
    table = measure(labels).particles.set_index("particle_id")
    assert (table.loc[1, "feret_max_px"], table.loc[1, "feret_min_px"]) == (1.0, 1.0)
    assert (table.loc[2, "feret_max_px"], table.loc[2, "feret_min_px"]) == (20.0, 1.0)
    assert math.isnan(table.loc[2, "aspect_ratio_ellipse"])
    assert table.loc[2, "aspect_ratio_feret"] == 20.0


def test_nm_columns_scale_pixel_columns() -> None:
    labels = np.zeros((128, 128), np.uint16)
    draw_disc(labels, (40, 40), 15, 1)
    draw_ellipse(labels, (90, 80), 25, 10, 45, 2)
    pixel_only = measure(labels)
    assert not [column for column in pixel_only.particles if column.endswith(("_nm", "_nm2"))]
    assert pixel_only.size_histogram.unit == "px"
    scaled = measure(labels, nm_per_px=2.5)
    table = scaled.particles
    for name in ("centroid_x", "centroid_y", "diameter", "perimeter", "feret_max", "feret_min", "ellipse_major", "ellipse_minor"):
        np.testing.assert_allclose(table[f"{name}_nm"], table[f"{name}_px"] * 2.5)
    np.testing.assert_allclose(table["area_nm2"], table["area_px"] * 6.25)
    assert scaled.summary["diameter_mean_nm"] == pytest.approx(scaled.summary["diameter_mean_px"] * 2.5)
    assert scaled.size_histogram.unit == "nm"
    assert scaled.size_histogram.bin_edges[0] <= table["diameter_nm"].min()
    assert scaled.size_histogram.bin_edges[-1] >= table["diameter_nm"].max()


def test_border_particles_flagged_and_left_out_of_statistics() -> None:
    labels = np.zeros((100, 100), np.uint16)
    draw_disc(labels, (50, 50), 10, 1)
    draw_disc(labels, (0, 50), 10, 2)
    draw_disc(labels, (50, 99), 6, 3)
    result = measure(labels)
    assert result.particles.set_index("particle_id")["touches_border"].to_dict() == {1: False, 2: True, 3: True}
    assert result.summary["n_particles"] == 1
    assert result.summary["n_particles_total"] == 3
    assert result.summary["n_border_excluded"] == 2
    assert result.summary["diameter_mean_px"] == pytest.approx(result.particles.loc[0, "diameter_px"])
    assert int(result.size_histogram.counts.sum()) == 1
    assert result.summary["coverage"] == pytest.approx((labels > 0).mean())
    everything = measure(labels, config=MeasureConfig(include_border=True))
    assert everything.summary["n_particles"] == 3
    assert everything.summary["n_border_excluded"] == 0
    assert int(everything.aspect_ratio_histogram.counts.sum()) == 3


def test_empty_map_gives_zero_particles() -> None:
    result = measure(np.zeros((64, 64), np.uint16), nm_per_px=1.0)
    assert len(result.particles) == 0
    assert "diameter_nm" in result.particles
    assert result.summary["n_particles"] == 0
    assert result.summary["diameter_mean_nm"] is None
    assert result.summary["coverage"] == 0.0
    assert result.size_histogram.counts.size == 0
    assert result.rdf is None
    assert result.to_dict()["particles"] == []


def test_uncertainty_mean_per_particle() -> None:
    labels = np.zeros((64, 64), np.uint16)
    draw_disc(labels, (20, 20), 8, 1)
    draw_disc(labels, (44, 44), 8, 2)
    uncertainty = np.where(labels == 1, 0.25, 0.0) + np.where(labels == 2, 0.75, 0.0)
    result = measure(labels, uncertainty=uncertainty)
    assert result.particles["mean_uncertainty"].tolist() == [pytest.approx(0.25), pytest.approx(0.75)]
    assert result.summary["mean_uncertainty"] == pytest.approx(0.5)
    assert "mean_uncertainty" not in measure(labels).particles


def test_histogram_bins_and_aspect_ratio_choice() -> None:
    labels = np.zeros((200, 200), np.uint16)
    for index, radius in enumerate([5, 8, 11, 14, 17]):
        draw_disc(labels, (30 + 35 * index, 100), radius, index + 1)
    result = measure(labels, config=MeasureConfig(size_bins=(0.0, 15.0, 25.0, 40.0), aspect_ratio="ellipse"))
    assert result.size_histogram.counts.tolist() == [1, 2, 2]
    assert result.size_histogram.bin_edges.tolist() == [0.0, 15.0, 25.0, 40.0]
    assert len(measure(labels, config=MeasureConfig(size_bins=4)).size_histogram.bin_edges) == 5
    assert result.aspect_ratio_histogram.quantity == "aspect_ratio_ellipse"


def test_records_are_plain_python() -> None:
    labels = np.zeros((32, 32), np.uint16)
    labels[20, 4:24] = 1
    record = measure(labels, nm_per_px=1.0).to_records()[0]
    assert record["aspect_ratio_ellipse"] is None
    assert type(record["particle_id"]) is int and type(record["touches_border"]) is bool
    assert type(record["area_nm2"]) is float


def test_invalid_inputs_raise_ide_errors() -> None:
    with pytest.raises(ImageError, match="labels"):
        measure(np.zeros((8, 8, 3), np.uint16))
    with pytest.raises(ImageError, match="integer"):
        measure(np.zeros((8, 8), np.float32))
    with pytest.raises(IDEError, match="nm_per_px"):
        measure(np.zeros((8, 8), np.uint16), nm_per_px=-1.0)
    with pytest.raises(ImageError, match="uncertainty"):
        measure(np.zeros((8, 8), np.uint16), uncertainty=np.zeros((4, 4)))
