"""Panel splitting on generated multi-panel figures with exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from imagedataextractor.figsplit import Panel, SplitConfig, split_figure
from imagedataextractor.figsplit.classify import classify_panel
from imagedataextractor.imageio import read_image
from imagedataextractor.figsplit.synthetic import FigureStyle, emps_micrographs, make_figure, procedural_micrograph
from imagedataextractor.figsplit.types import box_iou


def best_ious(truth, predicted: list[Panel]) -> list[float]:
    return [max((box_iou(panel.bbox, found.bbox) for found in predicted), default=0.0) for panel in truth]


@pytest.mark.parametrize("separator", ["white", "black", "abutting"])
def test_panels_found_for_each_separator(separator: str) -> None:
    style = FigureStyle(separator=separator, non_micrograph_probability=0.0)
    right, overlaps = 0, []
    for seed in range(6):
        figure = make_figure(seed, style=style)
        found = split_figure(figure.image, config=SplitConfig(read_labels=False))
        right += len(found) == len(figure.panels)
        overlaps += best_ious(figure.panels, found)
    assert right >= 5, f"{separator}: panel count right in {right} of 6 figures"
    assert np.mean(overlaps) > 0.95


def test_plot_panel_is_not_a_micrograph_and_keeps_its_axis_labels() -> None:
    style = FigureStyle(separator="white", non_micrograph_probability=1.0, jpeg_probability=0.0)
    seen_plot = False
    for seed in range(12):
        figure = make_figure(seed, style=style)
        if not any(panel.kind == "plot" for panel in figure.panels):
            continue
        seen_plot = True
        found = split_figure(figure.image, config=SplitConfig(read_labels=False))
        assert len(found) == len(figure.panels), f"seed {seed}"
        for panel in figure.panels:
            match = max(found, key=lambda candidate: box_iou(candidate.bbox, panel.bbox))
            assert box_iou(match.bbox, panel.bbox) > 0.9
            assert match.is_micrograph == panel.is_micrograph, f"seed {seed}: {panel.kind} classified {match.reason}"
            if not panel.is_micrograph:
                assert match.reason
    assert seen_plot


def test_labels_read_in_generated_figures() -> None:
    style = FigureStyle(unlabelled_probability=0.0, non_micrograph_probability=0.0, inset_probability=0.0)
    right = total = 0
    for seed in range(8):
        figure = make_figure(seed, style=style)
        found = split_figure(figure.image)
        for panel in figure.panels:
            match = max(found, key=lambda candidate: box_iou(candidate.bbox, panel.bbox))
            total += 1
            right += match.label == panel.label
    assert right / total >= 0.7, f"{right} of {total} labels read"


def test_single_micrograph_is_one_panel_covering_it() -> None:
    image = procedural_micrograph(np.random.default_rng(4), 300, 240)
    panels = split_figure(image)
    assert len(panels) == 1
    assert panels[0].bbox == (0, 0, 300, 240)
    assert panels[0].is_micrograph and panels[0].reason is None
    assert panels[0].image.shape == (240, 300, 3)
    assert not panels[0].image.flags.writeable


def test_generator_is_deterministic() -> None:
    first, second = make_figure(11), make_figure(11)
    assert np.array_equal(first.image, second.image)
    assert first.panels == second.panels
    other = make_figure(12).image
    assert other.shape != first.image.shape or not np.array_equal(other, first.image)


@pytest.mark.emps
def test_emps_figures(emps_dir) -> None:
    source = emps_micrographs(emps_dir)
    right, overlaps, kinds_right, kinds = 0, [], 0, 0
    for seed in range(10):
        figure = make_figure(seed, micrographs=source)
        found = split_figure(figure.image, config=SplitConfig(read_labels=False))
        right += len(found) == len(figure.panels)
        overlaps += best_ious(figure.panels, found)
        for panel in figure.panels:
            match = max(found, key=lambda candidate: box_iou(candidate.bbox, panel.bbox))
            kinds += 1
            kinds_right += match.is_micrograph == panel.is_micrograph
    assert right >= 9
    assert np.mean(overlaps) > 0.95
    assert kinds_right / kinds > 0.95


def emps_misclassified(emps_dir, step: int) -> list[str]:
    paths = sorted((emps_dir / "images").glob("*.png"))[::step]
    verdicts = {path.name: classify_panel(read_image(path), config=SplitConfig()) for path in paths}
    return [f"{name}: {reason}" for name, (is_micrograph, reason) in verdicts.items() if not is_micrograph]


@pytest.mark.emps
def test_emps_sample_classified_as_micrographs(emps_dir) -> None:
    assert emps_misclassified(emps_dir, 8) == []


@pytest.mark.slow
@pytest.mark.emps
def test_all_emps_images_classified_as_micrographs(emps_dir) -> None:
    assert emps_misclassified(emps_dir, 1) == []
