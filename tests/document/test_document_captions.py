"""Caption analysis: EM decision, microscopy technique, materials; the optional ChemDataExtractor."""

from __future__ import annotations

import importlib.machinery
import logging
import sys
import types

import pytest

from imagedataextractor.document import analyse_caption
from imagedataextractor.document import chemner
from imagedataextractor.document.chemistry import find_materials, is_formula
from imagedataextractor.errors import DocumentError


@pytest.mark.parametrize(
    ("caption", "microscopy", "materials"),
    [
        ("TEM images of Au nanorods", ("TEM",), ("Au",)),
        ("SEM images of ZnO, TiO2 and Fe3O4 nanoparticles.", ("SEM",), ("ZnO", "TiO2", "Fe3O4")),
        ("(a) HR-TEM image and (b) SAED pattern of the CeO2 cubes", ("HRTEM",), ("CeO2",)),
        ("HAADF-STEM image of Pt/TiO2 and STEM-EDS maps", ("HAADF-STEM", "STEM"), ("Pt", "TiO2")),
        ("FE\u2010SEM micrographs of Au@SiO2 core-shell particles", ("FESEM",), ("Au", "SiO2")),
        ("Scanning electron microscopy images of silica spheres", ("SEM",), ("SiO2",)),
        ("Transmission electron micrographs of gold nanoparticles", ("TEM",), ("Au",)),
        ("Cryo-TEM image of liposomes", ("cryo-TEM",), ()),
        ("Electron micrographs of Ni0.5Zn0.5Fe2O4 ferrite", ("EM",), ("Ni0.5Zn0.5Fe2O4",)),
        ("ESEM image of hydrated CaCO3 crystals", ("ESEM",), ("CaCO3",)),
        ("TEM image of AuNPs on a carbon-coated copper grid", ("TEM",), ("Au",)),
    ],
)
def test_em_captions_name_technique_and_materials(caption, microscopy, materials):
    analysis = analyse_caption(caption, chem_ner="builtin")
    assert analysis.is_em
    assert analysis.microscopy == microscopy
    assert analysis.materials == materials
    assert analysis.decision.is_em and analysis.decision.materials == materials


@pytest.mark.parametrize(
    "caption",
    [
        "Cell viability of HeLa cells (mean \u00b1 SEM, n = 3).",
        "Values are means \u00b1 SEM of three experiments.",
        "Optical micrographs of the polished cross-section",
        "Fluorescence micrograph of stained cells",
        "XRD patterns of the as-prepared powders",
        "Mesenchymal stem cells after 7 days",
        "UV-vis spectra in PBS with CTAB under NIR irradiation",
    ],
)
def test_non_em_captions_are_not_em(caption):
    analysis = analyse_caption(caption, chem_ner="builtin")
    assert not analysis.is_em
    assert analysis.microscopy == ()


def test_abbreviations_and_words_are_not_materials():
    text = "In Fig. S1, As shown by Li et al., CNTs and NCs in PBS with CTAB under UV light; HeLa cells."
    assert [m.value for m in find_materials(text)] == []


def test_formulas_are_validated_against_element_symbols():
    assert is_formula("Fe3O4") and is_formula("Ca10(PO4)6(OH)2") and is_formula("LiFePO4")
    assert not is_formula("Qa2O3")  # Q is no element
    assert not is_formula("Xy")
    assert not is_formula("S1")  # one element with a count: a supplementary figure, not a material
    assert not is_formula("PVP")  # all capitals without digits: an abbreviation


def test_mentions_point_into_the_caption():
    text = "TEM image of Fe3O4@SiO2 and gold, and Cr(VI) removal"
    analysis = analyse_caption(text, chem_ner="builtin")
    for mention in analysis.material_mentions + analysis.microscopy_mentions:
        assert text[mention.start:mention.end] == mention.text
    assert analysis.materials == ("Fe3O4", "SiO2", "Au", "Cr")


@pytest.fixture
def fresh_probe():
    chemner.reset_probe()
    yield
    chemner.reset_probe()


def test_without_chemdataextractor_auto_uses_builtin_and_logs_once(fresh_probe, caplog, monkeypatch):
    monkeypatch.setitem(sys.modules, "chemdataextractor", None)  # as if not installed
    with caplog.at_level(logging.INFO, logger="imagedataextractor.document.chemner"):
        first = analyse_caption("TEM image of Au rods")
        second = analyse_caption("SEM image of ZnO")
    assert first.chem_ner == second.chem_ner == "builtin"
    messages = [r.getMessage() for r in caplog.records if r.name.endswith("chemner")]
    assert len(messages) == 1 and "not installed" in messages[0]
    with pytest.raises(DocumentError, match="ChemDataExtractor is not installed or not usable"):
        analyse_caption("TEM image", chem_ner="chemdataextractor")


def _fake_chemdataextractor(monkeypatch, paragraph_class):
    package = types.ModuleType("chemdataextractor")
    package.__spec__ = importlib.machinery.ModuleSpec("chemdataextractor", None)
    doc = types.ModuleType("chemdataextractor.doc")
    doc.Paragraph = paragraph_class
    package.doc = doc
    monkeypatch.setitem(sys.modules, "chemdataextractor", package)
    monkeypatch.setitem(sys.modules, "chemdataextractor.doc", doc)


class _Span:
    def __init__(self, text, start):
        self.text, self.start, self.end = text, start, start + len(text)


def test_usable_chemdataextractor_adds_its_entities(fresh_probe, monkeypatch):
    class Paragraph:  # ChemDataExtractor's interface: Paragraph(text).cems -> spans with text/start/end
        def __init__(self, text):
            self.text = text

        @property
        def cems(self):
            return [_Span(name, self.text.find(name)) for name in ("polystyrene", "Au") if name in self.text]

    _fake_chemdataextractor(monkeypatch, Paragraph)
    analysis = analyse_caption("SEM image of polystyrene beads with Au shells")
    assert analysis.chem_ner == "builtin+chemdataextractor"
    assert analysis.materials == ("polystyrene", "Au")  # Au found by both is listed once


def test_broken_chemdataextractor_falls_back_with_a_warning(fresh_probe, monkeypatch, caplog):
    class Paragraph:
        def __init__(self, text):
            raise OSError("data files missing")

    _fake_chemdataextractor(monkeypatch, Paragraph)
    with caplog.at_level(logging.WARNING, logger="imagedataextractor.document.chemner"):
        analysis = analyse_caption("TEM image of Au rods")
    assert analysis.chem_ner == "builtin" and analysis.materials == ("Au",)
    assert "not usable (data files missing)" in caplog.text
