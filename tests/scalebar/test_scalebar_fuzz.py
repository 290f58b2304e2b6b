"""Fuzzing the scalebar label parser: any text gives None or a (value, unit) in range, never an error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from imagedataextractor.scalebar.parse import NM_PER_UNIT, parse_label

# OCR output: digits, the letters and signs Tesseract produces around scalebars, any other text
OCR_ALPHABET = st.sampled_from(list("0123456789 .,OolI|numµμpjywvhrm") + ["rn", "um", "nm", "mm", "\u00a0", "\n"])
OCR_TEXT = st.one_of(st.text(max_size=40), st.lists(OCR_ALPHABET, max_size=20).map("".join))


@settings(max_examples=400)
@given(OCR_TEXT, st.booleans())
def test_any_text_parses_to_none_or_a_value_in_range(text, guess):
    parsed = parse_label(text, guess=guess)
    if parsed is not None:
        value, unit = parsed
        assert 0 < value <= 1e5 and unit in NM_PER_UNIT


@settings(max_examples=200)
@given(st.integers(1, 99_999), st.sampled_from(["nm", "um", "μm", "µm", "mm"]), st.sampled_from(["", " ", "  "]),
       st.text(alphabet=" ()=:", max_size=3), st.text(alphabet=" ()", max_size=3))
def test_a_written_label_reads_back(value, unit, space, before, after):
    assert parse_label(f"{before}{value}{space}{unit}{after}") == (float(value), {"μm": "um", "µm": "um"}.get(unit, unit))
