"""One reader per article format. Each module has ``FORMAT``, ``detect(root) -> bool`` and
``parse(root) -> RawArticle``; :func:`reader_for` picks the first that detects the document."""

from __future__ import annotations

from types import ModuleType

from lxml import etree

from ...errors import DocumentError
from ..xml import localname
from . import elsevier, html, jats

READERS: tuple[ModuleType, ...] = (elsevier, jats, html)


def reader_for(root: etree._Element, *, name: str) -> ModuleType:
    """The reader that recognises ``root``; raises :class:`DocumentError` naming ``name`` otherwise."""
    for reader in READERS:
        if reader.detect(root):
            return reader
    raise DocumentError(f"{name}: unknown article format (root element <{localname(root)}>)")
