"""Plots a reviewer accepts: integer count ticks, n and mean +- sd, g(r) in nm with its g = 1 line,
the reason in place of a missing plot, an overlay with its own scale bar and legend."""

import numpy as np
import pandas as pd
import pytest

from imagedataextractor.measure import measure
from imagedataextractor.scalebar.types import Scalebar
from imagedataextractor.viz import (
    LEGEND_BACKGROUND,
    annotated_overlay,
    histogram_figure,
    histogram_statistics,
    nice_length,
    overlay_legend,
    rdf_absence_reason,
    rdf_figure,
)


def _texts(figure) -> str:
    figure.canvas.draw()
    texts = [t.get_text() for t in figure.texts]
    for axes in figure.axes:
        texts += [axes.get_title(), axes.get_xlabel(), axes.get_ylabel(), *(t.get_text() for t in axes.texts)]
        legend = axes.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(texts)


def test_histogram_has_integer_count_ticks_and_n_mean_sd():
    figure = histogram_figure([10.0, 12.5, 15.0, 17.5], [1, 3, 2], quantity="diameter", unit="nm", mean=13.9, std=2.04)
    figure.canvas.draw()
    (axes,) = figure.axes
    ticks = axes.yaxis.get_majorticklocs()
    assert len(ticks) >= 2 and np.all(ticks == np.round(ticks))
    text = _texts(figure)
    assert "n = 6" in text and "13.9 ± 2.0 nm" in text and "diameter (nm)" in text


def test_aspect_ratio_histogram_from_measure_carries_the_raw_mean_and_sd():
    labels = np.zeros((120, 120), np.uint16)
    labels[10:20, 10:30] = 1  # 2:1
    labels[50:70, 50:70] = 2  # 1:1
    labels[90:100, 40:70] = 3  # 3:1
    measured = measure(labels)
    histogram, ratios = measured.aspect_ratio_histogram, measured.particles["aspect_ratio_feret"]
    assert histogram.n == 3 and histogram.mean == pytest.approx(ratios.mean()) and histogram.std == pytest.approx(ratios.std(ddof=1))
    figure = histogram_figure(histogram.bin_edges, histogram.counts, quantity=histogram.quantity, unit=None, mean=histogram.mean, std=histogram.std)
    assert f"n = 3, mean ± sd = {histogram.mean:.2f} ± {histogram.std:.2f}" in _texts(figure)


@pytest.mark.parametrize(("mean", "std", "expected"), [(2124.2, 250.0, "2124 ± 250 nm"), (1.1203, 0.047, "1.120 ± 0.047 nm"), (5.0, None, "mean = 5 nm")])
def test_mean_is_given_to_the_precision_of_the_sd(mean, std, expected):
    assert histogram_statistics(4, mean, std, "nm").endswith(expected)


def test_empty_histogram_says_so_instead_of_empty_axes():
    figure = histogram_figure([], [], quantity="diameter", unit="px", mean=None, std=None)
    assert not figure.axes and "no particles counted" in _texts(figure)


def test_rdf_in_nm_with_the_uncorrelated_line():
    figure = rdf_figure([5.0, 15.0, 25.0], [0.2, 1.4, None], unit="nm", n_points=40)
    (axes,) = figure.axes
    assert axes.get_xlabel() == "r (nm)"
    assert any(np.allclose(line.get_ydata(), 1.0) for line in axes.get_lines())
    assert "g(r) = 1" in _texts(figure) and "40 particles" in _texts(figure)


def test_missing_rdf_writes_the_reason_where_the_plot_would_be():
    figure = rdf_figure(None, None, n_points=4)
    assert not figure.axes
    assert "4 particles, at least 10 are needed" in _texts(figure)
    assert rdf_absence_reason(50).startswith("No RDF: the particles are too few or too close")


@pytest.mark.parametrize(("limit", "expected"), [(0.9, 0.5), (1.0, 1.0), (37.0, 20.0), (480.0, 200.0), (7000.0, 5000.0)])
def test_scale_bar_lengths_are_round(limit, expected):
    assert nice_length(limit) == pytest.approx(expected)


def test_overlay_has_its_own_scale_bar_and_a_legend_below_the_untouched_image():
    image = np.full((200, 400, 3), 90, np.uint8)
    labels = np.zeros((200, 400), np.uint16)
    labels[50:80, 50:80] = 1
    particles = pd.DataFrame({"particle_id": [1], "centroid_x_px": [64.5], "centroid_y_px": [64.5]})
    bar = Scalebar(text="100 nm", value=100.0, unit="nm", length_px=100.0, nm_per_px=1.0, bar_bbox=(280, 170, 380, 176))
    picture = annotated_overlay(image, labels, particles=particles, scalebar=bar)
    assert picture.shape[1] == 400 and picture.shape[0] > 200
    assert (picture[10:40, 300:390] == 90).all()  # the micrograph itself is not covered
    band = picture[200:]
    white = (band > 200).all(axis=2)
    # the bar: 100 nm at 1 nm/px (a quarter of the 400 px width is 100 nm) is a 100 px white run
    runs = [np.flatnonzero(row) for row in white]
    assert max(len(run) for run in runs) >= 100
    assert (band == LEGEND_BACKGROUND).all(axis=2).mean() > 0.5
    entries = [text for _, text in overlay_legend(1, bar, masked_labels=0)]
    assert entries[0].startswith("1 particle:") and "scalebar found" in entries[1] and "100 nm" in entries[1]
    assert "no panel label masked" in entries[2]


def test_overlay_without_scale_or_masks_says_so():
    entries = [text for _, text in overlay_legend(3, None, masked_labels=None, drawn_as="fitted ellipses")]
    assert entries == ["3 particles: fitted ellipses, id at centroid", "no scalebar found: sizes in px", "masked panel labels: not recorded"]
    image = np.zeros((100, 100, 3), np.uint8)
    particles = pd.DataFrame({"particle_id": [1], "centroid_x_px": [50.0], "centroid_y_px": [50.0], "ellipse_major_px": [40.0],
                              "ellipse_minor_px": [20.0], "orientation_deg": [0.0]})
    picture = annotated_overlay(image, None, particles=particles, scalebar=None, masks_recorded=False)
    assert picture[:100].any(axis=2)[50, 25:35].any()  # the ellipse's left end, 20 px from the centre along x
