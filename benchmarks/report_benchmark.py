"""Benchmark of ``ide report`` over a database of many panels (generated rows).

    python benchmarks/report_benchmark.py --panels 10000 --panels-per-article 10
    python benchmarks/report_benchmark.py --panels 1000 --workers 2 --json

Fills a fresh SQLite database through the store's API with ``--panels`` measured panels of 30
particles (tests/report/synthetic_db.py: articles of ``--panels-per-article`` panels, one figure
each, sources pointing at examples/figure-demo.png so overlays are drawn; every tenth article also
has a failed and a skipped panel), then writes the site and measures:

- generation: seconds for ``write_report`` (a fresh output folder), and for a rerun over the same
  folder (nothing changed: only pages are rewritten);
- page weight: bytes of each index page and of an article page's HTML, and of that article page
  with every picture it shows (lazy loading fetches them as they scroll in); the whole site;
- load time in headless Chromium (Debian's ``chromium``, driven over the DevTools protocol):
  navigation to the load event of the first index page and of an article page, and the time to
  apply a material filter on the index page. Each is the median of 5 loads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "report"))

import headless_chromium  # noqa: E402
import synthetic_db  # noqa: E402

from imagedataextractor.report import write_report  # noqa: E402
from imagedataextractor.store import open_db  # noqa: E402


def _size(paths) -> int:
    return sum(p.stat().st_size for p in paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panels", type=int, default=10000)
    parser.add_argument("--panels-per-article", type=int, default=10)
    parser.add_argument("--workers", type=int, default=None, help="processes drawing plots (default: CPU count)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ide-report-bench-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        with open_db(root / "ide.sqlite") as db:
            synthetic_db.fill(db, n_articles=args.panels // args.panels_per_article, panels_per_article=args.panels_per_article,
                              image=REPO / "examples" / "figure-demo.png")
        fill_s = time.perf_counter() - started
        summary = write_report(root / "ide.sqlite", root / "site", workers=args.workers)
        rerun = write_report(root / "ide.sqlite", root / "site", workers=args.workers)
        site = root / "site"
        indexes = sorted(site.glob("index*.html"))
        article = site / "articles" / "article-1.html"
        article_pictures = list((site / "articles" / "article-1").glob("*.png")) + list((site / "articles" / "article-1").glob("*.jpg"))
        result = {
            "panels": summary.n_panels,
            "articles": summary.n_groups,
            "pages": summary.n_pages,
            "pictures": summary.n_images,
            "fill_db_s": round(fill_s, 1),
            "generate_s": round(summary.elapsed_s, 1),
            "generate_ms_per_panel": round(1000 * summary.elapsed_s / summary.n_panels, 1),
            "rerun_s": round(rerun.elapsed_s, 1),
            "index_pages": len(indexes),
            "index_kb_max": round(max(p.stat().st_size for p in indexes) / 1024, 1),
            "article_html_kb": round(article.stat().st_size / 1024, 1),
            "article_with_pictures_kb": round((article.stat().st_size + _size(article_pictures)) / 1024, 1),
            "site_mb": round(_size(p for p in site.rglob("*") if p.is_file()) / 2**20, 1),
        }
        if headless_chromium.available():
            with headless_chromium.Chromium() as browser:
                def median_load(url: str) -> float:
                    return statistics.median(browser.load(url) for _ in range(5))

                result["index_load_ms"] = round(1000 * median_load(indexes[0].as_uri()), 1)
                filter_ms = []
                for material in synthetic_db.MATERIALS[:5]:
                    filter_ms.append(browser.evaluate(
                        f"(() => {{ const s = document.getElementById('filter-material'); const t = performance.now(); s.value = '{material}'; "
                        "s.dispatchEvent(new Event('change')); document.body.offsetHeight; return performance.now() - t; })()"))
                result["index_filter_ms"] = round(statistics.median(filter_ms), 1)
                result["article_load_ms"] = round(1000 * median_load(article.as_uri()), 1)
                result["browser_errors"] = browser.errors()
        else:
            result["browser"] = "chromium not found: no load times"
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<28}{value}")


if __name__ == "__main__":
    main()
