"""The article-level pipeline (``ide extract --doi-list`` / ``ide extract ARTICLE``): DOIs harvested
from the local replay of the publishers, or local article files, through the EM decision and the
single-figure pipeline into the database; reruns, a killed run, and faulty articles."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from imagedataextractor.cli import main
from imagedataextractor.harvest import HarvestConfig
from imagedataextractor.harvest.replay import Fault, ReplayServer
from imagedataextractor.document.corpus import is_article_source
from imagedataextractor.document.em import caption_verdict
from imagedataextractor.literature import extract_articles
from imagedataextractor.store import open_db

DEMO = Path(__file__).resolve().parents[2] / "corpus" / "demo"
KEYS = {"IDE_ELSEVIER_API_KEY": "els-key-test", "IDE_SPRINGER_API_KEY": "spr-key-test"}
# Three publishers, 5 figures: 3 EM (FESEM, TEM with 38 particles, TEM), 2 plots.
SUBSET = ["10.1016/j.carbon.2019.12.021", "10.5555/ide-demo.springer.1", "10.5555/ide-demo.europepmc.1"]
RESULT_TABLES = ("articles", "figures", "panels", "extractions", "scalebars", "particles", "distributions", "rdfs")
FAST = HarvestConfig(connect_timeout_s=2.0, read_timeout_s=2.0, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.05,
                     rates_per_s={name: 1000.0 for name in ("elsevier", "springer", "springer-figures", "europepmc", "europepmc-figures", "crossref")})


def _point_at(monkeypatch: pytest.MonkeyPatch, server: ReplayServer) -> None:
    for name, value in {**server.env(), **KEYS}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IDE_CONFIG", str(Path(__file__).parent / "no-such-config.toml"))  # never the user's file
    monkeypatch.delenv("IDE_DB", raising=False)


@pytest.fixture(scope="module")
def replay():
    with ReplayServer(DEMO) as server, pytest.MonkeyPatch.context() as monkeypatch:
        _point_at(monkeypatch, server)
        yield server


@pytest.fixture(scope="module")
def uninterrupted(replay, tmp_path_factory):
    """SUBSET extracted once, then again: (first summary, second summary, db path, counts after each, requests of the rerun)."""
    root = tmp_path_factory.mktemp("literature")
    db = root / "ide.sqlite"
    first = extract_articles(SUBSET, corpus=root / "corpus", db=db, method="watershed", workers=2, harvest_config=FAST)
    with open_db(db) as database:
        counts = database.counts()
    replay.clear_seen()
    second = extract_articles(SUBSET, corpus=root / "corpus", db=db, method="watershed", workers=2, harvest_config=FAST)
    with open_db(db) as database:
        counts_again = database.counts()
    return first, second, db, counts, counts_again, list(replay.seen)


def test_doi_list_fills_every_table(uninterrupted):
    summary, _, db, counts, _, _ = uninterrupted
    assert [(a.item, a.status) for a in summary.articles] == [(doi, "done") for doi in SUBSET]
    assert {(f.locator, f.status, f.decided_by) for f in summary.figures} == {
        ("gr1", "done", "caption"), ("Fig1", "done", "caption"), ("Fig2", "skipped", "caption"),
        ("F1", "done", "caption"), ("F2", "skipped", "caption"),
    }
    assert summary.reasons("skipped") == {"caption names no electron microscopy": 2}
    assert counts["articles"] == 3 and counts["figures"] == 5 and counts["panels"] == counts["extractions"] == 3
    assert counts["scalebars"] >= 1 and counts["particles"] == summary.n_particles > 0
    assert counts["distributions"] == 2 * 3 and counts["rdfs"] >= 1  # size + aspect-ratio histogram per EM panel
    with open_db(db) as database:
        articles = database.read_table("articles").set_index("doi")
        figures = database.read_table("figures")
        distributions = database.read_table("distributions")
        panels = database.read_table("panels")
        extractions = database.read_table("extractions")
    assert articles.loc["10.5555/ide-demo.springer.1", "source"] == "springer"
    springer = figures[figures.article_id == articles.loc["10.5555/ide-demo.springer.1", "id"]].set_index("locator")
    assert springer.loc["Fig1", "microscopy_type"] == "TEM" and springer.loc["Fig1", "materials"] == ["TiO2"] and springer.loc["Fig1", "is_em"]
    assert not springer.loc["Fig2", "is_em"] and "degradation" in springer.loc["Fig2", "caption"]
    assert set(extractions.doi) == {doi.lower() for doi in SUBSET} and set(extractions.method) == {"watershed"}
    # "all TEM size distributions of TiO2": distributions -> panels -> figures with caption metadata
    joined = distributions.merge(panels, left_on="panel_id", right_on="id", suffixes=("", "_panel")).merge(
        figures, left_on="figure_id", right_on="id", suffixes=("", "_figure"))
    tio2 = joined[joined.microscopy_type.str.contains("TEM") & joined.materials.map(lambda m: "TiO2" in m)]
    [fig1] = [f for f in summary.figures if f.locator == "Fig1"]
    assert list(tio2.kind) == ["diameter_nm", "aspect_ratio_feret"] and tio2.n.iloc[0] == fig1.n_particles > 10


def test_rerun_adds_nothing_and_asks_no_publisher(uninterrupted):
    _, second, _, counts, counts_again, seen = uninterrupted
    assert counts_again == counts
    assert [(a.status, a.reason) for a in second.articles] == [("skipped", "already extracted")] * len(SUBSET)
    assert seen == [] and second.figures == ()


def _figures_done(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM jobs WHERE job LIKE 'figures:%' AND status = 'done'").fetchone()[0]
    except sqlite3.Error:  # not created yet, or being written
        return 0


def test_killed_run_resumes_to_the_same_counts(uninterrupted, replay, tmp_path):
    _, _, _, counts, _, _ = uninterrupted
    doi_list = tmp_path / "dois.txt"
    doi_list.write_text("# subset of the demo\n" + "\n".join(SUBSET) + "\n")
    out = tmp_path / "out"
    command = ["extract", "--doi-list", str(doi_list), "--out", str(out), "--method", "watershed", "--workers", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr, subprocess.Popen([sys.executable, "-m", "imagedataextractor", *command], env=env, stdout=subprocess.DEVNULL, stderr=stderr) as process:
        try:
            deadline = time.monotonic() + 120
            while _figures_done(out / "ide.sqlite") < 1 and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert process.poll() is None, f"the run ended before it could be killed: {log.read_text()[-2000:]}"
        finally:
            process.send_signal(signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    with open_db(out / "ide.sqlite") as database:
        partial = database.counts()
    assert 0 < partial["particles"] and partial["jobs"] < counts["jobs"]

    result = CliRunner().invoke(main, [*command, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["articles"]["failed"] == 0 and summary["figures"]["failed"] == 0
    assert "already extracted" in {a["reason"] for a in summary["article_outcomes"]} | {f["reason"] for f in summary["figure_outcomes"]}
    with open_db(out / "ide.sqlite") as database:
        resumed = database.counts()
    assert resumed == counts


MALFORMED = "10.1016/j.fault.2020.malformed"
NO_FIGURES = "10.1016/j.fault.2020.nofigures"
NO_FIGURES_XML = b"""<?xml version="1.0"?><full-text-retrieval-response xmlns="http://www.elsevier.com/xml/svapi/article/dtd"
 xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/" xmlns:ce="http://www.elsevier.com/xml/common/dtd">
<coredata><prism:doi>10.1016/j.fault.2020.nofigures</prism:doi></coredata><originalText><ce:para>Text only.</ce:para></originalText>
</full-text-retrieval-response>"""


def test_faulty_articles_and_figures_fail_with_their_reason_and_the_rest_completes(tmp_path, monkeypatch):
    with ReplayServer(DEMO) as server:
        _point_at(monkeypatch, server)
        server.add_route(f"/elsevier/content/article/doi/{MALFORMED}", b"<?xml version='1.0'?><full-text-retrieval-response><coredata>", "text/xml")
        server.add_route(f"/elsevier/content/article/doi/{NO_FIGURES}", NO_FIGURES_XML, "text/xml", query={"view": "FULL"})
        server.add_fault("/europepmc-site/articles/PMC9900001/bin/demo-pmc9900001-f1.jpg", Fault("html"))  # a login page, not the image
        dois = [MALFORMED, "10.1016/j.carbon.2019.12.021", NO_FIGURES, "10.5555/ide-demo.europepmc.1", "not-a-doi"]
        summary = extract_articles(dois, corpus=tmp_path / "corpus", db=tmp_path / "ide.sqlite", method="watershed", workers=3, harvest_config=FAST)
    outcomes = {a.item: a for a in summary.articles}
    assert [a.item for a in summary.articles] == dois
    assert outcomes[MALFORMED].status == "failed" and "malformed XML" in outcomes[MALFORMED].reason
    assert outcomes[NO_FIGURES].status == "failed" and outcomes[NO_FIGURES].reason == "the article has no figures"
    assert outcomes["not-a-doi"].status == "failed" and "not a DOI" in outcomes["not-a-doi"].reason
    assert outcomes["10.1016/j.carbon.2019.12.021"].status == "done" and outcomes["10.1016/j.carbon.2019.12.021"].n_em_panels == 1
    europepmc = outcomes["10.5555/ide-demo.europepmc.1"]
    assert europepmc.status == "failed" and europepmc.reason == "1 of 2 figures failed"
    [f1] = [f for f in summary.figures if f.locator == "F1"]
    assert f1.status == "failed" and f1.reason.startswith("no image file for this figure (") and "got text/html" in f1.reason and f1.is_em
    with open_db(tmp_path / "ide.sqlite") as database:
        counts = database.counts()
        jobs = database.read_table("jobs").set_index("item")
    assert counts["articles"] == 2 and counts["figures"] == 3 and counts["panels"] == 1  # carbon gr1 measured; F1, F2 recorded
    assert jobs.loc[MALFORMED, "status"] == "failed" and "malformed XML" in jobs.loc[MALFORMED, "reason"]
    assert jobs.loc["10.5555/ide-demo.europepmc.1 F2", "reason"] == "caption names no electron microscopy"


JATS = """<?xml version="1.0" encoding="UTF-8"?>
<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><journal-meta><journal-title-group><journal-title>Local Journal</journal-title>
</journal-title-group></journal-meta><article-meta><article-id pub-id-type="doi">10.5555/local.{n}</article-id><title-group>
<article-title>Local article {n}</article-title></title-group></article-meta></front><body>
<fig id="F1"><label>Figure 1</label><caption><p>TEM image of Au nanoparticles.</p></caption><graphic xlink:href="f1"/></fig>
<fig id="F2"><label>Figure 2</label><caption><p>The product after washing.</p></caption><graphic xlink:href="images/washed.png"/></fig>
<fig id="F3"><label>Figure 3</label><caption><p>Overview of the reactor.</p></caption><graphic xlink:href="f3"/></fig>
<fig id="F4"><label>Figure 4</label><caption><p>XRD patterns of the powders.</p></caption><graphic xlink:href="f4"/></fig>
</body></article>"""


def test_local_article_files_and_uncertain_captions_decided_by_the_image(figure_path, tmp_path):
    """figure_path (conftest): a micrograph of 8 discs with a "100 nm" bar beside a line plot."""
    folder = tmp_path / "articles"
    (folder / "figures").mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "one.xml").write_text(JATS.format(n=1))
    figure = Image.open(figure_path)
    figure.save(folder / "figures" / "F1.png")
    figure.save(folder / "images" / "washed.png")  # found through the figure's href
    figure.crop((figure.width // 2 + 10, 0, figure.width, figure.height)).save(folder / "figures" / "F3.png")  # the plot alone
    assert is_article_source(folder) and is_article_source(folder / "one.xml") and not is_article_source(folder / "figures")

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["extract", str(folder), "--out", str(out), "--method", "watershed", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["articles"] == {"done": 1, "skipped": 0, "failed": 0}
    figures = {f["locator"]: f for f in summary["figure_outcomes"]}
    assert (figures["F1"]["status"], figures["F1"]["decided_by"], figures["F1"]["materials"]) == ("done", "caption", ["Au"])
    assert (figures["F2"]["status"], figures["F2"]["decided_by"], figures["F2"]["is_em"]) == ("done", "image", True)
    assert (figures["F3"]["status"], figures["F3"]["reason"]) == ("skipped", "caption names no electron microscopy and no panel looks like a micrograph")
    assert (figures["F4"]["status"], figures["F4"]["decided_by"]) == ("skipped", "caption")
    assert figures["F1"]["n_em_panels"] == figures["F2"]["n_em_panels"] == 1  # the plot panel beside it is skipped
    assert figures["F1"]["n_particles"] == figures["F2"]["n_particles"] == 8
    with open_db(out / "ide.sqlite") as database:
        stored = database.read_table("figures").set_index("locator")
        scalebars = database.read_table("scalebars")
    assert stored.loc["F2", "is_em"] and not stored.loc["F3", "is_em"] and pd.isna(stored.loc["F2", "microscopy_type"])
    assert list(scalebars.text) == ["100 nm", "100 nm"] and list(scalebars.nm_per_px.round(3)) == [1.0, 1.0]

    again = CliRunner().invoke(main, ["extract", str(folder / "one.xml"), "--out", str(out), "--method", "watershed", "--json"])
    assert json.loads(again.output)["article_outcomes"][0]["reason"] == "already extracted"


def test_caption_verdicts():
    assert caption_verdict("Mean ± SEM of three runs, plotted against time.", is_em=False) == "other"
    assert caption_verdict("UV–vis absorption spectra.", is_em=False) == "other"
    assert caption_verdict("", is_em=False) == "uncertain"
    assert caption_verdict("Cu nanowires on the substrate.", is_em=False) == "uncertain"
    assert caption_verdict("anything", is_em=True) == "em"


def test_stored_distributions_describe_the_summarys_particles_on_the_demo_corpus(replay, tmp_path):
    """For every measured panel of the demo corpus, the stored size distribution's n and mean are
    those of the particles the summary counts: with border particles segmented (keep_border), they
    are stored in the particle table but left out of the statistics (include_border off)."""
    dois = [line for line in (DEMO / "dois.txt").read_text().splitlines() if line and not line.startswith("#")]
    summary = extract_articles(dois, corpus=tmp_path / "corpus", db=tmp_path / "ide.sqlite", method="watershed", keep_border=True,
                               workers=2, harvest_config=FAST)
    assert summary.count("done") >= 6 and summary.n_em_panels >= 6
    with open_db(tmp_path / "ide.sqlite") as database:
        distributions = database.read_table("distributions")
        particles = database.read_table("particles")
    sizes = distributions[distributions.kind.str.startswith("diameter_")]
    assert len(sizes) == summary.n_em_panels
    border_particles = 0
    for row in sizes.itertuples():
        of_panel = particles[particles.extraction_id == row.extraction_id]
        counted = of_panel[~of_panel.touches_border.astype(bool)][row.kind]
        border_particles += int(of_panel.touches_border.sum())
        assert row.n == len(counted)
        assert row.mean == pytest.approx(counted.mean(), rel=1e-12) if len(counted) else row.mean is None
    assert border_particles > 0
