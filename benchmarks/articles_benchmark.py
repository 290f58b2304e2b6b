"""End-to-end throughput of ``ide extract --doi-list`` (articles per minute: harvest + parse + EM
decision + split / scalebar / segment / measure + store) against the local replay server.

    python benchmarks/articles_benchmark.py [--articles 12] [--latency-ms 200] [--method watershed] [-T 2] [--json]

The six recorded Elsevier demo articles (11 EM figures, 3 plots among them) are served under
``--articles`` distinct DOIs (as in ``harvest_benchmark.py``), every answer delayed by
``--latency-ms``, with the default harvest settings (Elsevier's documented 10 requests/s). Each
setting starts from an empty corpus and database:

- harvest only: the downloads alone, one article at a time (what overlap can hide);
- extract only: the extraction alone, from a corpus harvested beforehand (the floor for any overlap);
- sequential: one article at a time, harvested and then extracted (no overlap);
- workers=1: :func:`extract_articles` with one download thread, which fetches the next articles
  while the main thread segments;
- workers=4: four download threads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from imagedataextractor.harvest import HarvestConfig, harvest, load_settings
from imagedataextractor.harvest.replay import ReplayServer
from imagedataextractor.literature import extract_articles
from imagedataextractor.segment.predict import BPartISConfig

sys.path.insert(0, str(Path(__file__).parent))
from harvest_benchmark import DEMO, serve_copies  # noqa: E402 - the sibling benchmark's DOI copies


def run(name: str, dois: list[str], server: ReplayServer, *, mode: str, workers: int, method: str, samples: int | None) -> dict:
    """Time one setting on an empty database. mode: "sequential", "overlapped", "harvest" (harvest
    only, one article at a time) or "extract" (extract only, from a corpus harvested untimed)."""
    env = {**os.environ, **server.env(), "IDE_ELSEVIER_API_KEY": "benchmark", "IDE_CONFIG": os.devnull}
    settings = load_settings(environ=env)
    options = dict(method=method, bpartis=BPartISConfig(n_samples=samples), harvest_settings=settings, workers=workers)
    with tempfile.TemporaryDirectory() as folder:
        corpus, db = Path(folder) / "corpus", Path(folder) / "ide.sqlite"
        if mode == "extract":
            harvest(dois, corpus_dir=corpus, settings=settings)
        started = time.monotonic()
        if mode == "harvest":
            outcomes = harvest(dois, corpus_dir=corpus, settings=settings, config=HarvestConfig(article_workers=1)).outcomes
        elif mode == "sequential":
            summaries = [extract_articles([doi], corpus=corpus, db=db, **options) for doi in dois]
        else:
            summaries = [extract_articles(dois, corpus=corpus, db=db, **options)]
        elapsed = time.monotonic() - started
    statuses = [o.status for o in outcomes] if mode == "harvest" else [a.status for s in summaries for a in s.articles]
    if statuses.count("done") != len(dois):
        raise SystemExit(f"{name}: only {statuses.count('done')} of {len(dois)} done")
    counts = {} if mode == "harvest" else {
        "figures": sum(len(s.figures) for s in summaries),
        "em_panels": sum(s.n_em_panels for s in summaries),
        "particles": sum(s.n_particles for s in summaries),
    }
    return {"setting": name, "articles": len(dois), **counts, "elapsed_s": round(elapsed, 2), "articles_per_min": round(len(dois) / elapsed * 60, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--method", default="watershed", help="segmentation method (default watershed)")
    parser.add_argument("--samples", "-T", type=int, default=None, help="BPartIS MC-dropout samples")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = {
        "harvest only": ("harvest", 1),
        "extract only": ("extract", 1),
        "sequential": ("sequential", 1),
        "workers=1": ("overlapped", 1),
        "workers=4": ("overlapped", 4),
    }
    results = []
    with ReplayServer(DEMO, latency_s=args.latency_ms / 1000) as server:
        dois = serve_copies(server, args.articles)
        for name, (mode, workers) in settings.items():
            results.append(run(name, dois, server, mode=mode, workers=workers, method=args.method, samples=args.samples))
            if not args.json:
                r = results[-1]
                counts = f", {r['figures']} figures, {r['em_panels']} EM panels, {r['particles']} particles" if "figures" in r else ""
                print(f"{name:13s} {r['articles_per_min']:7.1f} articles/min  ({r['articles']} articles{counts}, {r['elapsed_s']:.1f} s)", flush=True)
    if args.json:
        print(json.dumps({"latency_ms": args.latency_ms, "method": args.method, "samples": args.samples, "results": results}))


if __name__ == "__main__":
    main()
