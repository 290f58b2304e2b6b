"""Elsevier full-text XML: the Article Retrieval API's ``full-text-retrieval-response`` (view=FULL)
and the ``xocs:doc`` / ``ja`` article files of Elsevier's bulk (TDM) deliveries.

Figures are ``ce:figure`` elements: ``ce:label``, ``ce:caption`` and ``ce:link/@locator`` ("gr1").
The response's ``objects`` list names each locator's files (IMAGE-THUMBNAIL, IMAGE-DOWNSAMPLED,
IMAGE-HIGH-RES) as Object Retrieval API URLs; the high-resolution one is preferred.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from ..xml import localname, text_of
from .base import RawArticle, RawFigure, none_if_empty, split_label

FORMAT = "elsevier-xml"
CE = "http://www.elsevier.com/xml/common/dtd"
_ELSEVIER_NAMESPACES = {
    CE,
    "http://www.elsevier.com/xml/svapi/article/dtd",
    "http://www.elsevier.com/xml/xocs/dtd",
    "http://www.elsevier.com/xml/ja/dtd",
}
#: Object types in order of preference; thumbnails (about 125 px) are too small to measure.
_OBJECT_RANK = {"IMAGE-HIGH-RES": 0, "IMAGE-DOWNSAMPLED": 1}
#: Where the Object Retrieval API lives; figure URLs are built here when the objects list is absent.
OBJECT_API = "https://api.elsevier.com/content/object/eid"


def detect(root: etree._Element) -> bool:
    return etree.QName(root).namespace in _ELSEVIER_NAMESPACES or localname(root) == "full-text-retrieval-response"


def _object_urls(root: etree._Element) -> dict[str, list[str]]:
    """Locator -> figure file URLs, best first, from the response's ``objects`` list."""
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for objects in root.iter("{*}objects"):
        for obj in objects.iter("{*}object"):
            rank = _OBJECT_RANK.get(obj.get("type", ""))
            url = (obj.text or "").strip()
            if rank is not None and url and obj.get("ref"):
                ranked[obj.get("ref")].append((rank, url))
    return {ref: [url for _, url in sorted(urls)] for ref, urls in ranked.items()}


def _meta(root: etree._Element, *paths: str) -> str | None:
    for path in paths:
        element = root.find(path)
        if element is not None and none_if_empty(text_of(element)):
            return none_if_empty(text_of(element))
    return None


def parse(root: etree._Element) -> RawArticle:
    objects = _object_urls(root)
    eid = _meta(root, ".//{*}coredata/{*}eid")
    figures: dict[str, RawFigure] = {}
    for figure in root.iter(f"{{{CE}}}figure"):
        link = figure.find(f"{{{CE}}}link")
        locator = link.get("locator") if link is not None else None
        if not locator or locator in figures:
            continue
        label, caption = split_label(text_of(figure.find(f"{{{CE}}}caption")), none_if_empty(text_of(figure.find(f"{{{CE}}}label"))))
        urls = objects.get(locator)
        if not urls and eid:
            urls = [f"{OBJECT_API}/{eid}-{locator}_lrg.jpg?httpAccept=%2A%2F%2A", f"{OBJECT_API}/{eid}-{locator}.jpg?httpAccept=%2A%2F%2A"]
        figures[locator] = RawFigure(label, caption, locator, urls[0] if urls else None, tuple(urls[1:]) if urls else ())
    doi = _meta(root, ".//{*}coredata/{*}doi", f".//{{{CE}}}doi")
    return RawArticle(
        doi=doi,
        title=_meta(root, ".//{*}coredata/{*}title", f".//{{{CE}}}title"),
        journal=_meta(root, ".//{*}coredata/{*}publicationName", ".//{*}srctitle"),
        publisher=_meta(root, ".//{*}coredata/{*}publisher") or "Elsevier",
        licence=_meta(root, ".//{*}coredata/{*}openaccessUserLicense"),
        figures=tuple(figures.values()),
        # an Article Retrieval answer without originalText is metadata only: the key is not entitled to the text
        full_text=localname(root) != "full-text-retrieval-response" or root.find("{*}originalText") is not None,
    )
