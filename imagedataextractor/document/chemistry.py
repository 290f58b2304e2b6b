"""Recognising materials in caption text: chemical formulas checked against the periodic table,
element names, and a few common names of materials seen in nanoparticle papers."""

from __future__ import annotations

import re

from ..materials import ELEMENT_SYMBOLS, MATERIAL_NAMES
from .types import Mention

#: Element symbols that are also capitalised English words or common abbreviations; alone they are
#: not read as materials ("In this figure", "As shown", "He et al.", "No. 3").
_AMBIGUOUS_SYMBOLS = frozenset({"In", "As", "At", "Be", "He", "No", "Am", "Es", "Md", "Pa", "Ac", "Ra", "Li"})

#: Words that parse as formulas but name something else (the HeLa cell line).
_NOT_FORMULAS = frozenset({"HeLa"})

_NUMBER = r"(?:\d+(?:\.\d+)?)"
_ELEMENT = r"[A-Z][a-z]?"
_GROUP = rf"(?:{_ELEMENT}{_NUMBER}?|\((?:{_ELEMENT}{_NUMBER}?)+\){_NUMBER}?)"
_FORMULA_RE = re.compile(rf"^(?:{_GROUP})+$")
_PARTS_RE = re.compile(rf"({_ELEMENT})")
#: Plural abbreviations ("CNTs", "NCs") read as formulas otherwise (C-N-Ts, N-Cs).
_PLURAL_ABBREVIATION_RE = re.compile(r"^[A-Z]+s$")
#: Nanostructure abbreviations glued to a formula: "AuNPs", "ZnONRs", "CdSeQDs".
_NANO_SUFFIX_RE = re.compile(r"(?<=[a-z0-9)])(?:NPs?|NRs?|NCs?|NWs?|NSs?|NTs?|QDs?)$")
#: Candidate tokens: runs of letters, digits, brackets and the joiners @ / - · (core-shell, doping).
_TOKEN_RE = re.compile(r"[A-Za-z0-9()@/·.\-]+")
#: An oxidation state after a symbol: "Cr(VI)", "Fe(III)" (else read as Cr-V-I).
_OXIDATION_STATE_RE = re.compile(r"\((?:I{1,3}|IV|VI{0,3}|IX)\)$")
#: Structure or phase prefixes stripped before reading a formula: "α-Fe2O3", "g-C3N4", "h-BN".
_PREFIX_RE = re.compile(r"^(?:[αβγδεθ]|alpha|beta|gamma|[a-z])-")
_NAME_RE = re.compile(
    r"\b(" + "|".join(sorted((re.escape(n) for n in MATERIAL_NAMES), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def is_formula(token: str) -> bool:
    """True when ``token`` reads as a chemical formula whose every symbol is an element.

    All-capital tokens without digits ("UV", "NIR", "PBS", "CTAB") are abbreviations, not formulas;
    lone element symbols count only when unambiguous (two letters, not an English word).
    """
    if token in _NOT_FORMULAS or not _FORMULA_RE.match(token) or _PLURAL_ABBREVIATION_RE.match(token):
        return False
    symbols = _PARTS_RE.findall(token)
    if not all(s in ELEMENT_SYMBOLS for s in symbols):
        return False
    if token.isupper() and not any(c.isdigit() for c in token):
        return False
    if len(set(symbols)) == 1:
        # A lone symbol ("Au") counts; one element with a count ("S1" as in "Fig. S1") does not.
        return token == symbols[0] and len(token) == 2 and token not in _AMBIGUOUS_SYMBOLS
    return True


def _formula_parts(token: str) -> list[str]:
    """Split a composite token ("Au@SiO2", "Pt/TiO2", "Ag-doped", "α-Fe2O3") into formulas."""
    token = _OXIDATION_STATE_RE.sub("", token.strip(".-/"))
    if token.startswith("(") and token.endswith(")"):
        token = token[1:-1]
    elif token.count("(") > token.count(")"):
        token = token.lstrip("(")
    elif token.count(")") > token.count("("):
        token = token.rstrip(")")
    parts = (_NANO_SUFFIX_RE.sub("", _PREFIX_RE.sub("", p)) for p in re.split(r"[@/·\-]", _PREFIX_RE.sub("", token)))
    return [p for p in parts if p and is_formula(p)]


#: What follows an element name that names the sample support, not the sample: "carbon film",
#: "carbon-coated copper grid", "carbon tape".
_SUPPORT_AFTER = re.compile(r"^(?:[\s-]+(?:coated|holey|lacey|carbon|copper))*[\s-]+(?:grids?|tapes?|support|films?|substrates?)\b", re.IGNORECASE)


def find_materials(text: str) -> list[Mention]:
    """Materials named in ``text``: formulas ("ZnO", "Ni0.5Zn0.5Fe2O4", "Au@SiO2" -> Au, SiO2),
    and names ("gold" -> Au, "silica" -> SiO2). Mentions in order of position."""
    mentions: list[Mention] = []
    for match in _TOKEN_RE.finditer(text):
        token = match.group(0).rstrip(".")
        offset = match.start()
        for part in _formula_parts(token):
            start = text.find(part, offset)
            mentions.append(Mention(part, part, start, start + len(part)))
            offset = start + len(part)
    for match in _NAME_RE.finditer(text):
        if _SUPPORT_AFTER.match(text[match.end():match.end() + 40]):
            continue
        mentions.append(Mention(match.group(0), MATERIAL_NAMES[match.group(0).lower()], match.start(), match.end()))
    return sorted(mentions, key=lambda m: m.start)
