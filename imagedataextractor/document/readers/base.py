"""What a reader returns: the article's metadata and figures as the file gives them, before caption
analysis and before figure files are looked up on disk."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A printed figure label at the start of a caption: "Fig. 1.", "Figure 2:", "Fig. S3 |".
LABEL_AT_START = re.compile(r"^\s*((?:Fig(?:ure)?|Scheme)\.?\s*S?\d+[A-Za-z]?)\s*[.:|\u2014\u2013-]?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class RawFigure:
    label: str | None
    caption: str
    locator: str
    href: str | None
    alt_hrefs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RawArticle:
    doi: str | None
    title: str | None
    journal: str | None
    publisher: str | None
    licence: str | None
    figures: tuple[RawFigure, ...]
    full_text: bool = True


def none_if_empty(text: str | None) -> str | None:
    """Collapse whitespace; None for missing or blank text."""
    text = " ".join((text or "").split())
    return text or None


def split_label(caption: str, label: str | None) -> tuple[str | None, str]:
    """Remove a printed label from the start of ``caption``; return (label, caption)."""
    if label and caption.startswith(label):
        return label, caption[len(label):].lstrip(" .:|\u2014\u2013-")
    match = LABEL_AT_START.match(caption)
    if match:
        return label or match.group(1), caption[match.end():]
    return label, caption
