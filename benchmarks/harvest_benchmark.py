"""Harvest throughput (articles per minute) against the local replay server with realistic latency.

    python benchmarks/harvest_benchmark.py [--articles 40] [--latency-ms 200] [--json]

The six recorded Elsevier demo articles (1 article request + 1-3 figure requests each) are served
under ``--articles`` distinct DOIs, every answer delayed by ``--latency-ms``. Three settings run
on a fresh corpus each: sequential (one request at a time), the defaults (8 articles at once, 4
requests per host, Elsevier's documented 10 requests/s), and the defaults without a rate limit
(what the concurrency alone gives).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

from imagedataextractor.harvest import HarvestConfig, harvest, load_settings
from imagedataextractor.harvest.config import DEFAULT_RATES_PER_S
from imagedataextractor.harvest.replay import ReplayServer

DEMO = Path(__file__).resolve().parents[1] / "corpus" / "demo"


def serve_copies(server: ReplayServer, n_articles: int) -> list[str]:
    """Serve each recorded Elsevier article again under synthetic DOIs; return those DOIs."""
    articles = sorted((DEMO / "elsevier" / "article").glob("*.xml"))
    dois = []
    for i in range(n_articles):
        source = articles[i % len(articles)]
        original = source.stem.replace("_", "/", 1)
        doi = f"10.1016/ide-bench.{i:05d}"
        body = re.sub(re.escape(original).encode(), doi.encode(), source.read_bytes())
        server.add_route(f"/elsevier/content/article/doi/{doi}", body, "text/xml;charset=UTF-8", query={"view": "FULL"}, require=("header", "X-ELS-APIKey"))
        dois.append(doi)
    return dois


def run(name: str, dois: list[str], config: HarvestConfig, server: ReplayServer) -> dict:
    with tempfile.TemporaryDirectory() as corpus:
        env = {**os.environ, **server.env(), "IDE_ELSEVIER_API_KEY": "benchmark", "IDE_CONFIG": os.devnull}
        summary = harvest(dois, corpus_dir=corpus, config=config, settings=load_settings(environ=env))
    done = summary.count("done")
    if done != len(dois):
        raise SystemExit(f"{name}: only {done} of {len(dois)} done: {[o.reason for o in summary.outcomes if o.status != 'done'][:3]}")
    return {
        "setting": name,
        "articles": done,
        "figures": sum(o.n_figures for o in summary.outcomes),
        "requests": summary.n_requests,
        "elapsed_s": round(summary.elapsed_s, 2),
        "articles_per_min": round(done / summary.elapsed_s * 60, 1),
        "requests_per_s": round(summary.n_requests / summary.elapsed_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    unlimited = {name: 1e6 for name in DEFAULT_RATES_PER_S}
    settings = {
        "sequential (1 article, 1 request per host)": HarvestConfig(article_workers=1, workers_per_host=1),
        "defaults (8 articles, 4 per host, Elsevier 10 req/s)": HarvestConfig(),
        "defaults without rate limit": HarvestConfig(rates_per_s=unlimited),
    }
    results = []
    with ReplayServer(DEMO, latency_s=args.latency_ms / 1000) as server:
        dois = serve_copies(server, args.articles)
        for name, config in settings.items():
            started = time.monotonic()
            results.append(run(name, dois, config, server))
            if not args.json:
                r = results[-1]
                print(f"{name:55s} {r['articles_per_min']:7.1f} articles/min  {r['requests_per_s']:5.1f} req/s  "
                      f"({r['articles']} articles, {r['figures']} figures, {r['requests']} requests, {time.monotonic() - started:.1f} s)")
    if args.json:
        print(json.dumps({"latency_ms": args.latency_ms, "results": results}))


if __name__ == "__main__":
    main()
