"""Material names: element names and common names to formulas, and the key under which names of
one material match (``material_key``), shared by the caption reader (document) and the store's queries."""

from __future__ import annotations

import re
import unicodedata

_ELEMENTS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm "
    "Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No "
    "Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
#: The symbols of the 118 elements.
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


#: Words that follow a material without changing it: "Au nanoparticles", "ZnO NPs".
_FORM_WORDS = re.compile(r"(?:[\s-]+(?:nanoparticles?|particles?|nanocrystals?|nanorods?|nanowires?|nanospheres?|"
                         r"nanocubes?|nanosheets?|quantum dots?|NPs?|NCs?|NRs?|NWs?|QDs?))+$", re.IGNORECASE)
_MARKUP = re.compile(r"</?(?:sub|sup)>", re.IGNORECASE)


def material_key(name: str) -> str:
    """The key under which names of one material match: subscripts and markup dropped ("TiO₂",
    "TiO<sub>2</sub>" -> "TiO2"), form words dropped ("Au nanoparticles" -> "Au"), names turned into
    formulas ("gold" -> "Au", "titania" -> "TiO2", see :data:`MATERIAL_NAMES`), spaces removed and
    case folded. So "gold", "Au", "AU" and "au NPs" share the key "au".

    Example
    -------
    >>> material_key("Gold nanoparticles"), material_key("TiO₂"), material_key("titania")
    ('au', 'tio2', 'tio2')
    """
    text = unicodedata.normalize("NFKC", _MARKUP.sub("", name)).strip()
    text = _FORM_WORDS.sub("", text).strip()
    text = MATERIAL_NAMES.get(text.lower(), text)
    return re.sub(r"\s+", "", text).casefold()
