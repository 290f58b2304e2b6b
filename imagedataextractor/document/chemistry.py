"""Recognising materials in caption text: chemical formulas checked against the periodic table,
element names, and a few common names of materials seen in nanoparticle papers."""

from __future__ import annotations

import re

from .types import Mention

_ELEMENTS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm "
    "Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No "
    "Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
ELEMENT_SYMBOLS = frozenset(_ELEMENTS)

_ELEMENT_NAMES = (
    "hydrogen helium lithium beryllium boron carbon nitrogen oxygen fluorine neon sodium magnesium "
    "aluminium silicon phosphorus sulfur chlorine argon potassium calcium scandium titanium vanadium "
    "chromium manganese iron cobalt nickel copper zinc gallium germanium arsenic selenium bromine "
    "krypton rubidium strontium yttrium zirconium niobium molybdenum technetium ruthenium rhodium "
    "palladium silver cadmium indium tin antimony tellurium iodine xenon caesium barium lanthanum "
    "cerium praseodymium neodymium promethium samarium europium gadolinium terbium dysprosium holmium "
    "erbium thulium ytterbium lutetium hafnium tantalum tungsten rhenium osmium iridium platinum gold "
    "mercury thallium lead bismuth polonium astatine radon francium radium actinium thorium "
    "protactinium uranium neptunium plutonium americium curium berkelium californium einsteinium "
    "fermium mendelevium nobelium lawrencium rutherfordium dubnium seaborgium bohrium hassium "
    "meitnerium darmstadtium roentgenium copernicium nihonium flerovium moscovium livermorium "
    "tennessine oganesson"
).split()

#: Lower-case name -> formula. Element names, spelling variants, and common material names.
MATERIAL_NAMES: dict[str, str] = {
    **dict(zip(_ELEMENT_NAMES, _ELEMENTS)),
    "aluminum": "Al", "sulphur": "S", "cesium": "Cs",
    "silica": "SiO2", "titania": "TiO2", "titanium dioxide": "TiO2", "zirconia": "ZrO2",
    "ceria": "CeO2", "alumina": "Al2O3", "zinc oxide": "ZnO", "magnetite": "Fe3O4",
    "maghemite": "Fe2O3", "hematite": "Fe2O3", "haematite": "Fe2O3", "copper oxide": "CuO",
    "cuprous oxide": "Cu2O", "hydroxyapatite": "Ca10(PO4)6(OH)2", "calcite": "CaCO3",
    "anatase": "TiO2", "rutile": "TiO2", "molybdenum disulfide": "MoS2",
    # Carbon allotropes keep their names: "C" would lose what the caption says.
    "graphene oxide": "graphene oxide", "reduced graphene oxide": "reduced graphene oxide",
    "graphene": "graphene", "carbon nanotubes": "carbon nanotubes", "carbon nanotube": "carbon nanotubes",
}

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
