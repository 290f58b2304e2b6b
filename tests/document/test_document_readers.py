"""Readers (Elsevier XML, JATS, publisher HTML), safe parsing, and reading a corpus directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from imagedataextractor.document import parse_article, parse_article_bytes, read_corpus
from imagedataextractor.errors import DocumentError

ELSEVIER_OBJECTS = "https://api.elsevier.com/content/object/eid/1-s2.0-S0000000000000001"


@pytest.fixture(scope="module")
def docs(data_dir) -> Path:
    return data_dir / "document"


def test_elsevier_full_text_figures_captions_and_high_resolution_files(docs):
    article = parse_article(docs / "elsevier_full.xml", chem_ner="builtin")
    assert article.format == "elsevier-xml"
    assert (article.doi, article.journal, article.publisher) == ("10.1016/j.test.2020.000001", "Journal of Test Materials", "Elsevier Ltd")
    assert article.title == "Gold nanorods and their shape control"
    assert article.licence == "http://creativecommons.org/licenses/by/4.0/"
    assert [f.locator for f in article.figures] == ["gr1", "gr2", "gr3"]  # the repeated gr1 link counts once
    gr1, gr2, gr3 = article.figures
    assert gr1.label == "Fig. 1"
    assert gr1.caption == "(a) TEM image of Au nanorods; (b) HRTEM image of a single rod coated with SiO2."
    assert gr1.href == f"{ELSEVIER_OBJECTS}-gr1_lrg.jpg?httpAccept=%2A%2F%2A"  # IMAGE-HIGH-RES over the others
    assert gr1.alt_hrefs == (f"{ELSEVIER_OBJECTS}-gr1.jpg?httpAccept=%2A%2F%2A",)  # thumbnail left out
    assert gr2.href.endswith("-gr2.gif?httpAccept=%2A%2F%2A") and not gr2.em.is_em
    # gr3 is in no objects list: Object Retrieval API URLs are built from the EID
    assert gr3.href == f"{ELSEVIER_OBJECTS}-gr3_lrg.jpg?httpAccept=%2A%2F%2A"
    assert gr1.em.microscopy == ("TEM", "HRTEM") and gr1.em.materials == ("Au", "SiO2")
    assert [f.locator for f in article.em_figures] == ["gr1", "gr3"]


def test_springer_openaccess_response_is_read_as_jats(docs):
    article = parse_article(docs / "springer_openaccess_jats.xml", chem_ner="builtin")
    assert article.format == "jats" and article.doi == "10.1007/s11051-020-04800-1"
    assert article.publisher == "Springer Netherlands"
    assert article.licence == "http://creativecommons.org/licenses/by/4.0/"
    fig1, fig2 = article.figures
    assert (fig1.locator, fig1.label) == ("Fig1", "Fig. 1")
    assert fig1.href == "MediaObjects/11051_2020_4800_Fig1_HTML.jpg"  # the web graphic; the print EPS is left out
    assert fig1.alt_hrefs == ()
    assert fig1.caption.startswith("Morphology. Bright-field TEM images of Fe3O4 nanocubes")
    assert fig1.em.materials == ("Fe3O4",) and not fig2.em.is_em


def test_europepmc_jats_with_external_dtd_parses_offline(docs):
    article = parse_article(docs / "europepmc_fulltext.xml", chem_ner="builtin")
    assert (article.doi, article.journal, article.publisher) == ("10.3390/nano10010001", "Nanomaterials", "MDPI")
    assert article.licence == "https://creativecommons.org/licenses/by/4.0/"
    fig1, fig2 = article.figures
    assert fig1.href == "nanomaterials-10-00001-g001" and fig1.label == "Figure 1"
    assert fig1.em.microscopy == ("STEM", "HAADF-STEM") and fig1.em.materials == ("Ag",)  # not C from "carbon film"
    assert not fig2.em.is_em  # "mean ± SEM"


@pytest.mark.parametrize(
    ("name", "doi", "publisher", "figures"),
    [
        ("rsc_article.html", "10.1039/c9nr09999a", "The Royal Society of Chemistry", [
            ("Fig. 1", "https://pubs.rsc.org/image/article/2020/nr/c9nr09999a/c9nr09999a-f1_hi-res.gif", ("TEM",), ("CdSe", "ZnS")),
            ("Fig. 2", "https://pubs.rsc.org/image/article/2020/nr/c9nr09999a/c9nr09999a-f2_hi-res.gif", (), ()),
        ]),
        ("acs_article.html", "10.1021/acsnano.0c00001", "American Chemical Society", [
            ("Figure 1", "https://pubs.acs.org/cms/10.1021/acsnano.0c00001/asset/images/large/nn0c00001_0001.jpg", ("SEM", "HRTEM"), ("Pt",)),
            ("Figure 2", "https://pubs.acs.org/cms/10.1021/acsnano.0c00001/asset/images/large/nn0c00001_0002.jpg", (), ("HClO4",)),
        ]),
        ("springer_article.html", "10.1007/s11051-020-04801-0", "Springer Netherlands", [
            ("Fig. 1", "https://media.springernature.com/lw685/springer-static/image/art%3A10.1007%2Fs11051-020-04801-0/MediaObjects/11051_2020_4801_Fig1_HTML.png", ("FESEM", "TEM"), ("Ag",)),
        ]),
        ("wiley_article.html", "10.1002/smll.202000001", "Wiley", [
            ("Figure 1", "https://onlinelibrary.wiley.com/cms/asset/7d1f/smll202000001-fig-0001-m.jpg", ("FESEM",), ("Co3O4",)),
        ]),
    ],
)
def test_publisher_html_pages(docs, name, doi, publisher, figures):
    article = parse_article(docs / name, chem_ner="builtin")
    assert article.format == "html" and article.doi == doi and article.publisher == publisher
    assert [(f.label, f.href, f.em.microscopy, f.em.materials) for f in article.figures] == figures
    assert all(f.caption and not f.caption.lower().startswith("fig") for f in article.figures)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<article><front/><body><p>&lol3;</p></body></article>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<article><front/><body><fig id="F1"><caption><p>&xxe;</p></caption></fig></body></article>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "declares entities"),
        (XXE, "declares entities"),
        (b"<article><front><article-meta></front></article>", "malformed XML"),
        (b"<html-ish", "malformed XML"),
        (b"   ", "empty file"),
        (b"<catalogue><item/></catalogue>", "unknown article format"),
    ],
)
def test_unsafe_or_broken_documents_are_refused_with_a_reason(data, message):
    with pytest.raises(DocumentError, match=message):
        parse_article_bytes(data, name="upload.xml")


def test_missing_file_is_a_document_error(tmp_path):
    with pytest.raises(DocumentError, match="cannot read"):
        parse_article(tmp_path / "absent.xml")


def test_corpus_directory_resolves_figure_files_and_survives_a_bad_article(docs, tmp_path):
    good = tmp_path / "10.1016_j.test.2020.000001"
    (good / "figures").mkdir(parents=True)
    shutil.copy(docs / "elsevier_full.xml", good / "article.xml")
    Image.new("RGB", (64, 48), "grey").save(good / "figures" / "gr1.jpg")
    bad = tmp_path / "10.1016_j.bad.2020.2"
    bad.mkdir()
    (bad / "article.xml").write_bytes(BOMB)
    nodoi = tmp_path / "10.3390_nano10010001"
    nodoi.mkdir()
    (nodoi / "article.xml").write_bytes((docs / "europepmc_fulltext.xml").read_bytes().replace(b'<article-id pub-id-type="doi">10.3390/nano10010001</article-id>', b""))
    (tmp_path / "notes").mkdir()  # not an article directory: ignored
    reading = read_corpus(tmp_path, chem_ner="builtin")
    assert [a.doi for a in reading.articles] == ["10.1016/j.test.2020.000001", "10.3390/nano10010001"]
    figures = {f.locator: f.image_path for f in reading.articles[0].figures}
    assert figures == {"gr1": good / "figures" / "gr1.jpg", "gr2": None, "gr3": None}
    assert reading.articles[0].path == good / "article.xml"
    assert len(reading.failures) == 1 and reading.failures[0][0] == bad and "declares entities" in reading.failures[0][1]

