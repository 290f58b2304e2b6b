"""Deciding from a caption whether a figure shows electron micrographs, of what, and by which technique."""

from __future__ import annotations

import bisect
import re
from typing import Literal

from ..errors import DocumentError
from . import chemner
from .chemistry import MATERIAL_NAMES, find_materials
from .types import CaptionAnalysis, Mention

ChemNer = Literal["auto", "builtin", "chemdataextractor"]

_ELECTRON_MICRO = r"electron[- ]micro(?:scopy|scope|graphs?|scopic)"
#: (canonical name, pattern), most specific first: a match hides later ones that overlap it, so
#: "HR-TEM" is HRTEM and not also TEM. Acronyms are case-sensitive ("stem" is a plant part).
_TECHNIQUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("HAADF-STEM", re.compile(r"\bHAADF[- ]?STEM\b")),
    ("STEM", re.compile(rf"\bSTEM\b|\b(?i:scanning transmission {_ELECTRON_MICRO})")),
    ("cryo-TEM", re.compile(rf"\b(?i:cryo-?(?:genic )?)TEM\b|\b(?i:cryo-?(?:genic )?(?:transmission )?{_ELECTRON_MICRO})")),
    ("HRTEM", re.compile(rf"\bHR-?TEM\b|\b(?i:high[- ]resolution (?:TEM\b|transmission {_ELECTRON_MICRO}))")),
    ("TEM", re.compile(rf"\bTEM\b|\b(?i:transmission {_ELECTRON_MICRO})")),
    ("FESEM", re.compile(rf"\bFE-?SEM\b|\b(?i:field[- ]emission (?:SEM\b|scanning {_ELECTRON_MICRO}))")),
    ("ESEM", re.compile(rf"\bESEM\b|\b(?i:environmental scanning {_ELECTRON_MICRO})")),
    ("SEM", re.compile(rf"\bSEM\b|\b(?i:scanning {_ELECTRON_MICRO})")),
)
#: An electron micrograph of unnamed technique: "electron micrograph", or "micrograph" alone.
_GENERIC_EM = re.compile(rf"\b(?i:{_ELECTRON_MICRO}|micrographs?)\b")
#: "micrograph" that is not electron microscopy.
_NOT_EM_BEFORE = re.compile(r"(?i:optical|light|polari[sz]ed|fluorescen\w*|confocal|POM)\W*$")
#: "mean ± SEM": the standard error of the mean, not microscopy.
_STATISTICS_BEFORE = re.compile(r"(?i:±|\+/-|\bmeans?\b|\berrors?\b|\bSD\b)[^.;]{0,12}$")
_STATISTICS_AFTER = re.compile(r"^\W{0,3}(?i:n\s*=|of\s+(?:\d+|three|four|five|six)\b)")


#: Captions are read up to this many characters. Real captions are a few thousand at most; a longer
#: one is runaway text (or hostile) and would stall a whole run, so its head decides.
MAX_CAPTION_CHARS = 50_000

#: Unicode hyphens (publishers write "FE\u2010SEM") read as "-"; one character each, so offsets hold.
_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2212": "-"})


class _Spans:
    """Disjoint character spans, sorted, so that an overlap test is a binary search (a caption with
    thousands of mentions stays linear-logarithmic, not quadratic)."""

    def __init__(self, spans: list[tuple[int, int]] = ()) -> None:  # type: ignore[assignment]
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in sorted(spans):  # overlapping ones merged
            if self._ends and start < self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start)
        # the span starting at or before ``start`` may reach past it; the next one may start before ``end``
        return (i > 0 and self._ends[i - 1] > start) or (i < len(self._starts) and self._starts[i] < end)

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_right(self._starts, start)
        self._starts.insert(i, start)
        self._ends.insert(i, end)


def find_microscopy(text: str) -> list[Mention]:
    """Microscopy techniques named in ``text``, in order of position (see :class:`EMDecision`)."""
    mentions: list[Mention] = []
    covered = _Spans()
    for name, pattern in _TECHNIQUES:
        for match in pattern.finditer(text):
            start, end = match.span()
            if covered.overlaps(start, end):
                continue
            if name == "SEM" and (_STATISTICS_BEFORE.search(text[max(0, start - 24):start]) or _STATISTICS_AFTER.match(text[end:end + 40])):
                continue
            covered.add(start, end)
            mentions.append(Mention(match.group(0), name, start, end))
    if not mentions:
        for match in _GENERIC_EM.finditer(text):
            if not _NOT_EM_BEFORE.search(text[max(0, match.start() - 24):match.start()]):
                mentions.append(Mention(match.group(0), "EM", *match.span()))
    return sorted(mentions, key=lambda m: m.start)


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _chemdataextractor_extra(text: str, builtin: list[Mention]) -> list[Mention]:
    """ChemDataExtractor's mentions that the built-in recogniser missed, normalised where we can."""
    extra = []
    found = _Spans([(m.start, m.end) for m in builtin])
    for mention in chemner.chemdataextractor_mentions(text):
        if found.overlaps(mention.start, mention.end):
            continue
        extra.append(Mention(mention.text, MATERIAL_NAMES.get(mention.text.lower(), mention.text), mention.start, mention.end))
    return extra


def analyse_caption(text: str, *, chem_ner: ChemNer = "auto") -> CaptionAnalysis:
    """Read a figure caption: is it electron microscopy, which technique(s), which materials.

    ``chem_ner``: "builtin" uses the formula and name recogniser of :mod:`.chemistry`;
    "chemdataextractor" adds ChemDataExtractor's chemical recogniser (raises :class:`DocumentError`
    when it is not usable); "auto" adds it when it is installed and usable, else builtin only.

    Example
    -------
    >>> a = analyse_caption("TEM images of Au nanorods (a) and ZnO nanoparticles (b).")
    >>> a.is_em, a.microscopy, a.materials
    (True, ('TEM',), ('Au', 'ZnO'))

    Only the first :data:`MAX_CAPTION_CHARS` characters are read (offsets refer to them); the work
    is linear in that length.
    """
    text = text[:MAX_CAPTION_CHARS].translate(_HYPHENS)
    microscopy = find_microscopy(text)
    materials = find_materials(text)
    used = "builtin"
    if chem_ner == "chemdataextractor" and not chemner.chemdataextractor_usable():
        raise DocumentError("chem_ner='chemdataextractor': ChemDataExtractor is not installed or not usable (see the log)")
    if chem_ner != "builtin" and chemner.chemdataextractor_usable():
        materials = sorted(materials + _chemdataextractor_extra(text, materials), key=lambda m: m.start)
        used = "builtin+chemdataextractor"
    return CaptionAnalysis(
        is_em=bool(microscopy),
        microscopy=_unique([m.value for m in microscopy]),
        materials=_unique([m.value for m in materials]),
        microscopy_mentions=tuple(microscopy),
        material_mentions=tuple(materials),
        chem_ner=used,
    )
