"""Harvesting the recorded demo corpus through the replay server, end to end."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

from click.testing import CliRunner
from PIL import Image

from imagedataextractor.cli import main
from imagedataextractor.document import read_corpus
from imagedataextractor.document.corpus import article_dir
from imagedataextractor.harvest import harvest
from imagedataextractor.harvest.base import rebase
from imagedataextractor.harvest.provenance import read_provenance


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_harvest_end_to_end_then_rerun_fetches_nothing(replay, demo_dois, make_config, tmp_path):
    summary = harvest(demo_dois, corpus_dir=tmp_path, config=make_config())
    assert [o.status for o in summary.outcomes] == ["done"] * len(demo_dois)
    assert {o.source for o in summary.outcomes} == {"elsevier", "springer", "europepmc"}
    assert sum(o.n_figures for o in summary.outcomes) == 20
    # Elsevier 6 articles + 14 figures; Springer 2 queries + 3 figures; Europe PMC 2 searches + 2 articles
    # + 3 figures; Crossref 4 (the 10.5555 DOIs: prefix unknown)
    assert summary.n_requests == len(replay.seen) == 36
    reading = read_corpus(tmp_path, chem_ner="builtin")
    assert not reading.failures and len(reading.articles) == len(demo_dois)
    for article in reading.articles:
        for figure in article.figures:
            with Image.open(figure.image_path) as image:
                image.load()  # every kept figure decodes
        provenance = read_provenance(article.path.parent)
        assert provenance["status"] == "done" and provenance["doi"] == article.doi
        assert set(provenance["figures"]) == {f.locator for f in article.figures}
    em = [(a.doi, f.locator, f.em.microscopy, f.em.materials) for a in reading.articles for f in a.em_figures]
    assert ("10.1016/j.snb.2019.127107", "gr1", ("TEM",), ("Fe3O4", "SiO2")) in em
    assert ("10.1016/j.saa.2019.117890", "gr4", ("HRTEM",), ("Au",)) in em
    assert len(em) == 14  # every figure but the six plots

    before = _files(tmp_path)
    replay.clear_seen()
    again = harvest(demo_dois, corpus_dir=tmp_path, config=make_config())
    assert [(o.status, o.reason) for o in again.outcomes] == [("skipped", "already harvested")] * len(demo_dois)
    assert replay.seen == [] and again.n_requests == 0
    assert _files(tmp_path) == before


def test_elsevier_figures_are_the_high_resolution_objects_from_the_overridden_base(replay, make_config, demo_dir, tmp_path):
    doi = "10.1016/j.snb.2019.127107"
    harvest([doi], corpus_dir=tmp_path, config=make_config())
    provenance = read_provenance(article_dir(tmp_path, doi))
    assert sorted(provenance["figures"]) == ["gr1", "gr2", "gr5"]
    for locator, entry in provenance["figures"].items():
        # the article XML names https://api.elsevier.com/...; the clients asked the replay server instead
        assert entry["url"].startswith(f"{replay.url}/elsevier/content/object/eid/1-s2.0-")
        assert entry["url"].endswith(f"-{locator}_lrg.jpg?httpAccept=%2A%2F%2A")
        name = urlsplit(entry["url"]).path.rsplit("/", 1)[1]
        saved = (article_dir(tmp_path, doi) / entry["file"]).read_bytes()
        assert saved == (demo_dir / "elsevier" / "object" / name).read_bytes()  # IMAGE-HIGH-RES, byte for byte
        with Image.open(demo_dir / "elsevier" / "object" / name.replace("_lrg.jpg", ".jpg")) as standard:
            assert Image.open(io.BytesIO(saved)).width > standard.width
    assert rebase("https://api.elsevier.com/content/object/eid/x-gr1.jpg", "https://api.elsevier.com", "http://mirror:1/els") == "http://mirror:1/els/content/object/eid/x-gr1.jpg"
    assert rebase("https://cdn.example.org/x.jpg", "https://api.elsevier.com", "http://mirror:1/els") == "https://cdn.example.org/x.jpg"


def test_keys_are_sent_but_never_logged_or_stored(replay, demo_dois, make_config, keys, tmp_path, caplog):
    from imagedataextractor.harvest.replay import Fault

    replay.add_fault("/springer/openaccess/jats", Fault("status", times=1, status=503))  # a retry message that names the URL
    replay.add_fault("/elsevier/content/object/eid/*", Fault("status", times=2, status=500))
    with caplog.at_level(logging.DEBUG, logger="imagedataextractor"):
        summary = harvest(demo_dois + ["10.1016/j.absent.2020.1"], corpus_dir=tmp_path, config=make_config())
    assert summary.count("done") == len(demo_dois) and summary.count("failed") == 1
    elsevier = [s for s in replay.seen if s.path.startswith("/elsevier/")]
    assert elsevier and all(s.headers.get("X-ELS-APIKey") == keys["IDE_ELSEVIER_API_KEY"] for s in elsevier)
    assert all(s.headers.get("X-ELS-Insttoken") == keys["IDE_ELSEVIER_INSTTOKEN"] for s in elsevier)
    springer = [s for s in replay.seen if s.path.startswith("/springer/")]
    assert springer and all(s.query.get("api_key") == "***" for s in springer)  # present (the server hides its value)
    assert not any("X-ELS-APIKey" in s.headers for s in replay.seen if not s.path.startswith("/elsevier/"))
    stored = b"".join(_files(tmp_path).values()) + json.dumps(summary.to_records()).encode()
    for secret in keys.values():
        assert secret not in caplog.text
        assert secret.encode() not in stored
    assert "retry" in caplog.text and "api_key" not in caplog.text


def test_without_keys_publisher_sources_are_skipped_with_the_reason(monkeypatch, point_at, make_config, demo_dois, tmp_path):
    from imagedataextractor.harvest.replay import ReplayServer

    with ReplayServer(Path(__file__).resolve().parents[2] / "corpus" / "demo") as server:
        point_at(monkeypatch, server, keys=False)
        summary = harvest(demo_dois, corpus_dir=tmp_path, config=make_config())
        assert not any("X-ELS-APIKey" in s.headers for s in server.seen)
    by_doi = {o.doi: o for o in summary.outcomes}
    elsevier = by_doi["10.1016/j.carbon.2019.12.021"]
    assert elsevier.status == "skipped"
    assert "no Elsevier API key (set IDE_ELSEVIER_API_KEY" in elsevier.reason and "europepmc: no open-access full text" in elsevier.reason
    assert "no Springer Nature API key" in by_doi["10.5555/ide-demo.springer.1"].reason
    assert by_doi["10.5555/ide-demo.europepmc.1"].status == "done"


def test_publisher_option_uses_only_that_source(replay, make_config, tmp_path):
    summary = harvest(["10.1016/j.carbon.2019.12.021"], corpus_dir=tmp_path, publisher="europepmc", config=make_config())
    assert summary.outcomes[0].status == "skipped" and summary.outcomes[0].reason == "europepmc: no open-access full text"
    assert {s.path for s in replay.seen} == {"/europepmc/search"}


def test_interrupted_run_resumes_with_only_the_missing_files(replay, make_config, tmp_path):
    doi = "10.1016/j.ceramint.2019.10.198"
    harvest([doi], corpus_dir=tmp_path, config=make_config())
    directory = article_dir(tmp_path, doi)
    gr5_url = read_provenance(directory)["figures"]["gr5"]["url"]
    # what a killed run leaves: a half-written temp file, a figure not yet renamed, status in progress
    (directory / "figures" / "gr5.jpg").unlink()
    (directory / "figures" / ".gr5.jpg.k2j4.part").write_bytes(b"\xff\xd8 half a jpeg")
    provenance = json.loads((directory / "provenance.json").read_text())
    del provenance["figures"]["gr5"]
    (directory / "provenance.json").write_text(json.dumps({**provenance, "status": "in-progress"}))
    replay.clear_seen()
    summary = harvest([doi], corpus_dir=tmp_path, config=make_config())
    assert summary.outcomes[0].status == "done" and summary.outcomes[0].n_fetched == 1
    assert [s.path for s in replay.seen] == [urlsplit(gr5_url).path]
    assert sorted(p.name for p in (directory / "figures").iterdir()) == ["gr1.jpg", "gr2.jpg", "gr5.jpg"]


def test_cli_harvest_and_document(replay, demo_dois, tmp_path):
    runner = CliRunner()
    doi_list = tmp_path / "dois.txt"
    doi_list.write_text("# demo\n" + "\n".join(demo_dois[:2]) + "\nnot-a-doi\n")
    result = runner.invoke(main, ["harvest", "--doi-list", str(doi_list), "--corpus", str(tmp_path / "c"), "--json", "--no-progress"])
    assert result.exit_code == 3, result.output  # some DOIs failed
    report = json.loads(result.output)
    assert (report["done"], report["skipped"], report["failed"]) == (2, 0, 1)
    assert report["outcomes"][2]["reason"] == "'not-a-doi': not a DOI (expected 10.<registrant>/<suffix>)"
    text = runner.invoke(main, ["harvest", "--doi-list", str(doi_list), "--corpus", str(tmp_path / "c")])
    assert text.exit_code == 3 and "3 DOIs in" in text.output and "1 failed" in text.output and "skipped 10.1016/j.apsusc.2020.145360: already harvested" in text.output
    listing = runner.invoke(main, ["document", str(tmp_path / "c"), "--em-only"])
    assert listing.exit_code == 0 and "gr6      EM SEM [SiO2]" in listing.output and "gr4" not in listing.output
    all_done = runner.invoke(main, ["harvest", demo_dois[0], "--corpus", str(tmp_path / "c")])
    assert all_done.exit_code == 0, all_done.output
    all_failed = runner.invoke(main, ["harvest", "not-a-doi", "10.1016/j.absent.2020.1", "--corpus", str(tmp_path / "c")])
    assert all_failed.exit_code == 1 and "0 done, 0 skipped, 2 failed" in all_failed.output
    usage = runner.invoke(main, ["harvest", "--corpus", str(tmp_path / "c")])
    assert usage.exit_code == 2 and "give DOIs as arguments or --doi-list FILE" in usage.output
    for command in ("harvest", "document"):
        assert runner.invoke(main, [command, "--help"]).exit_code == 0


def test_bulk_download_layout_gets_only_its_figures(replay, demo_dir, make_config, tmp_path):
    doi = "10.1016/j.snb.2019.127107"
    directory = article_dir(tmp_path, doi)
    directory.mkdir()
    (directory / "article.xml").write_bytes((demo_dir / "elsevier" / "article" / "10.1016_j.snb.2019.127107.xml").read_bytes())
    summary = harvest([doi], corpus_dir=tmp_path, config=make_config())
    assert summary.outcomes[0].status == "done" and summary.outcomes[0].n_fetched == 3
    assert all("/content/object/" in s.path for s in replay.seen) and len(replay.seen) == 3
    assert read_provenance(directory)["article"] == {"file": "article.xml", "url": None, "note": "present before harvesting"}


def test_em_only_then_all_fetches_the_rest(replay, make_config, tmp_path):
    doi = "10.1016/j.saa.2019.117890"
    first = harvest([doi], corpus_dir=tmp_path, figures="em", config=make_config())
    assert first.outcomes[0].status == "done" and first.outcomes[0].n_figures == 2  # gr2 TEM, gr4 HRTEM; not the gr1 spectra
    again = harvest([doi], corpus_dir=tmp_path, figures="em", config=make_config())
    assert again.outcomes[0].reason == "already harvested"
    replay.clear_seen()
    full = harvest([doi], corpus_dir=tmp_path, config=make_config())
    assert full.outcomes[0].status == "done" and full.outcomes[0].n_figures == 3 and full.outcomes[0].n_fetched == 1
    assert len(replay.seen) == 1 and replay.seen[0].path.endswith("-gr1_lrg.jpg")


def test_a_kept_figure_file_that_no_longer_decodes_is_fetched_again(replay, make_config, tmp_path):
    doi = "10.1016/j.ceramint.2019.10.198"
    harvest([doi], corpus_dir=tmp_path, config=make_config())
    directory = article_dir(tmp_path, doi)
    gr1 = directory / "figures" / "gr1.jpg"
    gr1.write_bytes(gr1.read_bytes()[: gr1.stat().st_size // 2])  # damaged on disk since
    replay.clear_seen()
    summary = harvest([doi], corpus_dir=tmp_path, config=make_config())
    assert summary.outcomes[0].status == "done" and summary.outcomes[0].n_fetched == 1
    assert [urlsplit(read_provenance(directory)["figures"]["gr1"]["url"]).path] == [s.path for s in replay.seen]
    with Image.open(gr1) as image:
        image.load()
