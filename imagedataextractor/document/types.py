"""What the DOCUMENT stage returns: an article with its figures, captions and EM decisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EMDecision:
    """Whether a figure shows electron micrographs, judged from its caption.

    microscopy: canonical technique names in order of first mention ("SEM", "FESEM", "TEM", "HRTEM",
        "STEM", "HAADF-STEM", "cryo-TEM", "ESEM", or "EM" for an electron micrograph of unnamed
        kind). materials: the materials the caption names, as formulas or element symbols ("Au",
        "TiO2", "Fe3O4"), in order of first mention.
    """

    is_em: bool
    microscopy: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    """A span of caption text that was recognised: what it was read as, and where (character offsets)."""

    text: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class CaptionAnalysis:
    """Everything :func:`analyse_caption` found in one caption.

    microscopy_mentions / material_mentions: the recognised spans, for explaining a decision.
    chem_ner: which chemical recogniser ran ("builtin", or "builtin+chemdataextractor").
    """

    is_em: bool
    microscopy: tuple[str, ...]
    materials: tuple[str, ...]
    microscopy_mentions: tuple[Mention, ...] = ()
    material_mentions: tuple[Mention, ...] = ()
    chem_ner: str = "builtin"

    @property
    def decision(self) -> EMDecision:
        return EMDecision(self.is_em, self.microscopy, self.materials)


@dataclass(frozen=True)
class Figure:
    """One figure of an article.

    label: as printed ("Fig. 1"), or None. caption: plain text, whitespace collapsed, label removed.
    locator: the figure's name inside the article (Elsevier ``ce:link/@locator`` such as "gr1", JATS
        ``fig/@id``, HTML figure id); also the stem of its file in a corpus directory.
    href: where the image is, as the article gives it (absolute URL, or a reference relative to the
        article), the best resolution first; alt_hrefs: lower-resolution alternatives.
    image_path: the local image file when the article sits in a corpus directory that holds it.
    """

    label: str | None
    caption: str
    locator: str
    href: str | None
    em: EMDecision
    alt_hrefs: tuple[str, ...] = ()
    image_path: Path | None = None


#: Why an article gives no figures: the file has none, or the publisher sent metadata only.
NO_FIGURES = "the article has no figures"
METADATA_ONLY = "the publisher sent metadata only: not entitled to the full text (check the key, or the institution token)"


@dataclass(frozen=True)
class Article:
    """A parsed article. format: the reader that parsed it ("elsevier-xml", "jats", "html").
    full_text: False when the file is the metadata a publisher sends in place of an article the
    key is not entitled to (its figures are then unknown, not absent)."""

    doi: str | None
    title: str | None
    journal: str | None
    publisher: str | None
    licence: str | None
    figures: tuple[Figure, ...]
    format: str
    path: Path | None = None
    full_text: bool = True

    @property
    def no_figures_reason(self) -> str:
        """Why :attr:`figures` is empty: :data:`METADATA_ONLY` or :data:`NO_FIGURES`."""
        return NO_FIGURES if self.full_text else METADATA_ONLY

    @property
    def em_figures(self) -> tuple[Figure, ...]:
        return tuple(f for f in self.figures if f.em.is_em)
