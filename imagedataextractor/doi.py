"""DOIs: the one normaliser, and the names derived from a DOI (a corpus directory, an EMPS file stem).

A DOI is stored and compared normalised: stripped, without a ``doi:``, ``info:doi/`` or
``https://doi.org/`` prefix, lower case (DOIs are case-insensitive).

DOI -> directory name: every character other than ``a-z 0-9 . -`` is percent-escaped as UTF-8
bytes (so ``_`` becomes ``%5F`` and ``%`` becomes ``%25``), a leading "." is escaped, and then
"/" is written "_". The mapping is reversible (:func:`dirname_to_doi`) and a name never contains
"/" nor is "." or "..", so no DOI (``10.1234/../../etc``) can name a path outside a corpus.

EMPS file stems: ``<doi with "." for the first "/">.<locator>`` for a figure and
``...<locator>-<k>`` for its k-th panel, escaped like directory names (:func:`emps_stem`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .errors import IDEError

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

    Example
    -------
    >>> normalise_doi(" https://doi.org/10.1016/J.Example.2020.01 ")
    '10.1016/j.example.2020.01'
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


def emps_stem(prefix: str, locator: str, panel: int | None = None) -> str:
    """The EMPS file stem of figure ``locator`` of an article: ``prefix`` is its DOI (its first
    "/" written ".") or, for an article without one, any other name (its file's stem); ``panel``
    (1-based, reading order) adds ``-<k>``. Escaped by :func:`safe_filename`.

    Example
    -------
    >>> emps_stem("10.1016/j.cej.2020.125371", "gr2", 1)
    '10.1016.j.cej.2020.125371.gr2-1'
    """
    stem = f"{prefix.replace('/', '.', 1)}.{locator}"
    return safe_filename(stem if panel is None else f"{stem}-{panel}")
