"""``ide report``: the static site over a database, read back as HTML (and in headless Chromium
when /usr/bin/chromium exists)."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import headless_chromium
import synthetic_db
from imagedataextractor.cli import main
from imagedataextractor.report import write_report
from imagedataextractor.store import open_db


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs.get("href", ""))
        elif tag in ("script", "link") and (attrs.get("src") or (attrs.get("href") or "").startswith("http")):
            self.scripts.append(attrs.get("src") or attrs["href"])


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text())
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    image = root / "figure.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(image)
    with open_db(root / "ide.sqlite") as db:
        synthetic_db.fill(db, n_articles=12, panels_per_article=2, image=image)
        db.upsert_figure(source=str(root / "gone.png"), sha256="f" * 64, is_em=True)  # a figure whose file has since gone
    write_report(root / "ide.sqlite", root / "site", workers=1, rows_per_page=10)
    return root / "site"


def test_index_lists_articles_with_filters_and_failed_items_with_reasons(site):
    index = (site / "index.html").read_text()
    assert (site / "index-2.html").exists()  # 12 articles + 1 lone figure + 2 unharvested DOIs, 10 rows a page
    assert 'data-material="Au"' in index and 'data-microscopy="TEM"' in index
    assert re.search(r'data-status="done\|failed\|skipped"', index)
    assert "HTTP 404 from the publisher" in (site / "index-2.html").read_text()
    assert "segmentation: image is blank" in index and "a plot, not a micrograph" in index  # the reasons table
    assert '<a href="https://doi.org/10.5555/synthetic.0">' in index


def test_article_page_has_every_panel_picture_provenance_and_the_doi(site):
    page = (site / "articles" / "article-1.html").read_text()
    assert '<a href="https://doi.org/10.5555/synthetic.0">' in page
    for text in ("method</th><td>watershed", "min_area_px = 30", "software version", "Particle table (30 rows)", "Uncertainty map: not stored",
                 "segmentation: image is blank", "not a micrograph: a plot, not a micrograph"):
        assert text in page
    images = _parse(site / "articles" / "article-1.html").images
    assert sum(src.endswith("-overlay.png") for src in images) == 2 and sum(src.endswith("-rdf.png") for src in images) == 2
    overlay = np.asarray(Image.open(site / "articles" / next(src for src in images if src.endswith("-overlay.png"))))
    assert overlay.shape[0] > synthetic_db.PANEL_PX[0]  # the legend band below the panel


def test_every_referenced_file_exists_and_nothing_comes_from_the_network(site):
    pages = [site / "index.html", site / "index-2.html", *(site / "articles").glob("*.html")]
    assert len(pages) == 2 + 13
    for page in pages:
        parsed = _parse(page)
        assert not parsed.scripts
        for reference in parsed.images + [href for href in parsed.links if not href.startswith("https://doi.org/")]:
            assert (page.parent / reference).is_file(), f"{page.name}: {reference}"


def test_a_figure_whose_image_is_gone_says_so(site):
    page = next(p for p in (site / "articles").glob("figure-*.html")).read_text()
    assert "Original image not found at" in page and "gone.png" in page


def test_rerun_redraws_only_changed_rows(site, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in (site / "articles").glob("*/*.png")}
    db = site.parent / "ide.sqlite"
    write_report(db, site, workers=1, rows_per_page=10)
    assert {p: p.stat().st_mtime_ns for p in (site / "articles").glob("*/*.png")} == before


def test_report_command(site, tmp_path):
    result = CliRunner().invoke(main, ["report", "--db", str(site.parent / "ide.sqlite"), "--out", str(tmp_path / "again"), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "13 articles/figures, 28 panels" in result.output and (tmp_path / "again" / "index.html").is_file()
    missing = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "none.sqlite" in missing.output


needs_chromium = pytest.mark.skipif(not headless_chromium.available(), reason="needs Debian's chromium (.ci/run installs it)")


@needs_chromium
def test_pages_load_in_chromium_without_errors_and_are_not_blank(site):
    with headless_chromium.Chromium() as browser:
        for page in (site / "index.html", site / "articles" / "article-1.html", next((site / "articles").glob("figure-*.html"))):
            browser.load(page.as_uri())
            # lazy images below the fold: scroll through, then wait until every image has loaded
            browser.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            browser.evaluate("Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
            broken = browser.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
            assert broken == [], page.name
            assert browser.errors() == [], page.name
            browser.evaluate("window.scrollTo(0, 0)")
            shot = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("L"), dtype=np.float64)
            assert shot.std() > 5, f"{page.name}: screenshot looks blank"  # a blank page: 0; a page of text: about 13


@needs_chromium
def test_material_filter_hides_the_other_articles(site):
    with headless_chromium.Chromium() as browser:
        browser.load((site / "index.html").as_uri() + "#material=Au")
        shown = browser.evaluate("[...document.querySelectorAll('#items tr[data-key]')].filter(r => !r.hidden).map(r => r.dataset.material)")
        total = browser.evaluate("document.querySelectorAll('#items tr[data-key]').length")
        assert shown and set(shown) == {"Au"} and total > len(shown)
        # choosing in the select does the same and carries the choice to the next page's link
        browser.evaluate("const s = document.getElementById('filter-material'); s.value = 'TiO2'; s.dispatchEvent(new Event('change'))")
        shown = browser.evaluate("[...document.querySelectorAll('#items tr[data-key]')].filter(r => !r.hidden).map(r => r.dataset.material)")
        assert set(shown) == {"TiO2"}
        assert browser.evaluate("document.querySelector('a.page').hash") == "#material=TiO2"
        # two filters at once: of the Au articles on page 1 (0 and 6) only article 0 has a failed panel
        shown = browser.evaluate("s.value = 'Au'; const t = document.getElementById('filter-status'); t.value = 'failed'; "
                                 "t.dispatchEvent(new Event('change')); "
                                 "[...document.querySelectorAll('#items tr[data-key]')].filter(r => !r.hidden).map(r => r.querySelector('a').textContent)")
        assert shown == ["Synthetic article 0 on Au nanoparticles"]
        assert browser.errors() == []


@needs_chromium
def test_error_detection_is_not_vacuous(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<html><body><img src="missing.png"><script>console.error("bad"); notDefined();</script></body></html>')
    with headless_chromium.Chromium() as browser:
        browser.load(page.as_uri())
        browser.evaluate("1")
        errors = browser.errors()
    assert any("bad" in e for e in errors) and any("notDefined" in e for e in errors) and any("ERR_FILE_NOT_FOUND" in e for e in errors)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads process children from Linux /proc")
def test_drawing_workers_end_when_the_report_process_is_killed(tmp_path):
    """A SIGKILLed ``ide report`` (or ``ide extract``, which writes the report) leaves no drawing
    worker behind: they notice their parent is gone and exit."""
    image = tmp_path / "figure.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(image)
    with open_db(tmp_path / "ide.sqlite") as db:
        synthetic_db.fill(db, n_articles=40, panels_per_article=2, image=image)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    report = subprocess.Popen([sys.executable, "-m", "imagedataextractor", "report", "--db", str(tmp_path / "ide.sqlite"), "--out", str(tmp_path / "site"),
                               "--workers", "2", "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children_file = Path(f"/proc/{report.pid}/task/{report.pid}/children")
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while len(workers) < 2 and report.poll() is None and time.monotonic() < deadline:
        workers = [int(pid) for pid in children_file.read_text().split()] if children_file.exists() else []
        time.sleep(0.05)
    assert len(workers) >= 2, "the report finished or stalled before its drawing workers started"
    report.send_signal(signal.SIGKILL)
    report.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # a failing run leaves nothing behind either
        os.kill(pid, signal.SIGKILL)
    assert not left, f"drawing workers {left} outlived their killed parent"
