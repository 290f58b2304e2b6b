"""The corpus layout: DOI <-> directory name, safe file names, nothing outside the corpus."""

from __future__ import annotations

import pytest

from imagedataextractor.document import DoiError, article_dir, dirname_to_doi, doi_to_dirname, normalise_doi
from imagedataextractor.document.corpus import MAX_NAME_BYTES, safe_filename

DOIS = [
    "10.1016/j.cej.2020.125371",
    "10.1016/S0008-6223(99)00150-8",
    "10.1002/(SICI)1521-4095(199905)11:7<581::AID-ADMA581>3.0.CO;2-P",
    "10.1234/a_b%2Fc<d>;e",
    "10.1234/../../etc/passwd",
    "10.1234/..",
    "10.5555/ünïcode–doi",
    "10.1000.10/sub.registrant",
]


@pytest.mark.parametrize("doi", DOIS)
def test_dirname_is_one_safe_component_and_reversible(doi, tmp_path):
    name = doi_to_dirname(doi)
    assert "/" not in name and "\\" not in name and name not in (".", "..") and not name.startswith(".")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEF0123456789.-_%")
    assert dirname_to_doi(name) == doi.lower()
    directory = article_dir(tmp_path, doi)
    assert directory.parent == tmp_path
    directory.mkdir()
    assert directory.resolve().is_relative_to(tmp_path.resolve())


def test_documented_examples():
    assert doi_to_dirname("10.1016/j.cej.2020.125371") == "10.1016_j.cej.2020.125371"
    assert doi_to_dirname("10.1234/a_b") == "10.1234_a%5Fb"  # "_" is escaped so "/" -> "_" stays reversible
    assert doi_to_dirname("10.1234/../x") == "10.1234_.._x"


@pytest.mark.parametrize(
    ("text", "doi"),
    [
        ("  doi:10.1016/J.CEJ.2020.125371 ", "10.1016/j.cej.2020.125371"),
        ("https://doi.org/10.1039/C9NR09999A", "10.1039/c9nr09999a"),
        ("http://dx.doi.org/10.1007%2Fs11051-020-04800-1", "10.1007/s11051-020-04800-1"),
    ],
)
def test_normalise_doi_accepts_the_usual_spellings(text, doi):
    assert normalise_doi(text) == doi


@pytest.mark.parametrize("text", ["", "not-a-doi", "10.12/short-registrant", "11.1016/j.x", "10.1016/", "10.1016/a\x00b"])
def test_normalise_doi_refuses_non_dois(text):
    with pytest.raises(DoiError, match="not a DOI"):
        normalise_doi(text)


def test_too_long_doi_is_refused_not_truncated():
    with pytest.raises(DoiError, match="too long"):
        doi_to_dirname("10.1234/" + "x" * MAX_NAME_BYTES)


@pytest.mark.parametrize(("locator", "name"), [("gr1", "gr1"), ("../../evil", "%2E.%2F..%2Fevil"), ("..", "%2E."), ("a b", "a%20b")])
def test_figure_file_names_come_out_harmless(locator, name):
    assert safe_filename(locator) == name
