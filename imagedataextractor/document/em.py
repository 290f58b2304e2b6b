"""The electron-microscopy policy of the article run: whether a figure's caption settles that the
figure shows electron micrographs ("em"), that it does not ("other"), or leaves it to the image
("uncertain").

A caption naming electron microscopy (:func:`~imagedataextractor.document.analyse_caption`) makes
the figure EM. A caption naming other content (XRD patterns, spectra, isotherms, photographs,
plots: :data:`OTHER_CONTENT`) makes it not EM without looking at the image. Any other caption
(empty, "Morphology of the product") is uncertain: the figure is split and counts as EM when a
panel looks like a micrograph.
"""

from __future__ import annotations

import re
from typing import Literal

#: "em": the caption names electron microscopy; "other": it names other content; "uncertain": neither.
CaptionVerdict = Literal["em", "other", "uncertain"]

#: What a caption names when its figure is not electron microscopy: characterisation data, charts,
#: schemes, photographs and other microscopies. Acronyms are case-sensitive ("PL", not "pl").
OTHER_CONTENT = re.compile(
    r"\b(?:XRD|XPS|FT-?IR|IR|NMR|TGA|DSC|DLS|AFM|EDX|EDS|BET|SAXS|UV|PL|CV|EIS)\b"
    r"|\b(?i:spectr\w*|patterns?|isotherms?|plot(?:s|ted)?|curves?|graphs?|histograms?|charts?|diagrams?|schem\w*|illustrations?"
    r"|as a function of|profiles?|kinetics|photographs?|optical|fluorescen\w*|confocal|voltammo\w*|nyquist|viability"
    r"|degradation|adsorption|absorption)\b"
)


def caption_verdict(caption: str, *, is_em: bool) -> CaptionVerdict:
    """Whether a caption settles the EM question: "em" (``is_em``, from
    :func:`~imagedataextractor.document.analyse_caption`), "other" (it names non-EM content, see
    :data:`OTHER_CONTENT`), or "uncertain" (the image must decide).

    Example
    -------
    >>> caption_verdict("XRD patterns of the calcined samples.", is_em=False)
    'other'
    >>> caption_verdict("Morphology of the as-prepared powder.", is_em=False)
    'uncertain'
    """
    if is_em:
        return "em"
    return "other" if OTHER_CONTENT.search(caption) else "uncertain"
