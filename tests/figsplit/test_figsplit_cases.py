"""The splitter on the named cases of the evaluation set (one per layout family and failure mode of
issue 33), the micrograph invariant, seams, lettering and bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from scipy import ndimage as ndi

from imagedataextractor.cli import main
from imagedataextractor.figsplit import SplitConfig, split_figure
from imagedataextractor.figsplit.labels import consistent_labels, expected_labels
from imagedataextractor.figsplit.layout import find_seams, grey_levels, reading_order
from imagedataextractor.figsplit.synthetic import CASES, SyntheticFigure, make_case, procedural_micrograph
from imagedataextractor.figsplit.types import box_iou


def best_match(box, panels):
    return max(panels, key=lambda panel: box_iou(box, panel.bbox))


def merged_micrographs(figure: SyntheticFigure, panels) -> int:
    """Micrograph panels covering at least 20 % of each of two true micrographs."""

    def covered(truth, box) -> float:
        width, height = min(truth[2], box[2]) - max(truth[0], box[0]), min(truth[3], box[3]) - max(truth[1], box[1])
        return max(0, width) * max(0, height) / ((truth[2] - truth[0]) * (truth[3] - truth[1]))

    micrographs = [truth.bbox for truth in figure.panels if truth.is_micrograph]
    return sum(panel.is_micrograph and sum(covered(box, panel.bbox) >= 0.2 for box in micrographs) >= 2 for panel in panels)


@pytest.mark.parametrize("name", list(CASES))
def test_every_case_is_split_into_its_panels(name: str) -> None:
    figure = make_case(name, 0)
    panels = split_figure(figure.image)
    assert len(panels) == len(figure.panels), f"{name}: {[p.bbox for p in panels]} vs {[p.bbox for p in figure.panels]}"
    for truth in figure.panels:
        found = best_match(truth.bbox, panels)
        assert box_iou(truth.bbox, found.bbox) >= 0.9, f"{name}: {truth.bbox} best {found.bbox}"
        assert found.is_micrograph == truth.is_micrograph, f"{name}: {truth.kind} at {truth.bbox}"
        # A letter is reported only where it is printed, and then it is the printed one.
        assert found.label in (None, truth.label), f"{name}: read {found.label!r} for {truth.label_text!r}"
    assert merged_micrographs(figure, panels) == 0


@pytest.mark.parametrize("name", [name for name, (family, _) in CASES.items() if family == "labels"])
def test_label_styles_are_read(name: str) -> None:
    figure = make_case(name, 1)
    panels = split_figure(figure.image)
    right = sum(best_match(truth.bbox, panels).label == truth.label for truth in figure.panels)
    assert right >= len(figure.panels) - 1, f"{name}: {[p.label for p in panels]} vs {[t.label for t in figure.panels]}"


@pytest.mark.parametrize("name", ["gutter-none", "gutter-none-2x2", "gutter-thin-line", "jpeg"])
def test_a_micrograph_panel_never_spans_two_micrographs(name: str) -> None:
    for seed in range(1, 4):
        figure = make_case(name, seed)
        panels = split_figure(figure.image, config=SplitConfig(read_labels=False))
        assert merged_micrographs(figure, panels) == 0, f"{name} seed {seed}: {[p.bbox for p in panels]}"


def downscaled_grid_with_noisy_gutter(seed: int, *, clean_first_column: bool) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A 2x3 grid of 200x190 micrographs with 4 px gutters, halved (box filter) and saved as a
    JPEG (quality 70): the vertical gutters are white, the horizontal one light grey noise (200-239,
    no gutter colour: it is read as no gutter), or white in the first column only. Returns the
    figure and the true boxes in its pixels."""
    rng = np.random.default_rng(seed)
    width, height, gutter = 200, 190, 4
    figure = np.full((2 * height + gutter, 3 * width + 2 * gutter, 3), 255, np.uint8)
    for row in range(2):
        for col in range(3):
            figure[row * (height + gutter) : row * (height + gutter) + height, col * (width + gutter) : col * (width + gutter) + width] = procedural_micrograph(rng, width, height)
    figure[height : height + gutter] = rng.integers(200, 240, (gutter, figure.shape[1], 1), dtype=np.uint8)
    if clean_first_column:
        figure[height : height + gutter, :width] = 255
    small = Image.fromarray(figure).resize((figure.shape[1] // 2, figure.shape[0] // 2), Image.Resampling.BOX)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=70)
    truth = [(col * (width + gutter) // 2, row * (height + gutter) // 2, (col * (width + gutter) + width) // 2, (row * (height + gutter) + height) // 2) for row in range(2) for col in range(3)]
    return np.asarray(Image.open(buffer).convert("RGB")), truth


@pytest.mark.parametrize("clean_first_column", [False, True])
def test_a_downscaled_jpeg_grid_with_a_thin_noisy_gutter_is_cut_into_its_micrographs(clean_first_column: bool) -> None:
    # Panels under 100 px a side, rows parted by a 2 px line of JPEG-noisy light grey: the row
    # seam is found in thin bands and confirmed across the columns (at one height in two of them,
    # or a gutter in the first), so no micrograph panel spans two micrographs.
    for seed in range(3):
        image, truth = downscaled_grid_with_noisy_gutter(seed, clean_first_column=clean_first_column)
        panels = split_figure(image, config=SplitConfig(read_labels=False))
        assert len(panels) == 6, f"seed {seed}: {[p.bbox for p in panels]}"
        for box in truth:
            found = best_match(box, panels)
            assert box_iou(box, found.bbox) >= 0.9 and found.is_micrograph, f"seed {seed}: {box} best {found.bbox}"
        # Cut without a gutter: less sure than a panel between gutters.
        assert all(panel.confidence < 1.0 for panel in panels if panel.bbox[0] > 0)


def test_an_image_crossed_by_its_siblings_gutter_is_unsure() -> None:
    # One tall micrograph beside two stacked ones: it shows no seam where its siblings' gutter
    # runs, but it might be two images of one texture, so it keeps a confidence under 1.
    rng = np.random.default_rng(2)
    figure = np.full((410, 420, 3), 255, np.uint8)
    figure[:, :200] = procedural_micrograph(rng, 200, 410)
    figure[:200, 210:] = procedural_micrograph(rng, 210, 200)
    figure[210:, 210:] = procedural_micrograph(rng, 210, 200)
    panels = {panel.bbox: panel.confidence for panel in split_figure(figure, config=SplitConfig(read_labels=False))}
    assert panels.keys() == {(0, 0, 200, 410), (210, 0, 420, 200), (210, 210, 420, 410)}
    assert panels[(0, 0, 200, 410)] < 1.0 and panels[(210, 0, 420, 200)] == panels[(210, 210, 420, 410)] == 1.0


def test_a_binary_heat_map_is_not_cut_along_its_rows() -> None:
    # Black and grey cells with a 1 px white line between rows (no gutter: it crosses no panel
    # edge): every row boundary is as straight as a seam, so the region is ruled, not touching
    # images (the splitter before cut it into 5 strips).
    for seed in range(3):
        rng = np.random.default_rng(seed)
        cells = np.where(rng.random((20, 40)) < 0.5, 20, 200).astype(np.uint8)
        heat = np.repeat(np.repeat(cells, 11, axis=0), 10, axis=1)
        heat[10::11] = 255
        figure = np.full((heat.shape[0] + 20, heat.shape[1] + 20, 3), 255, np.uint8)
        figure[10:-10, 10:-10] = heat[:, :, None]
        assert find_seams(grey_levels(figure)[10:-10, 10:-10], axis=0, min_length=40, min_support=0.5) == []
        assert [panel.bbox for panel in split_figure(figure, config=SplitConfig(read_labels=False))] == [(10, 10, 410, 229)]


def test_a_label_sharing_its_rows_with_the_axis_title_above_goes_with_the_panel_below() -> None:
    # Two framed plots stacked; between them one text row holds the upper plot's axis title
    # (centred) and, at the far left, the lower panel's label (as in a real eLife figure). The row
    # is nearer the upper plot, but a mark at the start of a row followed by a wide clear span is a
    # label printed before its panel.
    figure = np.full((300, 400, 3), 255, np.uint8)
    for top, bottom in ((10, 120), (140, 280)):
        figure[top:bottom, 40] = figure[top:bottom, 359] = figure[top, 40:360] = figure[bottom - 1, 40:360] = 0
        xs = np.arange(45, 355)
        figure[(top + bottom) // 2 + (20 * np.sin(xs / 15)).astype(int), xs] = 0
    for x in range(150, 250, 9):
        figure[124:134, x : x + 7] = 0
    figure[124:134, 5:15] = 0
    boxes = [panel.bbox for panel in split_figure(figure, config=SplitConfig(read_labels=False))]
    assert len(boxes) == 2 and boxes[0][3] == 120 and boxes[1][:2] == (5, 124)


def test_panels_cut_along_a_seam_are_less_sure_than_panels_between_gutters() -> None:
    touching, spaced = make_case("gutter-none", 0), make_case("gutter-white", 1)
    touching_panels = split_figure(touching.image, config=SplitConfig(read_labels=False))
    spaced_panels = split_figure(spaced.image, config=SplitConfig(read_labels=False))
    assert len(touching_panels) == 2 and all(0.5 <= panel.confidence < 1.0 for panel in touching_panels)
    assert all(panel.confidence == 1.0 for panel in spaced_panels)
    assert all(set(panel.to_dict()) == {"bbox", "label", "is_micrograph", "reason", "confidence"} for panel in touching_panels)


def test_seam_between_two_abutting_micrographs() -> None:
    rng = np.random.default_rng(5)
    left, right = procedural_micrograph(rng, 180, 240), procedural_micrograph(rng, 200, 240)
    grey = grey_levels(np.concatenate([left, right], axis=1))
    seams = find_seams(grey, axis=1, min_length=40)
    assert seams and abs(seams[0][0] - 180) <= 1 and seams[0][1] >= 0.8
    assert find_seams(grey, axis=0, min_length=40) == []
    assert find_seams(grey_levels(left), axis=1, min_length=40) == []


def _smooth_texture(rng: np.random.Generator, height: int, width: int, level: float) -> np.ndarray:
    return level + 200 * ndi.gaussian_filter(rng.normal(size=(height, width)), 1.5)


def test_a_seam_weak_in_one_row_of_a_grid_of_touching_micrographs_is_still_cut() -> None:
    # 2x2 touching micrographs; the top row's two images meet with a step only in its lower two
    # thirds (the seam breaks 4 of its 6 bands, under the 75 % a seam needs on its own), but it
    # continues the vertical seam found across the whole figure: cut, with a lower confidence.
    rng = np.random.default_rng(3)
    top = _smooth_texture(rng, 180, 400, 120)
    top[60:, 200:] += 45
    bottom = np.concatenate([_smooth_texture(rng, 180, 200, 50), _smooth_texture(rng, 180, 200, 220)], axis=1)
    grey = np.clip(np.concatenate([top, bottom]), 0, 255).astype(np.uint8)
    assert find_seams(grey[:180].astype(np.float32), axis=1, min_length=40, min_support=0.5)[0][1] < 0.75
    panels = split_figure(np.repeat(grey[:, :, None], 3, axis=2), config=SplitConfig(read_labels=False))
    truth = [(0, 0, 200, 180), (200, 0, 400, 180), (0, 180, 200, 360), (200, 180, 400, 360)]
    assert sorted(panel.bbox for panel in panels) == sorted(truth)
    confidence = {panel.bbox: panel.confidence for panel in panels}
    assert all(panel.is_micrograph for panel in panels)
    assert all(value < 1.0 for value in confidence.values())
    # Less sure than a cut along a seam found on its own (confidence 0.9 times its strength >= 0.75).
    assert max(confidence[truth[0]], confidence[truth[1]]) < 0.9 * 0.75


def test_letters_read_are_kept_and_only_expected_elsewhere() -> None:
    # Misread and duplicated letters are dropped; nothing is added.
    assert consistent_labels(["n", "b"]) == [None, "b"]
    assert consistent_labels(["a", "b", None, "d"]) == ["a", "b", None, "d"]
    assert consistent_labels(["a", "b", "b"]) == ["a", None, None]
    # Where the unread panels' letters would be, to look again there (never a label by itself).
    assert expected_labels(["a", "b", None, "d"]) == [None, None, "c", None]
    assert expected_labels([None, None, None, "d"]) == ["a", "b", "c", None]
    assert expected_labels(["a", None, None, None, "e", None, None]) == [None, "b", "c", "d", None, "f", "g"]
    assert expected_labels(["a", None, None, "e", None]) == [None, None, None, None, None]
    # Where nothing was read, the first panel may be "a"; letters read out of reading order (A B
    # over D C) tell nothing.
    assert expected_labels([None, None, None]) == ["a", None, None]
    assert expected_labels(["a", "b", "d", None]) == [None] * 4


def test_reading_order_rows_then_columns() -> None:
    boxes = [(0, 200, 100, 300), (110, 0, 210, 100), (0, 0, 100, 100), (110, 200, 210, 300)]
    assert reading_order(boxes) == [2, 1, 0, 3]


def test_tiny_figure_is_one_panel_and_blank_figures_are_not_micrographs() -> None:
    tiny = procedural_micrograph(np.random.default_rng(0), 50, 40)
    assert [panel.bbox for panel in split_figure(tiny)] == [(0, 0, 50, 40)]
    for level in (0, 255):
        panels = split_figure(np.full((300, 400, 3), level, np.uint8))
        assert len(panels) == 1 and not panels[0].is_micrograph


def test_a_large_figure_is_laid_out_on_a_reduced_copy_with_boxes_in_figure_pixels() -> None:
    rng = np.random.default_rng(1)
    figure = np.full((1400, 3300, 3), 255, np.uint8)
    figure[50:1350, 50:1600] = procedural_micrograph(rng, 1550, 1300)
    figure[50:1350, 1700:3250] = procedural_micrograph(rng, 1550, 1300)
    boxes = [panel.bbox for panel in split_figure(figure, config=SplitConfig(read_labels=False))]
    assert len(boxes) == 2
    for found, truth in zip(boxes, [(50, 50, 1600, 1350), (1700, 50, 3250, 1350)]):
        assert box_iou(found, truth) >= 0.99


@pytest.mark.parametrize("mode", ["L", "P", "CMYK"])
def test_cli_reads_greyscale_palette_and_cmyk_figures(tmp_path: Path, mode: str) -> None:
    figure = make_case("grid-1x2", 3).image
    path = tmp_path / ("figure.jpg" if mode == "CMYK" else "figure.png")
    image = Image.fromarray(figure)
    (image.convert("CMYK") if mode == "CMYK" else image.convert(mode)).save(path)
    result = CliRunner().invoke(main, ["split", str(path), "--json", "--no-labels"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["panels"]) == 2


def test_cli_bad_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "figure.png"
    path.write_text("not an image")
    result = CliRunner().invoke(main, ["split", str(path), "--json"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [f"Error: {path}: not an image file (unrecognised format)"]


def test_the_one_letter_missing_from_letters_out_of_order_is_looked_for() -> None:
    from imagedataextractor.figsplit.labels import missing_label

    # A B over D C with B not read: look for "b" on the one unread panel.
    assert missing_label(["a", None, "d", "c"]) == (1, "b")
    assert missing_label([None, "b", "d", "c"]) == (0, "a")
    # Two unread panels, two letters missing, or nothing missing below the last letter: no guess
    # (one misread letter would send the look after the others on the wrong panels).
    assert missing_label(["a", None, None, "c"]) is None
    assert missing_label(["a", None, "e", "c", "f"]) is None
    assert missing_label(["a", "b", "c", None]) is None
    assert missing_label([None, None]) is None
