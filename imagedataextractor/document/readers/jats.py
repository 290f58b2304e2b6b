"""JATS (NISO Journal Article Tag Suite) articles: Europe PMC's ``fullTextXML``, the Springer Nature
open-access API's ``/openaccess/jats`` response (articles inside ``response/records``), and PMC
``pmc-articleset`` files. Figures are ``fig`` elements with ``label``, ``caption`` and ``graphic``
(``xlink:href`` relative to the article: Europe PMC gives a name without extension, Springer a
``MediaObjects/..._Fig1_HTML.jpg`` path)."""

from __future__ import annotations

from lxml import etree

from ...errors import DocumentError
from ..xml import localname, text_of
from .base import RawArticle, RawFigure, none_if_empty, split_label

FORMAT = "jats"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_WRAPPERS = {"response", "pmc-articleset", "records", "OAI-PMH"}
#: Graphic files that are not raster images a figure can be read from.
_NOT_RASTER = (".eps", ".pdf", ".ps", ".svg")


def _article(root: etree._Element) -> etree._Element | None:
    if localname(root) == "article":
        return root
    if localname(root) in _WRAPPERS:
        return root.find(".//{*}article")
    return None


def detect(root: etree._Element) -> bool:
    article = _article(root)
    return article is not None and article.find("{*}front") is not None


def _graphic_hrefs(fig: etree._Element) -> list[str]:
    """The figure's image references, web renditions first, vector/print files left out."""
    graphics = [g for g in fig.iter("{*}graphic") if g.get(XLINK_HREF)]
    graphics.sort(key=lambda g: g.get("specific-use") != "web")
    return [g.get(XLINK_HREF) for g in graphics if not g.get(XLINK_HREF).lower().endswith(_NOT_RASTER)]


def _licence(meta: etree._Element | None) -> str | None:
    if meta is None:
        return None
    licence = meta.find("{*}permissions/{*}license")
    if licence is None:
        return None
    links = [e.get(XLINK_HREF) for e in licence.iter("{*}ext-link") if e.get(XLINK_HREF)]
    return (
        licence.get(XLINK_HREF)
        or none_if_empty(text_of(licence.find(".//{*}license_ref")))
        or (links[0] if links else None)
        or licence.get("license-type")
    )


def parse(root: etree._Element) -> RawArticle:
    article = _article(root)
    if article is None:
        raise DocumentError(f"not a JATS document: <{localname(root)}> holds no <article>")
    meta = article.find("{*}front/{*}article-meta")
    journal = article.find("{*}front/{*}journal-meta")
    doi = None
    if meta is not None:
        doi = next((none_if_empty(e.text) for e in meta.iter("{*}article-id") if e.get("pub-id-type") == "doi"), None)
    figures: dict[str, RawFigure] = {}
    for index, fig in enumerate(article.iter("{*}fig"), start=1):
        locator = fig.get("id") or f"fig{index}"
        if locator in figures:
            continue
        hrefs = _graphic_hrefs(fig)
        label, caption = split_label(text_of(fig.find("{*}caption")), none_if_empty(text_of(fig.find("{*}label"))))
        figures[locator] = RawFigure(label, caption, locator, hrefs[0] if hrefs else None, tuple(hrefs[1:]))
    return RawArticle(
        doi=doi,
        title=none_if_empty(text_of(meta.find("{*}title-group/{*}article-title"))) if meta is not None else None,
        journal=none_if_empty(text_of(journal.find(".//{*}journal-title"))) if journal is not None else None,
        publisher=none_if_empty(text_of(journal.find("{*}publisher/{*}publisher-name"))) if journal is not None else None,
        licence=_licence(meta),
        figures=tuple(figures.values()),
    )
