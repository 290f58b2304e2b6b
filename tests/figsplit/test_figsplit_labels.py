"""Which label readings are accepted: real labels are read, micrograph texture is not taken for one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagedataextractor.figsplit import SplitConfig, split_figure
from imagedataextractor.figsplit.labels import (
    _STROKE_MIN_CONFIDENCE,
    _UNIFORM_CNR,
    _accepted,
    _backdrop,
    _label_sized,
    label_mask,
    read_corner_labels,
)
from imagedataextractor.imageio import read_image

# EMPS figures as the demo corpus serves them (high-resolution JPEGs).
OBJECTS = Path(__file__).resolve().parents[2] / "corpus" / "demo" / "elsevier" / "object"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("1-s2.0-S1015504212067943-gr6_lrg.jpg", "b"),  # large white "b" on a flat grey patch
        ("1-s2.0-S6933818094249326-gr5_lrg.jpg", "c"),  # white "(c)" on a grainy background, top right
        ("1-s2.0-S6933818094249326-gr1_lrg.jpg", None),  # no label; its mesoporous texture once read as "l"
    ],
)
def test_real_figures(name: str, label: str | None) -> None:
    panels = split_figure(read_image(OBJECTS / name))
    assert [panel.label for panel in panels] == [label]


def test_readings_on_texture_need_a_higher_confidence() -> None:
    config = SplitConfig()
    uniform, cluttered = _UNIFORM_CNR + 1.0, _UNIFORM_CNR - 1.0
    assert _accepted("b", 40.0, uniform, config)
    assert not _accepted("b", 40.0, cluttered, config)
    assert _accepted("b", 85.0, cluttered, config)
    assert not _accepted("b", config.label_min_confidence - 1.0, uniform, config)


@pytest.mark.parametrize("letter", ["i", "j", "l"])
def test_a_lone_stroke_is_a_letter_only_on_a_uniform_patch_with_a_high_confidence(letter: str) -> None:
    config = SplitConfig()
    assert _accepted(letter, _STROKE_MIN_CONFIDENCE, _UNIFORM_CNR, config)
    assert not _accepted(letter, _STROKE_MIN_CONFIDENCE - 5.0, _UNIFORM_CNR + 10.0, config)
    assert not _accepted(letter, 99.0, _UNIFORM_CNR - 0.5, config)


DEMO = Path(__file__).resolve().parents[2] / "examples" / "figure-demo.png"


@pytest.mark.parametrize(("bbox", "letters"), [((0, 0, 750, 512), ["a", "d"]), ((766, 0, 1448, 512), ["b", "d"])])
def test_every_label_printed_in_a_micrograph_is_found(bbox: tuple[int, int, int, int], letters: list[str]) -> None:
    # The demo figure's own labels ("a", "b") and the source articles' ("(d)" white on the
    # micrograph, "d" black in a white box) sit in the same corner.
    x0, y0, x1, y1 = bbox
    readings = read_corner_labels(read_image(DEMO)[y0:y1, x0:x1])
    assert sorted(reading.label for reading in readings) == letters
    assert all(reading.corner == "top-left" and reading.bbox[2] < 150 and reading.bbox[3] < 120 for reading in readings)


def test_the_label_mask_covers_the_glyphs_brackets_and_the_box_behind_them() -> None:
    figure = read_image(DEMO)
    panel_a, panel_b = figure[:, :750], figure[:, 766:]
    mask_a = label_mask(panel_a, read_corner_labels(panel_a))
    # The bracket "(" of the white "(d)" (x 20-45, y 30-110) is not among the glyphs read, but masked.
    assert mask_a[40:100, 25:40].all() and mask_a[40:100, 60:130].all()
    # The white box behind the panel's own label "a" (x 0-40, y 0-44), to its edges.
    assert mask_a[0:44, 0:40].all()
    assert mask_a.mean() < 0.08  # the micrograph itself stays (the "(d)" is 85 px tall)
    mask_b = label_mask(panel_b, read_corner_labels(panel_b))
    assert mask_b[10:105, 30:105].all()  # the white box of "d"
    assert not mask_b[200:, 200:].any()


def test_a_backdrop_is_a_box_only_when_it_ends_near_the_label() -> None:
    rng = np.random.default_rng(0)
    texture = rng.normal(110, 25, (200, 300)).clip(0, 255).astype(np.float32)
    boxed = texture.copy()
    boxed[20:80, 30:90] = 250.0
    boxed[35:65, 50:70] = 10.0  # the glyph
    assert _backdrop(boxed, (50, 35, 70, 65)) == (30, 20, 90, 80)
    assert _backdrop(texture, (50, 35, 70, 65)) is None  # textured surround: no box
    flat = np.full((200, 300), 250.0, np.float32)
    flat[35:65, 50:70] = 10.0
    assert _backdrop(flat, (50, 35, 70, 65)) is None  # uniform far beyond the label: no box


def test_letters_too_big_or_too_wide_for_a_label_are_texture() -> None:
    assert _label_sized((10, 10, 40, 50), (512, 512))  # a 40-px letter
    assert not _label_sized((10, 21, 232, 153), (512, 512))  # 132 px tall: a quarter of the image
    assert not _label_sized((518, 6, 738, 47), (512, 760))  # 220 px wide, 41 tall: not one letter


@pytest.mark.parametrize("font_name", ["DejaVuSerif-Bold.ttf", "DejaVuSans-Bold.ttf"])
def test_a_small_bold_letter_that_tesseract_reads_only_as_a_word_is_read(font_name: str) -> None:
    # An 11 pt bold "e" on a flat grey patch: Tesseract 5 reads nothing in its line (psm 7) and
    # single-character (psm 10) modes, and "e" as a word (psm 8).
    from PIL import Image, ImageDraw

    from imagedataextractor.figsplit.labels import read_panel_label
    from imagedataextractor.figsplit.synthetic import _font

    panel = Image.new("RGB", (200, 200), (160, 160, 160))
    ImageDraw.Draw(panel).text((8, 6), "e", fill=(0, 0, 0), font=_font(font_name, 11))
    reading = read_panel_label(np.asarray(panel))
    assert reading is not None and reading.label == "e"


def _plot_with_title(title: str, seed: int) -> np.ndarray:
    """A 300 x 220 px bar chart with ``title`` printed inside its frame, bold italic, 40 % in from the left."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.0, 2.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.18, 0.15, 0.78, 0.8))
    rng = np.random.default_rng(seed)
    axes.bar(np.arange(6), rng.uniform(0.1, 0.8, 6), color="0.4")
    axes.set_ylim(0, 1.2)
    axes.set_ylabel("Proportion")
    axes.text(0.4, 0.88, title, transform=axes.transAxes, fontsize=10, fontweight="bold", fontstyle="italic")
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[:, :, :3].copy()


def test_a_label_starting_a_plot_title_inside_its_frame_is_read() -> None:
    # PLOS style: "a) E. fuscoguttatus" inside the frame, far from every corner of the panel.
    gutter = np.full((220, 20, 3), 255, np.uint8)
    figure = np.concatenate([_plot_with_title("a) E. fuscoguttatus", 0), gutter, _plot_with_title("b) P. areolatus", 1)], axis=1)
    panels = split_figure(figure)
    assert [panel.label for panel in panels] == ["a", "b"]


def test_a_title_without_a_bracketed_letter_gives_no_label() -> None:
    from imagedataextractor.figsplit.labels import read_title_label

    assert read_title_label(_plot_with_title("Au NPs, 180 C", 2)) is None


def test_tick_labels_at_the_top_of_a_plot_are_no_title_label() -> None:
    # The generated single plot whose "30" tick label (a "3" and a narrow "0") once read as "c)".
    from imagedataextractor.figsplit.labels import read_title_label
    from imagedataextractor.figsplit.synthetic import make_case

    figure = make_case("single-plot", 7)
    assert read_title_label(figure.image) is None
    assert [panel.label for panel in split_figure(figure.image)] == [None]


def _flat_panel(side: int, letter: str, font_size: int) -> np.ndarray:
    """A flat grey ``side`` px square panel with a black DejaVu Sans ``letter`` near its top-left corner."""
    from PIL import Image, ImageDraw

    from imagedataextractor.figsplit.synthetic import _font

    panel = Image.new("RGB", (side, side), (160, 160, 160))
    ImageDraw.Draw(panel).text((5, 4), letter, fill=(0, 0, 0), font=_font("DejaVuSans.ttf", font_size))
    return np.asarray(panel)


def test_a_small_panel_is_read_again_scaled_up() -> None:
    # A 9 pt "e" is 5 px tall, under the smallest glyph height: a small panel (a downscaled
    # figure's) is read a second time at twice its size; a large one, where labels are larger, is not.
    from imagedataextractor.figsplit.labels import _SMALL_PANEL_SIDE, read_panel_label

    small = _flat_panel(_SMALL_PANEL_SIDE - 28, "e", 9)
    reading = read_panel_label(small)
    assert reading is not None and reading.label == "e"
    x0, y0, x1, y1 = reading.bbox  # in the panel's own pixels, not the scaled-up copy's
    assert 3 <= x0 < x1 <= 14 and 3 <= y0 < y1 <= 16
    assert read_panel_label(_flat_panel(2 * _SMALL_PANEL_SIDE, "e", 9)) is None


def test_a_panel_edge_of_paper_with_a_label_touching_it_is_grown_into_the_gutter() -> None:
    # A plot trimmed to its content starts at its label's top row: that row is mostly paper (here
    # 60 % of it), so the box is grown into the white gutter above and the label is clear of the crop's edge.
    from imagedataextractor.figsplit.split import _LABEL_MARGIN_PX, _label_box

    grey = np.full((120, 100), 255.0)
    grey[20:, 40:] = 240.0  # the plot's light axes background
    grey[20:28, 10:18] = 0.0  # the label, touching the box's top row
    box = (5, 20, 95, 115)
    assert _label_box(grey, box, SplitConfig())[1] == box[1] - _LABEL_MARGIN_PX
    # A micrograph's noisy edge is not grown (its own labels keep a margin from it).
    grey[20:, :] = np.random.default_rng(0).uniform(60, 200, (100, 100))
    assert _label_box(grey, box, SplitConfig())[1] == box[1]


def _scatter_with_ticks(tick_size: int) -> np.ndarray:
    """A 400 x 350 px scatter plot with y tick labels "0.0" .. "3.0", the top one near the top-left corner."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.0, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.1, 0.1, 0.85, 0.85))
    rng = np.random.default_rng(0)
    axes.scatter(rng.uniform(0, 3, 30), rng.uniform(0, 3, 30), color="0.3", s=8)
    axes.set_ylim(0, 3)
    axes.set_yticks([0, 1, 2, 3])
    axes.set_yticklabels(["0.0", "1.0", "2.0", "3.0"], fontsize=tick_size)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[:, :, :3].copy()


@pytest.mark.parametrize("tick_size", [10, 11])
def test_a_tick_label_is_no_panel_label(tick_size: int) -> None:
    # Read among letters alone, the "3" of "3.0" was "a" (10 pt) and its "0" "O" (11 pt); read
    # with digits allowed too, they are numbers.
    from imagedataextractor.figsplit.labels import read_panel_label

    plot = _scatter_with_ticks(tick_size)
    assert read_panel_label(plot) is None
    assert [panel.label for panel in split_figure(plot)] == [None]


def test_a_thin_lone_stroke_is_only_a_stroke_letter() -> None:
    # A plot's frame line (2 x 37 px, figsplit-dev fig_05) read as "F" at 69; a bracket and a
    # letter, or a letter as narrow as an "f", are not thin strokes.
    from imagedataextractor.figsplit.labels import _Glyph, _is_thin_stroke

    assert _is_thin_stroke([_Glyph(1, (7, 10, 9, 47), 0.0)])
    assert not _is_thin_stroke([_Glyph(1, (7, 10, 17, 30), 0.0)])
    assert not _is_thin_stroke([_Glyph(1, (7, 10, 9, 30), 0.0), _Glyph(2, (10, 10, 20, 30), 0.0)])


def test_a_white_letter_touching_bright_texture_is_read_on_a_second_look() -> None:
    # A white "e" on dark ground whose right side touches a bright crystal edge: at the fixed light
    # level both are one blob; nearer white they part, and the patch keeps only the ink next to the
    # letter (Otsu's level, between the dark ground and the edge, joined them again).
    from PIL import Image, ImageDraw

    from imagedataextractor.figsplit.labels import read_expected_label, read_panel_label
    from imagedataextractor.figsplit.synthetic import _font

    panel = Image.new("L", (200, 200), 60)
    draw = ImageDraw.Draw(panel)
    draw.polygon([(14, 200), (14, 14), (44, 0), (64, 200)], fill=200)
    draw.text((6, 4), "e", fill=255, font=_font("DejaVuSerif-Bold.ttf", 14))
    rgb = np.asarray(panel.convert("RGB"))
    assert read_panel_label(rgb) is None
    reading = read_expected_label(rgb, {"e"})
    assert reading is not None and reading.label == "e"
    assert read_expected_label(rgb, {"c"}) is None


def test_a_title_label_on_a_second_look_is_only_the_expected_letter() -> None:
    from imagedataextractor.figsplit.labels import read_title_label

    plot = _plot_with_title("b) P. areolatus", 1)
    reading = read_title_label(plot, letters={"b"})
    assert reading is not None and reading.label == "b" and reading.corner == "title"
    assert read_title_label(plot, letters={"c", "d"}) is None
