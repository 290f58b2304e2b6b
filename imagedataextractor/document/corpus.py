"""The corpus layout: one directory per article, named from its DOI.

::

    <corpus>/
      10.1016_j.cej.2020.125371/      <- doi_to_dirname("10.1016/j.cej.2020.125371")
        article.xml                   <- full text as the publisher sent it (or article.html)
        figures/gr1.jpg               <- one file per figure, named by its locator
        provenance.json               <- where it all came from, and the harvest status

``ide harvest`` writes this layout, and a publisher's bulk (TDM) download arranged the same way is
read the same way. DOI -> directory name: the DOI is lower-cased (DOIs are case-insensitive),
every character other than ``a-z 0-9 . -`` is percent-escaped as UTF-8 bytes (so ``_``
becomes ``%5F`` and ``%`` becomes ``%25``), a leading "." is escaped, and then "/" is written "_".
The mapping is reversible (:func:`dirname_to_doi`) and a name never contains "/" nor is "." or
"..", so no DOI (``10.1234/../../etc``) can name a path outside the corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from ..errors import IDEError

ARTICLE_STEM = "article"
ARTICLE_SUFFIXES = (".xml", ".html")
FIGURES_DIR = "figures"
PROVENANCE_FILE = "provenance.json"
#: Longest directory or file name written (bytes); most file systems allow 255.
MAX_NAME_BYTES = 240

_DOI_RE = re.compile(r"^10\.\d{4,9}(?:\.\d+)*/\S+$")
_DOI_PREFIXES = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/|info:doi/)", re.IGNORECASE)
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


class DoiError(IDEError):
    """A string is not a DOI, or cannot be stored under one."""


def normalise_doi(text: str) -> str:
    """The DOI in ``text``, lower-cased, without a "doi:" or "https://doi.org/" prefix.

    Raises :class:`DoiError` when ``text`` is not a DOI ("10.<registrant>/<suffix>").
    """
    doi = text.strip()
    if _DOI_PREFIXES.match(doi):
        doi = unquote(_DOI_PREFIXES.sub("", doi))
    doi = doi.lower()
    if not _DOI_RE.match(doi) or any(ord(c) < 32 for c in doi):
        raise DoiError(f"{text.strip()!r}: not a DOI (expected 10.<registrant>/<suffix>)")
    return doi


def _escape(text: str, *, keep: frozenset[str]) -> str:
    out = "".join(c if c in keep else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text)
    return "%2E" + out[1:] if out.startswith(".") else out


def doi_to_dirname(doi: str) -> str:
    """The directory name of ``doi`` in a corpus (see the module docstring); reversible."""
    doi = normalise_doi(doi)
    name = _escape(doi, keep=_SAFE | {"/"}).replace("/", "_")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise DoiError(f"{doi}: DOI too long for a directory name ({len(name)} > {MAX_NAME_BYTES} bytes)")
    return name


def dirname_to_doi(name: str) -> str:
    """The DOI a corpus directory name stands for (inverse of :func:`doi_to_dirname`)."""
    return normalise_doi(unquote(name.replace("_", "/")))


def safe_filename(text: str) -> str:
    """``text`` as a single, harmless file name (for figure locators, which come from the article)."""
    name = _escape(text, keep=_SAFE)
    if not name or len(name.encode()) > MAX_NAME_BYTES:
        raise DoiError(f"{text[:60]!r}: cannot be used as a file name")
    return name


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
