"""parse_label: label text (as written, and as Tesseract misreads it) -> (value, unit)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from imagedataextractor.scalebar.parse import nm_per_unit, parse_label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500 nm", (500.0, "nm")),
        ("200nm", (200.0, "nm")),
        ("50 NM", (50.0, "nm")),
        ("1um", (1.0, "um")),
        ("0.5 µm", (0.5, "um")),  # micro sign U+00B5
        ("0.5 μm", (0.5, "um")),  # Greek mu U+03BC
        ("2 um", (2.0, "um")),
        ("1 mm", (1.0, "mm")),
        ("10.0µm", (10.0, "um")),
        ("2.0 μm", (2.0, "um")),
        ("1 µ m", (1.0, "um")),
        ("0,5 µm", (0.5, "um")),  # decimal comma
        ("1,000 nm", (1000.0, "nm")),  # thousands separator
        ("~200 nm~", (200.0, "nm")),
        ("20 nm.", (20.0, "nm")),
    ],
)
def test_labels_as_written(text: str, expected: tuple[float, str]) -> None:
    assert parse_label(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 pm", (1.0, "um")),  # µ read as p
        ("0.5 pm", (0.5, "um")),
        ("2 jum", (2.0, "um")),
        ("1 jim", (1.0, "um")),
        ("3 ym", (3.0, "um")),
        ("5 m", (5.0, "um")),  # µ dropped: a micrograph is never 5 metres across
        ("100 n", (100.0, "nm")),  # m dropped
        ("100 nrn", (100.0, "nm")),  # rn for m
        ("1OO nm", (100.0, "nm")),  # O for 0
        ("l00nm", (100.0, "nm")),  # l for 1
        ("05 um", (0.5, "um")),  # decimal point lost after a leading zero
        (".1um", (1.0, "um")),  # speck before the number
        ("x 100,000 15.0kV SEI 100nm", (100.0, "nm")),  # SEM data bar: kV is not a length
    ],
)
def test_ocr_confusions(text: str, expected: tuple[float, str]) -> None:
    assert parse_label(text) == expected


@pytest.mark.parametrize("text", ["", "200", "abc", "15 kV", "x50,000", "0 nm", "5 cm", "nm 100"])
def test_no_label(text: str) -> None:
    assert parse_label(text) is None


def test_whole_unit_beats_guess() -> None:
    assert parse_label("5 m 200 nm") == (200.0, "nm")
    assert parse_label("5 m", guess=False) is None
    assert parse_label("1 pm", guess=False) == (1.0, "um")


def test_nm_per_unit() -> None:
    assert (nm_per_unit("nm"), nm_per_unit("um"), nm_per_unit("mm")) == (1.0, 1e3, 1e6)
    with pytest.raises(ValueError, match="unknown length unit"):
        nm_per_unit("km")


def test_parse_imports_no_opencv() -> None:
    code = "import sys, imagedataextractor.scalebar.parse; print('cv2' in sys.modules or 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
