"""Scalebar label text -> (value, unit). Pure Python: no OpenCV, no numpy.

OCR of small scalebar labels is noisy, so parsing forgives the ways Tesseract actually errs:
the micro sign read as ``u``, ``p``, ``j``, ``y`` or ``w``, or dropped altogether (``5 m`` on a
micrograph is 5 µm, never 5 metres), ``h`` for ``n``, ``rn`` for ``m``, ``O``/``l``/``I`` for
digits (``lOO nm``, ``lum``), a decimal comma, and a dropped decimal point after a leading zero
(``05 um`` is 0.5 µm).
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import SettingsError

#: Units a scalebar value can have, and nanometres per unit.
NM_PER_UNIT: dict[str, float] = {"nm": 1.0, "um": 1e3, "mm": 1e6}

# Unit spellings as OCR returns them (lower case, micro sign normalised to Greek mu): as written,
# and with the micro sign misread as a letter Tesseract confuses it with.
_UNITS = {
    "nm": "nm",
    "μm": "um",
    "um": "um",
    "mm": "mm",
    **{spelling: "um" for spelling in ("pm", "jm", "jum", "jim", "ym", "yum", "wm", "vm", "uum", "μum")},
    "hm": "nm",  # h is n with an ascender; the micro sign has a descender instead
}
# What is left of a unit when OCR dropped a letter; used only when nothing better is in the text.
_GUESSED_UNITS = {"n": "nm", "μ": "um", "u": "um", "m": "um"}

_NUMBER = r"(?<![\w,])(\d+(?:[.,]\d+)?)"
_LABEL = re.compile(_NUMBER + r"\s{0,2}([^\W\d_]{1,4})(?![^\W\d_])")
# A number right before a unit, possibly with letters that OCR puts in place of digits ("lOO nm",
# "lum"); those are mapped back to digits.
_NUMBER_BEFORE_UNIT = re.compile(r"(?<![\w.])[0-9OolI|][0-9OolI|.,]*(?=\s{0,2}(?:nm|um|μm|mm|pm)(?![^\W\d_]))", re.IGNORECASE)
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"})
_MAX_VALUE = 1e5


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)  # micro sign U+00B5 -> Greek mu U+03BC
    text = re.sub("rn", "m", text, flags=re.IGNORECASE)
    text = _NUMBER_BEFORE_UNIT.sub(lambda m: m.group(0).translate(_DIGIT_LOOKALIKES), text)
    return re.sub(r"([μu])\s+m\b", r"\1m", text.lower())


def _number(token: str) -> float | None:
    if re.fullmatch(r"[1-9]\d{0,2},\d{3}", token):  # thousands separator: "1,000"
        token = token.replace(",", "")
    token = token.replace(",", ".")
    if re.fullmatch(r"0\d+", token):  # "05" is "0.5" with the point lost
        token = "0." + token[1:]
    try:
        value = float(token)
    except ValueError:
        return None
    return value if 0 < value <= _MAX_VALUE else None


def parse_label(text: str, *, guess: bool = True) -> tuple[float, str] | None:
    """Parse a scalebar label such as ``"500 nm"``, ``"0.5 µm"``, ``"1um"`` or ``"2 mm"``.

    Returns ``(value, unit)`` with unit one of ``"nm"``, ``"um"``, ``"mm"``, or None when the text
    holds no number followed by a length unit. The micro sign may be read as a letter ("1 pm" is
    1 µm). With ``guess``, a unit that lost a letter is accepted too ("5 m" is 5 µm, "100 n" is
    100 nm), but only when no whole unit is in the text; otherwise the first whole unit wins.

    Example
    -------
    >>> parse_label("0,5 pm")
    (0.5, 'um')
    """
    guessed: tuple[float, str] | None = None
    for match in _LABEL.finditer(_normalise(text)):
        value = _number(match.group(1))
        unit_text = match.group(2)
        if value is None:
            continue
        if unit_text in _UNITS:
            return value, _UNITS[unit_text]
        if guess and guessed is None and unit_text in _GUESSED_UNITS:
            guessed = value, _GUESSED_UNITS[unit_text]
    return guessed


def nm_per_unit(unit: str) -> float:
    """Nanometres in one ``unit`` ("nm", "um" or "mm"); raises SettingsError (a ValueError) for anything else."""
    try:
        return NM_PER_UNIT[unit]
    except KeyError:
        raise SettingsError(f"unknown length unit {unit!r} (expected one of {sorted(NM_PER_UNIT)})") from None
