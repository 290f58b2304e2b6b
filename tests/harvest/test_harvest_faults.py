"""One harvest run with a fault injected for nearly every DOI: each is retried or recorded as failed
with its reason, nothing crashes, and every other DOI of the run completes. A second run retries
what can be retried and fetches only what is missing."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from imagedataextractor.document import parse_article
from imagedataextractor.document.corpus import article_dir
from imagedataextractor.harvest import harvest
from imagedataextractor.harvest.provenance import read_provenance
from imagedataextractor.harvest.replay import Fault, ReplayServer

NO_FIGURES = "10.1016/j.fault.2020.nofigures"
MALFORMED = "10.1016/j.fault.2020.malformed"
BOMB = "10.1016/j.fault.2020.bomb"
LONG_WAIT = "10.1016/j.fault.2020.longwait"
ESCAPE = "10.1234/../../escape"

BOMB_XML = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<full-text-retrieval-response xmlns="http://www.elsevier.com/xml/svapi/article/dtd"><coredata>&d;</coredata></full-text-retrieval-response>"""
NO_FIGURES_XML = b"""<?xml version="1.0"?><full-text-retrieval-response xmlns="http://www.elsevier.com/xml/svapi/article/dtd"
 xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/" xmlns:ce="http://www.elsevier.com/xml/common/dtd">
<coredata><prism:doi>10.1016/j.fault.2020.nofigures</prism:doi></coredata><originalText><ce:para>Text only.</ce:para></originalText>
</full-text-retrieval-response>"""
ESCAPE_JATS = b"""<?xml version="1.0"?><article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>
<article-id pub-id-type="doi">10.1234/../../escape</article-id></article-meta></front>
<body><fig id="F1"><label>Figure 1</label><caption><p>TEM image of Pd nanocubes.</p></caption><graphic xlink:href="escape-g001"/></fig></body></article>"""


def _object_path(demo_dir: Path, doi: str, locator: str) -> str:
    """Replay path of a demo figure's high-resolution Elsevier object."""
    article = parse_article(demo_dir / "elsevier" / "article" / f"{doi.replace('/', '_')}.xml", chem_ner="builtin")
    href = next(f.href for f in article.figures if f.locator == locator)
    return "/elsevier" + urlsplit(href).path


@pytest.fixture(scope="module")
def run(demo_dir, demo_dois, make_config, point_at, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("faults") / "corpus"
    server = ReplayServer(demo_dir)
    elsevier_article = "/elsevier/content/article/doi/"
    server.add_route(elsevier_article + NO_FIGURES, NO_FIGURES_XML, "text/xml", query={"view": "FULL"})
    server.add_route(elsevier_article + MALFORMED, b"<?xml version='1.0'?><full-text-retrieval-response><coredata>", "text/xml")
    server.add_route(elsevier_article + BOMB, BOMB_XML, "text/xml")
    server.add_route(elsevier_article + LONG_WAIT, NO_FIGURES_XML, "text/xml")
    server.add_fault(elsevier_article + LONG_WAIT, Fault("status", status=429, headers={"Retry-After": "3600"}))
    search = {"query": f'DOI:"{ESCAPE}"', "format": "json", "resultType": "lite"}
    hit = b'{"hitCount": 1, "resultList": {"result": [{"doi": "10.1234/../../escape", "pmcid": "PMC9900009", "isOpenAccess": "Y"}]}}'
    server.add_route("/europepmc/search", hit, "application/json", query=search)
    server.add_route("/europepmc/PMC9900009/fullTextXML", ESCAPE_JATS, "application/xml")
    server.add_route("/europepmc-site/articles/PMC9900009/bin/escape-g001.jpg", (demo_dir / "europepmc" / "bin" / "demo-pmc9900002-f1.jpg").read_bytes(), "image/jpeg")
    faults = {
        "429": (elsevier_article + "10.1016/j.ceramint.2019.10.198", Fault("status", times=1, status=429, headers={"Retry-After": "1"})),
        "500 twice": (_object_path(demo_dir, "10.1016/j.snb.2019.127107", "gr2"), Fault("status", times=2, status=500)),
        "500 always": (_object_path(demo_dir, "10.1016/j.chemosphere.2019.06.008", "gr1"), Fault("status", status=500)),
        "timeout": ("/europepmc/PMC9900001/fullTextXML", Fault("delay", times=1, delay_s=1.5)),
        "drop": ("/springer-static/image/art:10.5555/ide-demo.springer.1/MediaObjects/ide-demo_springer_1_Fig1_HTML.jpg", Fault("drop", times=1)),
        "truncate": (_object_path(demo_dir, "10.1016/j.saa.2019.117890", "gr4"), Fault("truncate")),
        "html": (_object_path(demo_dir, "10.1016/j.carbon.2019.12.021", "gr1"), Fault("html")),
    }
    for path, fault in faults.values():
        server.add_fault(path, fault)
    dois = demo_dois + [NO_FIGURES, MALFORMED, BOMB, LONG_WAIT, ESCAPE, "not-a-doi"]
    with server, pytest.MonkeyPatch.context() as monkeypatch:
        point_at(monkeypatch, server)
        summary = harvest(dois, corpus_dir=corpus, config=make_config())
        first_seen = list(server.seen)
        server.clear_seen()
        rerun = harvest(dois, corpus_dir=corpus, config=make_config())
        yield {"summary": summary, "rerun": rerun, "corpus": corpus, "seen": first_seen, "rerun_seen": list(server.seen), "faults": faults}


def _outcome(summary, doi):
    return next(o for o in summary.outcomes if o.doi == doi)


def test_every_unaffected_doi_completes(run):
    by_doi = {o.doi: o.status for o in run["summary"].outcomes}
    for doi in ("10.1016/j.apsusc.2020.145360", "10.5555/ide-demo.springer.2", "10.5555/ide-demo.europepmc.2"):
        assert by_doi[doi] == "done"
    assert len(by_doi) == 16


def test_429_is_retried_after_the_retry_after_delay(run):
    assert _outcome(run["summary"], "10.1016/j.ceramint.2019.10.198").status == "done"
    path, _ = run["faults"]["429"]
    times = [s.at for s in run["seen"] if s.path == path]
    assert len(times) == 2 and times[1] - times[0] >= 0.95


@pytest.mark.parametrize(("fault", "doi"), [("500 twice", "10.1016/j.snb.2019.127107"), ("timeout", "10.5555/ide-demo.europepmc.1"), ("drop", "10.5555/ide-demo.springer.1")])
def test_transient_faults_are_retried(run, fault, doi):
    outcome = _outcome(run["summary"], doi)
    assert outcome.status == "done", outcome.reason
    path, injected = run["faults"][fault]
    assert sum(s.path == path for s in run["seen"]) == (injected.times or 0) + 1
    for entry in read_provenance(outcome.directory)["figures"].values():
        with Image.open(outcome.directory / entry["file"]) as image:
            image.load()  # the retried download is whole


def test_persistent_500_fails_that_figure_and_keeps_the_rest(run):
    outcome = _outcome(run["summary"], "10.1016/j.chemosphere.2019.06.008")
    assert outcome.status == "failed"
    assert outcome.reason.startswith("1 of 2 figures failed: figure gr1: ") and "HTTP 500 (gave up after 3 attempts)" in outcome.reason
    provenance = read_provenance(outcome.directory)
    assert provenance["status"] == "failed" and provenance["permanent"] is False
    assert sorted(p.name for p in (outcome.directory / "figures").iterdir()) == ["gr2.jpg"]


@pytest.mark.parametrize(("fault", "doi", "locator"), [("truncate", "10.1016/j.saa.2019.117890", "gr4"), ("html", "10.1016/j.carbon.2019.12.021", "gr1")])
def test_undecodable_high_resolution_file_falls_back_to_the_standard_one(run, fault, doi, locator):
    """A truncated JPEG with a matching Content-Length, or a login page labelled as an image: the
    high-resolution file is never kept; the standard-resolution variant the article offers is."""
    outcome = _outcome(run["summary"], doi)
    assert outcome.status == "done", outcome.reason
    entry = read_provenance(outcome.directory)["figures"][locator]
    assert "_lrg" not in entry["url"] and f"-{locator}.jpg" in entry["url"]
    assert run["faults"][fault][0] in {s.path for s in run["seen"]}  # the high-resolution file was tried first
    with Image.open(outcome.directory / entry["file"]) as image:
        image.load()


@pytest.mark.parametrize(
    ("doi", "reason", "article_kept"),
    [
        (NO_FIGURES, "the article has no figures", True),
        (MALFORMED, "malformed XML", False),
        (BOMB, "XML declares entities (refused: possible entity-expansion attack)", False),
        (LONG_WAIT, "HTTP 429, server asks to wait 3600 s (more than 2 s)", False),
    ],
)
def test_bad_articles_fail_with_their_reason(run, doi, reason, article_kept):
    outcome = _outcome(run["summary"], doi)
    assert outcome.status == "failed" and reason in outcome.reason
    assert (article_dir(run["corpus"], doi) / "article.xml").is_file() == article_kept
    assert read_provenance(article_dir(run["corpus"], doi))["reason"] == outcome.reason


def test_doi_with_dot_dot_stays_inside_the_corpus(run):
    outcome = _outcome(run["summary"], ESCAPE)
    assert outcome.status == "done"
    corpus = run["corpus"].resolve()
    assert outcome.directory.parent == run["corpus"] and outcome.directory.name == "10.1234_.._.._escape"
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["corpus"]  # nothing written beside the corpus
    assert all(p.resolve().is_relative_to(corpus) for p in corpus.rglob("*"))


def test_no_temp_files_are_left_behind(run):
    assert not list(run["corpus"].rglob("*.part"))


def test_invalid_doi_is_reported_without_a_directory(run):
    outcome = _outcome(run["summary"], "not-a-doi")
    assert outcome.status == "failed" and outcome.directory is None and "not a DOI" in outcome.reason


def test_rerun_retries_transient_failures_and_skips_permanent_ones(run):
    rerun = {o.doi: o for o in run["rerun"].outcomes}
    assert rerun["10.1016/j.chemosphere.2019.06.008"].status == "failed"  # the 500 is still injected
    assert rerun["10.1016/j.chemosphere.2019.06.008"].n_fetched == 0
    assert rerun["10.1016/j.saa.2019.117890"].reason == "already harvested"  # done with the standard-resolution file
    for doi in (NO_FIGURES, MALFORMED, BOMB):
        assert rerun[doi].status == "skipped" and rerun[doi].reason.startswith("failed before: ") and "--retry-failed" in rerun[doi].reason
    assert rerun["10.1016/j.apsusc.2020.145360"].reason == "already harvested"
    # only the figures that were missing were asked for again (each up to max_attempts), no article
    asked = {s.path for s in run["rerun_seen"]}
    assert not any("/content/article/" in p and "fault" not in p for p in asked)
    assert run["faults"]["500 always"][0] in asked
