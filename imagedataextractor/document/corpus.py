"""The corpus layout: one directory per article, named from its DOI.

::

    <corpus>/
      10.1016_j.cej.2020.125371/      <- doi_to_dirname("10.1016/j.cej.2020.125371")
        article.xml                   <- full text as the publisher sent it (or article.html)
        figures/gr1.jpg               <- one file per figure, named by its locator
        provenance.json               <- where it all came from, and the harvest status

``ide harvest`` writes this layout, and a publisher's bulk (TDM) download arranged the same way is
read the same way. The directory name of a DOI is :func:`imagedataextractor.doi.doi_to_dirname`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..doi import MAX_NAME_BYTES, DoiError, dirname_to_doi, doi_to_dirname, normalise_doi, safe_filename

ARTICLE_STEM = "article"
ARTICLE_SUFFIXES = (".xml", ".html")
FIGURES_DIR = "figures"
PROVENANCE_FILE = "provenance.json"

__all__ = [
    "ARTICLE_STEM", "ARTICLE_SUFFIXES", "FIGURES_DIR", "MAX_NAME_BYTES", "PROVENANCE_FILE", "DoiError", "article_dir", "article_file",
    "dirname_to_doi", "doi_to_dirname", "figure_file", "iter_articles", "normalise_doi", "safe_filename",
]


def article_dir(corpus: str | Path, doi: str) -> Path:
    """The directory of ``doi`` inside ``corpus`` (not created)."""
    return Path(corpus) / doi_to_dirname(doi)


def article_file(directory: Path) -> Path | None:
    """The article file in an article directory, or None."""
    return next((p for s in ARTICLE_SUFFIXES if (p := directory / f"{ARTICLE_STEM}{s}").is_file()), None)


def figure_file(directory: Path, locator: str) -> Path | None:
    """The image file of the figure ``locator`` in an article directory, or None."""
    figures = directory / FIGURES_DIR
    if not figures.is_dir():
        return None
    stem = safe_filename(locator)  # only [A-Za-z0-9.%-]: nothing a glob pattern would interpret
    return next((p for p in sorted(figures.glob(f"{stem}.*")) if p.stem == stem), None)


def iter_articles(corpus: str | Path) -> Iterator[tuple[str, Path]]:
    """(DOI, article file) for every article directory of ``corpus``; other entries are ignored."""
    for directory in sorted(Path(corpus).iterdir()):
        path = article_file(directory) if directory.is_dir() else None
        if path is not None:
            try:
                yield dirname_to_doi(directory.name), path
            except DoiError:
                continue
