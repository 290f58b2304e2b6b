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
from typing import TYPE_CHECKING

from ..errors import DocumentError
from ..doi import MAX_NAME_BYTES, DoiError, dirname_to_doi, doi_to_dirname, normalise_doi, safe_filename

ARTICLE_STEM = "article"
ARTICLE_SUFFIXES = (".xml", ".html")
FIGURES_DIR = "figures"
PROVENANCE_FILE = "provenance.json"
#: File name endings read as article files in a directory (besides the corpus layout's article.*).
ARTICLE_FILE_SUFFIXES = (*ARTICLE_SUFFIXES, ".htm")

if TYPE_CHECKING:
    from .types import Figure

__all__ = [
    "ARTICLE_FILE_SUFFIXES", "ARTICLE_STEM", "ARTICLE_SUFFIXES", "FIGURES_DIR", "MAX_NAME_BYTES", "PROVENANCE_FILE", "DoiError", "article_dir", "article_file",
    "dirname_to_doi", "doi_to_dirname", "figure_file", "figure_image", "find_articles", "is_article_source", "iter_articles", "normalise_doi", "safe_filename",
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


def is_article_source(path: str | Path) -> bool:
    """True for an article file (.xml, .html, .htm), an article directory of a corpus, or a
    directory holding either; False for image files and folders of images."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() in ARTICLE_FILE_SUFFIXES
    return path.is_dir() and bool(find_articles(path))


def find_articles(path: str | Path) -> list[Path]:
    """The article files of ``path``: the file itself; an article directory's ``article.*``; or,
    for any other directory, the articles of the corpus laid out in it by DOI followed by the
    article files lying in it directly (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DocumentError(f"{path}: no such file or directory")
    own = article_file(path)
    if own is not None:
        return [own]
    in_corpus = [file for _doi, file in iter_articles(path)]
    loose = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in ARTICLE_FILE_SUFFIXES)
    return in_corpus + loose


def figure_image(figure: Figure, article_path: Path | None) -> Path | None:
    """The figure's image file: the corpus layout's ``figures/<locator>.*``, else the figure's
    href when it names a file next to the article (publisher HTML saved with its images)."""
    if figure.image_path is not None:
        return figure.image_path
    if article_path is None or not figure.href or "://" in figure.href:
        return None
    candidate = (article_path.parent / figure.href).resolve()
    folder = article_path.parent.resolve()
    return candidate if candidate.is_file() and folder in candidate.parents else None
