"""Fuzzing the DOCUMENT stage's inputs: DOI spellings and mutated publisher files (the saved Elsevier,
Springer, Europe PMC, ACS, RSC and Wiley files in tests/data/document). Nothing but the project's own
errors (DoiError, DocumentError) escapes, and every example finishes within the one-second deadline."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagedataextractor.document import parse_article_bytes
from imagedataextractor.document.corpus import DoiError, dirname_to_doi, doi_to_dirname, normalise_doi, safe_filename
from imagedataextractor.errors import DocumentError, HarvestError
from imagedataextractor.harvest import doi_from_dotted

DOCUMENTS = sorted((Path(__file__).resolve().parents[1] / "data" / "document").iterdir())
DOI_LIKE = st.builds(
    lambda prefix, registrant, suffix: f"{prefix}10.{registrant}/{suffix}",
    st.sampled_from(["", "doi:", "DOI: ", "https://doi.org/", "http://dx.doi.org/", " "]),
    st.integers(1000, 999_999_999),
    st.text(min_size=1, max_size=60),
)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=80), DOI_LIKE))
def test_doi_normalisation_raises_only_doi_error_and_round_trips(text):
    try:
        doi = normalise_doi(text)
    except DoiError:
        return
    assert doi == normalise_doi(doi) and doi.startswith("10.")
    try:
        name = doi_to_dirname(doi)
    except DoiError:  # too long for a directory name
        return
    assert "/" not in name and "\x00" not in name and name not in (".", "..") and not name.startswith(".")
    assert dirname_to_doi(name) == doi


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_locators_become_harmless_file_names(text):
    try:
        name = safe_filename(text)
    except DoiError:
        return
    assert name and "/" not in name and "\x00" not in name and not name.startswith(".")


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_dotted_dois_raise_only_harvest_error(text):
    try:
        doi = doi_from_dotted(text)
    except HarvestError:
        return
    assert doi.startswith("10.") and "/" in doi


def _mutate(data: bytes, draw) -> bytes:
    """One of: truncation, a byte flipped, bytes inserted, a slice deleted or duplicated."""
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate"]))
    at = draw(st.integers(0, len(data)))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    if kind == "insert":
        return data[:at] + draw(st.sampled_from([b"<", b">", b"&", b"<!ENTITY x 'y'>", b"</fig>", b"<fig>", b"\x00", b"\xff\xfe", b"]]>"])) + data[at:]
    end = draw(st.integers(at, min(len(data), at + 2000)))
    return data[:at] + data[end:] if kind == "delete" else data[:end] + data[at:end] + data[end:]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_publisher_files_raise_only_document_error(path, data):
    original = path.read_bytes()
    mutated = original
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = _mutate(mutated, data.draw)
    try:
        article = parse_article_bytes(mutated, name=path.name, chem_ner="builtin")
    except DocumentError as exc:
        assert path.name in str(exc) and "\n" not in str(exc)
        return
    assert all(f.locator for f in article.figures)
