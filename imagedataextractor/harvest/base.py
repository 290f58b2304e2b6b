"""The protocol every publisher source follows, and what its methods exchange.

A source answers three questions: ``search(doi)`` -- do you have this article, and where
(:class:`SourceRecord`, or None); ``fetch_article(record)`` -- its full text; and
``fetch_figure(record, figure, dest_dir)`` -- one figure's image file, checked and saved.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from PIL import Image

from ..document.corpus import safe_filename
from ..document.types import Figure
from ..imageio import DECODE_ERRORS, MAX_PIXELS, MIN_SIDE
from .http import FetchError, SavedFile, ServiceClient, download_file

IMAGE_TYPES = ("image/*", "application/octet-stream")
#: File suffix for each image format Pillow reports.
_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "TIFF": ".tif", "BMP": ".bmp", "WEBP": ".webp"}


@dataclass(frozen=True)
class FetchedArticle:
    """An article's full text. suffix: ".xml" or ".html"; url: credentials removed."""

    body: bytes
    content_type: str
    url: str
    suffix: str


@dataclass(frozen=True)
class SourceRecord:
    """Where a source holds an article. ids: source-specific identifiers (e.g. ``pmcid``), kept in
    the provenance so that a rerun can fetch missing figures without searching again.
    prefetched: the article, where the search itself returned it (Springer Nature)."""

    source: str
    doi: str
    article_url: str
    ids: dict[str, str] = field(default_factory=dict)
    prefetched: FetchedArticle | None = field(default=None, repr=False, compare=False)


class Publisher(Protocol):
    """A full-text source. ``missing_credentials`` is None when usable, else why it is not."""

    name: str
    client: ServiceClient
    figure_client: ServiceClient

    @property
    def missing_credentials(self) -> str | None: ...

    def search(self, doi: str) -> SourceRecord | None: ...

    def fetch_article(self, record: SourceRecord) -> FetchedArticle: ...

    def fetch_figure(self, record: SourceRecord, figure: Figure, dest_dir: Path) -> SavedFile: ...


def doi_path(doi: str) -> str:
    """``doi`` for a URL path: percent-encoded except "/", with "." and ".." segments escaped so
    that no client or server reads them as directory steps."""
    return "/".join(s if s not in (".", "..") else s.replace(".", "%2E") for s in quote(doi, safe="/").split("/"))


def rebase(url: str, default_base: str, base: str) -> str:
    """Rewrite ``url`` from a service's public host to the configured base (an override such as a
    mirror or the replay server). URLs elsewhere, and all URLs when no override is set, pass."""
    for scheme_base in {default_base, default_base.replace("https://", "http://", 1)}:
        if url.startswith(scheme_base + "/") and base != default_base:
            return base + url[len(scheme_base):]
    return url


def verify_image(path: Path) -> str:
    """Check that ``path`` decodes fully as an image of a usable size (a truncated download or a
    page that is not an image fails); return the suffix for its format. Raises :class:`FetchError`.

    The limits are :mod:`imagedataextractor.imageio`'s, so every kept figure can be read later.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # damaged metadata: the pixels decide
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise FetchError(f"image is {image.width}x{image.height} pixels, more than the {MAX_PIXELS} allowed", permanent=True)
                if min(image.size) < MIN_SIDE:
                    raise FetchError(f"image is {image.width}x{image.height} pixels, too small (min {MIN_SIDE})", permanent=True)
                image.load()
                image_format = image.format or ""
    except (*DECODE_ERRORS, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        message = " ".join(str(exc).replace(str(path), "downloaded file").split())
        raise FetchError(f"not a usable image ({type(exc).__name__}: {message})") from None
    return _SUFFIXES.get(image_format, ".img")


def download_figure(
    client: ServiceClient, urls: list[str], figure: Figure, dest_dir: Path, *, headers: dict[str, str] | None = None
) -> SavedFile:
    """Download the first of ``urls`` (variants of one figure, best first) that gives a usable image
    into ``dest_dir/<locator>.<ext>``. A variant that is missing, refused, of the wrong type or does
    not decode (a truncated file, a login page labelled as an image) is never kept, and the next one
    is tried; when the server is unavailable (5xx, 429, timeouts through every retry) the figure fails
    instead, so that a later run fetches the best variant. The error names every variant's failure."""
    if not urls:
        raise FetchError(f"figure {figure.locator}: the article gives no image reference", permanent=True)
    stem = safe_filename(figure.locator)

    def fetch(url: str) -> SavedFile:
        return download_file(
            client, url, dest_dir, stem, headers=headers, accept_types=IMAGE_TYPES,
            max_bytes=client.config.max_figure_bytes, finish=verify_image,
        )

    errors: list[FetchError] = []
    for url in urls:
        try:
            return fetch(url)
        except FetchError as exc:
            errors.append(exc)
            if exc.unavailable:
                break
    raise FetchError(
        f"figure {figure.locator}: " + "; ".join(str(e) for e in errors),
        status=errors[0].status,
        permanent=all(e.permanent for e in errors),
        unavailable=any(e.unavailable for e in errors),
    )
