"""Parsing untrusted XML and HTML safely.

Publisher files come from the network, so the parsers never fetch anything (no_network), never
load or apply a DTD (load_dtd=False, resolve_entities=False), keep libxml2's size and depth limits
(huge_tree=False), and documents that declare entities are refused before parsing: that is how
entity-expansion ("billion laughs") attacks are built, and no publisher's article needs them.
"""

from __future__ import annotations

import re

from lxml import etree

from ..errors import DocumentError

#: Largest article file accepted (bytes); real full-text XML is a few MB at most.
MAX_ARTICLE_BYTES = 64 * 1024 * 1024

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE\s+html|<html[\s>])", re.IGNORECASE | re.DOTALL)


def looks_like_html(data: bytes) -> bool:
    """True when ``data`` starts like an HTML page (doctype html or an <html> root)."""
    return bool(_HTML_START.match(data[:4096].lstrip(b"\xef\xbb\xbf")))


def _check(data: bytes, name: str) -> None:
    if len(data) > MAX_ARTICLE_BYTES:
        raise DocumentError(f"{name}: file is {len(data)} bytes, more than the {MAX_ARTICLE_BYTES} accepted")
    if not data.strip():
        raise DocumentError(f"{name}: empty file")


def parse_xml(data: bytes, *, name: str) -> etree._Element:
    """Parse XML bytes with the safe settings; raises :class:`DocumentError` naming ``name``."""
    _check(data, name)
    if _ENTITY_DECLARATION.search(data):
        raise DocumentError(f"{name}: XML declares entities (refused: possible entity-expansion attack)")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"{name}: malformed XML ({' '.join(str(exc).split())})") from None  # libxml2's message may span lines
    if root is None:
        raise DocumentError(f"{name}: no XML document element")
    return root


def parse_html(data: bytes, *, name: str) -> etree._Element:
    """Parse an HTML page (tolerating the usual errors) with the safe settings."""
    _check(data, name)
    parser = etree.HTMLParser(no_network=True, huge_tree=False, remove_comments=True, remove_pis=True)
    root = etree.fromstring(data, parser)
    if root is None:
        raise DocumentError(f"{name}: no HTML content")
    return root


def localname(element: etree._Element) -> str:
    """Tag name without namespace ("" for comments and other non-elements)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


#: Elements that start a new block of text: their content is kept apart from its neighbours
#: ("<title>Morphology.</title><p>TEM ...") while inline markup joins up ("Fe<sub>3</sub>O<sub>4</sub>").
_BLOCKS = frozenset(
    "p para simple-para title label caption div section sec li td th tr br h1 h2 h3 h4 h5 h6 figcaption header".split()
)
_SKIP = frozenset({"script", "style"})


def text_of(element: etree._Element | None) -> str:
    """All text inside ``element``, whitespace collapsed to single spaces ("" for None)."""
    if element is None:
        return ""
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        name = localname(node)
        if name in _SKIP:
            return
        block = name in _BLOCKS
        if block:
            parts.append(" ")
        if isinstance(node.tag, str) and node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append(" ")

    walk(element)
    return " ".join("".join(parts).split())
