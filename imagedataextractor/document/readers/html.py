"""Publisher article pages saved as HTML: RSC (pubs.rsc.org), ACS (pubs.acs.org), Springer Nature
(link.springer.com, nature.com) and Wiley (onlinelibrary.wiley.com).

Metadata comes from the Highwire ``citation_*`` / Dublin Core ``<meta>`` tags all four publish.
Figures: RSC wraps each in ``div.image_table`` (``td.image_title`` with the label in ``<b>`` and
the caption in ``span.graphic_title``; the high-resolution file is the link around the image);
ACS, Springer Nature and Wiley use ``<figure>`` with a ``<figcaption>`` (Springer puts the caption
text in a sibling ``c-article-section__figure-description``), and ACS and Wiley name the large
image in ``img/@data-lg-src``.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from lxml import etree

from ..xml import localname, text_of
from .base import RawArticle, RawFigure, none_if_empty, split_label

FORMAT = "html"
_HOST_PUBLISHERS = {
    "pubs.rsc.org": "Royal Society of Chemistry",
    "pubs.acs.org": "American Chemical Society",
    "link.springer.com": "Springer Nature",
    "www.nature.com": "Springer Nature",
    "onlinelibrary.wiley.com": "Wiley",
}
_IMAGE_URL = re.compile(r"\.(?:jpe?g|png|gif|tiff?|webp)(?:[?#]|$)", re.IGNORECASE)
_LARGE_HINT = re.compile(r"hi-?res|_lrg|/large/|-m\.jpe?g|full", re.IGNORECASE)


def detect(root: etree._Element) -> bool:
    return localname(root) == "html"


def _classes(element: etree._Element) -> str:
    return (element.get("class") or "").lower()


def _metadata(root: etree._Element) -> dict[str, str]:
    meta: dict[str, str] = {}
    for element in root.iter("meta"):
        key = (element.get("name") or element.get("property") or "").lower()
        content = none_if_empty(element.get("content"))
        if key and content and key not in meta:
            meta[key] = content
    canonical = root.find(".//link[@rel='canonical']")
    if canonical is not None and canonical.get("href") and "og:url" not in meta:
        meta["og:url"] = canonical.get("href")
    return meta


def _images(container: etree._Element, base: str | None) -> list[str]:
    """Image URLs in ``container``, the large rendition first."""
    urls: list[str] = []
    for img in container.iter("img"):
        urls += [img.get(a) for a in ("data-lg-src", "data-src", "src") if img.get(a)]
    urls += [a.get("href") for a in container.iter("a") if a.get("href") and _IMAGE_URL.search(a.get("href"))]
    urls = [urljoin(base, u) if base else u for u in dict.fromkeys(urls)]
    return sorted(urls, key=lambda u: not _LARGE_HINT.search(u))


#: (element holding the figure, label, caption, locator)
_Found = list[tuple[etree._Element, str | None, str, str | None]]


def _rsc_figures(root: etree._Element) -> _Found:
    found: _Found = []
    for table in root.iter("div"):
        if "image_table" not in _classes(table):
            continue
        title = next((td for td in table.iter("td") if "image_title" in _classes(td)), None)
        label = none_if_empty(text_of(title.find(".//b"))) if title is not None else None
        caption_el = next((s for s in title.iter("span") if "graphic_title" in _classes(s)), None) if title is not None else None
        caption = text_of(caption_el) if caption_el is not None else text_of(title)
        found.append((table, label, caption, None))
    return found


def _figure_elements(root: etree._Element) -> _Found:
    found: _Found = []
    for figure in root.iter("figure"):
        if any(localname(a) == "figure" for a in figure.iterancestors()):
            continue
        figcaption = figure.find(".//figcaption")
        descriptions = [d for d in figure.iter("div") if "figure-description" in _classes(d) or d.get("data-test") == "bottom-caption"]
        label_el = next((e for e in figure.iter() if isinstance(e.tag, str) and re.search(r"label|figure__title|figure-caption", _classes(e))), None)
        label = none_if_empty(text_of(label_el)) if label_el is not None and len(text_of(label_el)) < 20 else None
        caption = " ".join(filter(None, [text_of(figcaption), *(text_of(d) for d in descriptions if figcaption is None or d not in figcaption.iter())]))
        locator = figure.get("id") or (label_el.get("id") if label_el is not None else None)
        found.append((figure, label, caption, locator))
    return found


def parse(root: etree._Element) -> RawArticle:
    meta = _metadata(root)
    base = meta.get("og:url") or meta.get("citation_fulltext_html_url") or meta.get("citation_abstract_html_url")
    host = urlsplit(base).hostname if base else None
    figures: dict[str, RawFigure] = {}
    for index, (element, label, caption, locator) in enumerate(_rsc_figures(root) + _figure_elements(root), start=1):
        urls = _images(element, base)
        if not urls:
            continue
        label, caption = split_label(caption, label)
        locator = locator or f"fig{index}"
        if locator not in figures:
            figures[locator] = RawFigure(label, caption, locator, urls[0], tuple(urls[1:]))
    return RawArticle(
        doi=meta.get("citation_doi") or meta.get("dc.identifier"),
        title=meta.get("citation_title") or meta.get("dc.title"),
        journal=meta.get("citation_journal_title"),
        publisher=meta.get("citation_publisher") or meta.get("dc.publisher") or _HOST_PUBLISHERS.get(host or ""),
        licence=meta.get("dc.rights") or meta.get("citation_license"),
        figures=tuple(figures.values()),
    )
