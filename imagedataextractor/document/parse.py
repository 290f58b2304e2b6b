"""DOCUMENT stage: an article file (Elsevier XML, JATS, publisher HTML) -> :class:`Article`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import DocumentError
from .captions import ChemNer, analyse_caption
from .corpus import DoiError, figure_file, iter_articles, normalise_doi
from .readers import reader_for
from .types import Article, Figure
from .xml import looks_like_html, parse_html, parse_xml

log = logging.getLogger(__name__)


def _doi_or_none(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return normalise_doi(text)
    except DoiError:
        return None


def parse_article_bytes(
    data: bytes, *, name: str = "<bytes>", directory: Path | None = None, chem_ner: ChemNer = "auto"
) -> Article:
    """Parse an article held in memory. ``directory``: an article directory of a corpus, where the
    figure files are looked up (``figures/<locator>.*``); ``name`` appears in error messages.

    Raises :class:`DocumentError` for malformed or unsafe XML and for unknown formats.
    """
    root = parse_html(data, name=name) if looks_like_html(data) else parse_xml(data, name=name)
    reader = reader_for(root, name=name)
    raw = reader.parse(root)
    figures = tuple(
        Figure(
            label=f.label,
            caption=f.caption,
            locator=f.locator,
            href=f.href,
            alt_hrefs=f.alt_hrefs,
            em=analyse_caption(f.caption, chem_ner=chem_ner).decision,
            image_path=figure_file(directory, f.locator) if directory is not None else None,
        )
        for f in raw.figures
    )
    return Article(
        doi=_doi_or_none(raw.doi),
        title=raw.title,
        journal=raw.journal,
        publisher=raw.publisher,
        licence=raw.licence,
        figures=figures,
        format=reader.FORMAT,
        full_text=raw.full_text,
    )


def parse_article(path: str | Path, *, chem_ner: ChemNer = "auto") -> Article:
    """Parse an article file into its figures, each with caption, image reference and EM decision.

    Figure files are looked up next to the article, in ``figures/`` (the corpus layout of
    :mod:`imagedataextractor.document.corpus`); ``Figure.image_path`` is None where there is none.

    Example
    -------
    >>> article = parse_article("corpus/10.1016_j.cej.2020.125371/article.xml")  # doctest: +SKIP
    >>> [(f.locator, f.em.microscopy, f.em.materials) for f in article.em_figures]  # doctest: +SKIP
    [('gr1', ('SEM', 'TEM'), ('TiO2',))]
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read ({exc.strerror or exc})") from None
    article = parse_article_bytes(data, name=str(path), directory=path.parent, chem_ner=chem_ner)
    return replace(article, path=path)


@dataclass(frozen=True)
class CorpusReading:
    """The articles of a corpus directory, and (directory, reason) for those that could not be read."""

    articles: tuple[Article, ...]
    failures: tuple[tuple[Path, str], ...]


def read_corpus(corpus: str | Path, *, chem_ner: ChemNer = "auto") -> CorpusReading:
    """Parse every article of a corpus directory (the layout ``ide harvest`` writes). An article
    that cannot be parsed is listed in ``failures`` and the rest are still read; an article whose
    file gives no DOI takes the one its directory name stands for."""
    articles, failures = [], []
    for doi, path in iter_articles(corpus):
        try:
            article = parse_article(path, chem_ner=chem_ner)
        except DocumentError as exc:
            log.warning("%s", exc)
            failures.append((path.parent, str(exc)))
            continue
        articles.append(article if article.doi else replace(article, doi=doi))
    return CorpusReading(tuple(articles), tuple(failures))
