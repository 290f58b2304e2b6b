"""read_scalebar on scalebars drawn in several styles, on images without a bar, with unreadable
labels, and on real EMPS panels; scalebar_mask; input validation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from imagedataextractor.errors import ImageError
from imagedataextractor.imageio import read_image
from imagedataextractor.scalebar import Scalebar, ScalebarConfig, read_scalebar, scalebar_mask
from imagedataextractor.synth import ScalebarStyle, draw_scalebar, font_paths

REPO = Path(__file__).resolve().parents[2]
FONTS = font_paths()
SANS = next((f for f in FONTS if f and f.endswith("DejaVuSans.ttf")), None)
SERIF_BOLD = next((f for f in FONTS if f and f.endswith("DejaVuSerif-Bold.ttf")), SANS)
MICRO = "µm" if SANS else "um"  # Pillow's own font has no micro sign


def micrograph(seed: int = 0, shape: tuple[int, int] = (360, 480), *, level: float = 120.0) -> np.ndarray:
    """A stand-in micrograph: noisy grey background with a few darker discs."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    image = np.full(shape, level) + rng.normal(0, 12, shape)
    for _ in range(6):
        cy, cx, r = rng.integers(40, h - 40), rng.integers(40, w - 40), rng.integers(15, 35)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] -= 50
    return np.repeat(np.clip(image, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


STYLES = {
    "white rectangle, label above": (ScalebarStyle("white", "rectangle", 6, 0, "above", SANS, 22), "500 nm", 500, "nm", 140),
    "black line with ticks, label below, boxed": (
        ScalebarStyle("black", "ticks", 2, 12, "below", SANS, 20, box_padding_px=6),
        f"2 {MICRO}",
        2,
        "um",
        110,
    ),
    "black rectangle in white box, serif bold": (
        ScalebarStyle("black", "rectangle", 8, 0, "above", SERIF_BOLD, 24, box_padding_px=8, corner="bottom-left"),
        "100 nm",
        100,
        "nm",
        96,
    ),
    "thin white line, label right": (ScalebarStyle("white", "line", 2, 0, "right", SANS, 20), "1 mm", 1, "mm", 120),
    "white rectangle, decimal label left": (ScalebarStyle("white", "rectangle", 5, 0, "left", SANS, 22), f"0.5 {MICRO}", 0.5, "um", 80),
}


@pytest.mark.parametrize(("text", "value", "unit"), [("50 mm", 50, "nm"), ("1 mm", 1, "mm")])
def test_millimetres_wider_than_any_micrograph_are_nanometres(text: str, value: float, unit: str) -> None:
    """OCR reads "nm" as "mm" (one arch more): 50 mm over a 120-px bar would make a 480-px image
    20 cm wide, so the label is taken in nm; 1 mm (a 4 mm field, low-magnification SEM) stays."""
    style = ScalebarStyle("white", "rectangle", 6, 0, "above", SANS, 22)
    image, _ = draw_scalebar(micrograph(2), text=text, value=50, unit="mm", length_px=120, style=style)
    found = read_scalebar(image)
    assert (found.value, found.unit) == (value, unit)
    assert found.nm_per_px == pytest.approx(value * {"nm": 1, "mm": 1e6}[unit] / found.length_px)


@pytest.mark.parametrize("name", list(STYLES))
def test_reads_drawn_scalebars(name: str) -> None:
    style, text, value, unit, length = STYLES[name]
    image, truth = draw_scalebar(micrograph(1), text=text, value=value, unit=unit, length_px=length, style=style)
    result = read_scalebar(image)
    assert (result.value, result.unit) == (value, unit), result
    assert result.length_px == pytest.approx(length, rel=0.02)
    assert result.nm_per_px == pytest.approx(truth.nm_per_px, rel=0.02)
    assert result.conversion == pytest.approx(truth.nm_per_px * 1e-9, rel=0.02)


def test_boxes_cover_bar_label_and_box() -> None:
    style, text, value, unit, length = STYLES["black rectangle in white box, serif bold"]
    image, truth = draw_scalebar(micrograph(2), text=text, value=value, unit=unit, length_px=length, style=style)
    result = read_scalebar(image)
    assert result.box_bbox is not None and truth.box_bbox is not None
    assert all(abs(a - b) <= 2 for a, b in zip(result.box_bbox, truth.box_bbox))
    mask = scalebar_mask(image.shape, result)
    x0, y0, x1, y1 = truth.box_bbox
    assert mask[y0:y1, x0:x1].all()
    assert mask.sum() < 1.2 * (x1 - x0 + 4) * (y1 - y0 + 4)  # the box and a margin, nothing more


def test_mask_of_unboxed_bar_covers_bar_and_label() -> None:
    style, text, value, unit, length = STYLES["white rectangle, label above"]
    image, truth = draw_scalebar(micrograph(3), text=text, value=value, unit=unit, length_px=length, style=style)
    result = read_scalebar(image)
    assert result.box_bbox is None
    mask = scalebar_mask(image.shape, result, margin_px=2)
    for x0, y0, x1, y1 in (truth.bar_bbox, truth.text_bbox):
        assert mask[y0:y1, x0:x1].all()
    assert not mask[:100].any()


def test_no_bar_gives_all_none() -> None:
    result = read_scalebar(micrograph(4))
    assert result == Scalebar()
    assert not result.found and result.conversion is None
    assert not scalebar_mask((360, 480), result).any()


def test_unreadable_label_keeps_the_bar() -> None:
    style = ScalebarStyle("white", "rectangle", 6, 0, "above", SANS, 22)
    image, truth = draw_scalebar(micrograph(5), text="#%&?", value=1, unit="nm", length_px=150, style=style)
    result = read_scalebar(image)
    assert result.length_px == pytest.approx(150, rel=0.02)
    assert result.value is None and result.unit is None and result.nm_per_px is None
    assert result.found and result.bar_bbox is not None
    unlabelled = read_scalebar(image, config=ScalebarConfig(keep_unlabelled=False))
    assert unlabelled == Scalebar()


def test_accepts_greyscale_and_float_images() -> None:
    style, text, value, unit, length = STYLES["white rectangle, label above"]
    image, _ = draw_scalebar(micrograph(6), text=text, value=value, unit=unit, length_px=length, style=style)
    grey = read_scalebar(image[:, :, 0])
    floats = read_scalebar(image[:, :, 0].astype(np.float64) / 255.0)
    assert (grey.value, grey.unit) == (floats.value, floats.unit) == (value, unit)


@pytest.mark.parametrize("bad", [np.zeros((5, 5), np.uint8), np.zeros((50, 50, 2), np.uint8), np.zeros((2, 50, 50, 3))])
def test_bad_arrays_raise_image_error(bad: np.ndarray) -> None:
    with pytest.raises(ImageError, match="image"):
        read_scalebar(bad)


def _labels() -> dict[str, dict[str, str]]:
    with (REPO / "corpus" / "scalebar" / "real_labels.csv").open(newline="") as f:
        return {row["filename"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("filename", ["1cb46bfdd5.png", "1d67fb3321.png", "2242820128.png", "2bc87a8698.png"])
def test_real_panels(data_dir: Path, filename: str) -> None:
    truth = _labels()[filename]
    result = read_scalebar(read_image(data_dir / "scalebar" / filename))
    assert (result.value, result.unit) == (float(truth["value"]), truth["unit"])
    assert result.length_px == pytest.approx(float(truth["bar_length_px"]), rel=0.02)


@pytest.mark.slow
@pytest.mark.emps
def test_labelled_real_set(emps_dir: Path) -> None:
    """The whole labelled set: at least 90 % of values and units right, lengths within 2 %."""
    rows = list(_labels().values())
    right = lengths_ok = 0
    for row in rows:
        result = read_scalebar(read_image(emps_dir / "images" / row["filename"]))
        if (result.value, result.unit) == (float(row["value"]), row["unit"]):
            right += 1
            lengths_ok += abs(result.length_px - float(row["bar_length_px"])) <= 0.02 * float(row["bar_length_px"])
    assert right >= 0.9 * len(rows)
    assert lengths_ok >= 0.95 * right


def test_docstring_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    import doctest

    from imagedataextractor.scalebar import parse, read

    monkeypatch.chdir(REPO)
    for module in (parse, read):
        assert doctest.testmod(module).failed == 0
