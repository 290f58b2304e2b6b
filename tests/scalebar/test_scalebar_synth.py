"""imagedataextractor.synth: scalebars drawn with exact truth, deterministic by seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagedataextractor.synth import (
    ScalebarStyle,
    degrade,
    draw_scalebar,
    font_paths,
    format_label,
    has_glyph,
    load_font,
    synthetic_scalebar,
)


def _background(shape: tuple[int, int] = (300, 400)) -> np.ndarray:
    return np.full((*shape, 3), 128, np.uint8)


@pytest.mark.parametrize("position", ["above", "below", "left", "right"])
@pytest.mark.parametrize("shape", ["rectangle", "line", "ticks"])
def test_truth_matches_what_is_drawn(position: str, shape: str) -> None:
    style = ScalebarStyle("white", shape, 4 if shape == "rectangle" else 2, 10 if shape == "ticks" else 0, position, None, 20)  # type: ignore[arg-type]
    image, truth = draw_scalebar(_background(), text="200 nm", value=200, unit="nm", length_px=90, style=style)
    x0, y0, x1, y1 = truth.bar_bbox
    assert x1 - x0 == truth.length_px == 90
    assert (image[y0:y1, x0:x1] == 255).all(axis=2).any(axis=0).all()  # every column of the bar is drawn
    assert (image[y0:y1, x0 - 1] == 128).all() and (image[y0:y1, x1] == 128).all()  # and no more
    tx0, ty0, tx1, ty1 = truth.text_bbox
    assert (image[ty0:ty1, tx0:tx1] != 128).any()
    assert truth.nm_per_px == pytest.approx(200 / 90)


def test_box_encloses_bar_and_text() -> None:
    style = ScalebarStyle("black", "rectangle", 5, 0, "above", None, 18, box_padding_px=6, corner="top-left", margin_px=3)
    image, truth = draw_scalebar(_background(), text="1 mm", value=1, unit="mm", length_px=60, style=style)
    bx0, by0, bx1, by1 = truth.box_bbox
    assert (bx0, by0) == (3, 3)
    assert bx0 < truth.bar_bbox[0] and truth.bar_bbox[2] < bx1 and by0 < truth.text_bbox[1] and truth.bar_bbox[3] < by1
    assert (image[by0, bx0:bx1] == 255).all()  # the box is white behind a black bar


def test_too_big_scalebar_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        draw_scalebar(_background((60, 80)), text="100 nm", value=100, unit="nm", length_px=70, style=ScalebarStyle())


def test_degrade_scales_truth() -> None:
    image, truth = draw_scalebar(_background(), text="5 nm", value=5, unit="nm", length_px=100, style=ScalebarStyle())
    small, scaled = degrade(image, truth, scale=0.5, jpeg_quality=80)
    assert small.shape == (150, 200, 3)
    assert scaled.length_px == pytest.approx(50.0)
    assert scaled.nm_per_px == pytest.approx(2 * truth.nm_per_px)


def test_shifted_moves_every_box() -> None:
    _, truth = draw_scalebar(_background(), text="5 nm", value=5, unit="nm", length_px=50, style=ScalebarStyle(box_padding_px=4))
    moved = truth.shifted(10, 20)
    for before, after in ((truth.bar_bbox, moved.bar_bbox), (truth.text_bbox, moved.text_bbox), (truth.box_bbox, moved.box_bbox)):
        assert after == (before[0] + 10, before[1] + 20, before[2] + 10, before[3] + 20)


def test_micro_sign_only_in_fonts_that_have_it() -> None:
    default = load_font(None, 20)
    assert not has_glyph(default, "µ")  # Pillow's bundled font draws a box for it
    rng = np.random.default_rng(0)
    assert all(format_label(0.5, "um", rng=rng, font=default).endswith("um") for _ in range(10))
    assert None in font_paths()


def test_synthetic_cases_are_deterministic(data_dir: Path) -> None:
    sources = sorted((data_dir / "scalebar").glob("*.png"))
    a = synthetic_scalebar(7, sources=sources)
    b = synthetic_scalebar(7, sources=sources)
    c = synthetic_scalebar(8, sources=sources)
    assert a.truth == b.truth and np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image) or a.truth != c.truth
    x0, y0, x1, y1 = a.truth.bar_bbox
    assert 0 <= x0 < x1 <= a.image.shape[1] and 0 <= y0 < y1 <= a.image.shape[0]
