"""Runaway captions: caption analysis does linear work, so one hostile article cannot stall a run.
The guards are generous per-test time limits (pytest-timeout), far above the linear cost (well
under a second here) and far below what the quadratic versions took (35 s for 160 KB, more than
10 minutes for 11 MB)."""

from __future__ import annotations

import pytest

from imagedataextractor.document import analyse_caption, parse_article_bytes
from imagedataextractor.document.captions import MAX_CAPTION_CHARS, find_microscopy

SENTENCE = "TEM and SEM images of Au@SiO2 nanoparticles on a carbon film, mean ± SEM of 3. "


def _jats(caption: bytes) -> bytes:
    return (b'<?xml version="1.0"?><article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>'
            b'<article-id pub-id-type="doi">10.5555/long.1</article-id></article-meta></front><body><fig id="F1"><caption><p>'
            + caption + b'</p></caption><graphic xlink:href="f1"/></fig></body></article>')


@pytest.mark.timeout(20)
def test_a_160_kb_caption_with_tens_of_thousands_of_mentions():
    dense = "HR-TEM TEM SEM STEM "  # four techniques in 20 characters, each checked against those found before
    caption = dense * (160_000 // len(dense))
    analysis = analyse_caption(caption, chem_ner="builtin")
    assert analysis.microscopy == ("HRTEM", "TEM", "SEM", "STEM")
    assert len(analysis.microscopy_mentions) == 4 * (MAX_CAPTION_CHARS // len(dense))  # all read up to the limit
    assert max(m.end for m in analysis.microscopy_mentions) <= MAX_CAPTION_CHARS


def test_sentences_with_statistics_and_materials_up_to_the_limit():
    caption = (SENTENCE * (160_000 // len(SENTENCE) + 1))[:160_000]
    analysis = analyse_caption(caption, chem_ner="builtin")
    assert analysis.microscopy == ("TEM", "SEM") and analysis.materials == ("Au", "SiO2")
    n_sentences = MAX_CAPTION_CHARS // len(SENTENCE)
    # every sentence: one TEM, one SEM (the "± SEM" is statistics)
    assert n_sentences * 2 <= len(analysis.microscopy_mentions) <= (n_sentences + 1) * 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize("unit", [b"Au<sup>+</sup>", b"<italic>TEM</italic> of Fe<sub>3</sub>O<sub>4</sub> "])
def test_an_11_mb_caption_split_by_inline_tags(unit):
    article = parse_article_bytes(_jats(unit * (11_000_000 // len(unit))), chem_ner="builtin")
    figure = article.figures[0]
    assert len(figure.caption) > 2_000_000
    assert figure.em.materials == (("Au",) if unit.startswith(b"Au") else ("Fe3O4",))
    assert figure.em.is_em == (b"TEM" in unit)


def test_overlapping_techniques_still_hide_each_other():
    mentions = find_microscopy("HR-TEM, TEM, HAADF-STEM and FE-SEM images; mean ± SEM of 3.")
    assert [m.value for m in mentions] == ["HRTEM", "TEM", "HAADF-STEM", "FESEM"]
