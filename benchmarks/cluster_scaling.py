"""Scaling of ``ide extract --doi-list`` over Dask worker processes, against the local replay server
with its latency on, in one run: articles per minute with the single-process threads path and with
``--cluster local:1``, ``local:2`` and ``local:4`` (workers store their own rows), and ``local:2``
with the rows sent back to the client, which stores them (the two ways of writing, compared).

    python benchmarks/cluster_scaling.py [--articles 12] [--latency-ms 200] [--method watershed] [--json]

The six recorded Elsevier demo articles are served under ``--articles`` distinct DOIs (as in
``harvest_benchmark.py``), default harvest settings (Elsevier's 10 requests/s, here held for the
whole cluster). Every row starts from an empty corpus and SQLite database. A cluster row's time
includes starting its worker processes and importing the package there; that start is measured on
its own beforehand (``start_s``) and ``steady_articles_per_min`` leaves it out. Also measured, for
the 100-node model in BENCHMARKS.md: the cost of one cluster-wide rate-limit reservation (round
trips to the scheduler), and the database rows and bytes per article.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from imagedataextractor.cluster import parse_cluster
from imagedataextractor.cluster.engine import SharedRateLimiter, open_client
from imagedataextractor.harvest import load_settings
from imagedataextractor.harvest.replay import ReplayServer
from imagedataextractor.literature import extract_articles
from imagedataextractor.store import open_db

sys.path.insert(0, str(Path(__file__).parent))
from harvest_benchmark import DEMO, serve_copies  # noqa: E402 - the sibling benchmark's DOI copies


def start_cost(n_workers: int) -> float:
    """Seconds to start ``local:N`` and import the package on every worker (then it is closed)."""
    started = time.monotonic()
    with open_client(parse_cluster(f"local:{n_workers}")) as client:
        client.run(lambda: __import__("imagedataextractor.literature") is not None)
        return time.monotonic() - started


def reservation_ms(n: int = 200) -> float:
    """Mean milliseconds of one SharedRateLimiter.wait() with no limit to wait for (its round trips)."""
    with open_client(parse_cluster("local:1")) as client:
        limiter = SharedRateLimiter("benchmark", 1e9, client)
        limiter.wait()
        started = time.monotonic()
        for _ in range(n):
            limiter.wait()
        return (time.monotonic() - started) / n * 1000


def run(name: str, dois: list[str], server: ReplayServer, method: str, cluster: str | None, writes: str, start_s: float) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, **server.env(), "IDE_ELSEVIER_API_KEY": "benchmark", "IDE_CONFIG": os.devnull}
        db = Path(folder) / "ide.sqlite"
        summary = extract_articles(dois, corpus=Path(folder) / "corpus", db=db, method=method, workers=4,
                                   harvest_settings=load_settings(environ=env), cluster=cluster, cluster_writes=writes, progress=False)
        with open_db(db) as database:
            rows = sum(n for table, n in database.counts().items() if table != "jobs")
        size = db.stat().st_size
    done = summary.count("done")
    if done != len(dois):
        raise SystemExit(f"{name}: only {done} of {len(dois)} done: {[a.reason for a in summary.articles if a.status != 'done'][:3]}")
    steady = summary.elapsed_s - start_s
    return {
        "setting": name,
        "articles": done,
        "figures": len(summary.figures),
        "em_panels": summary.n_em_panels,
        "elapsed_s": round(summary.elapsed_s, 1),
        "start_s": round(start_s, 1),
        "articles_per_min": round(done / summary.elapsed_s * 60, 1),
        "steady_articles_per_min": round(done / steady * 60, 1),
        "rows_per_article": round(rows / done, 1),
        "db_bytes_per_article": round(size / done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--method", default="watershed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    settings = [
        ("threads (no cluster, --workers 4)", None, "workers"),
        ("local:1, workers write", "local:1", "workers"),
        ("local:2, workers write", "local:2", "workers"),
        ("local:4, workers write", "local:4", "workers"),
        ("local:2, client writes", "local:2", "client"),
    ]
    results = []
    with ReplayServer(DEMO, latency_s=args.latency_ms / 1000) as server:
        dois = serve_copies(server, args.articles)
        for name, cluster, writes in settings:
            start_s = start_cost(int(cluster.split(":")[1])) if cluster else 0.0
            results.append(run(name, dois, server, args.method, cluster, writes, start_s))
            if not args.json:
                r = results[-1]
                print(f"{name:36s} {r['articles_per_min']:6.1f} articles/min ({r['elapsed_s']:.1f} s; steady {r['steady_articles_per_min']:.1f} "
                      f"after a {r['start_s']:.1f} s start) {r['figures']} figures, {r['em_panels']} EM panels, "
                      f"{r['rows_per_article']} rows and {r['db_bytes_per_article']} bytes per article", flush=True)
    reserve = reservation_ms()
    if args.json:
        print(json.dumps({"latency_ms": args.latency_ms, "method": args.method, "results": results, "rate_limit_reservation_ms": round(reserve, 2)}))
    else:
        print(f"one cluster-wide rate-limit reservation: {reserve:.2f} ms")


if __name__ == "__main__":
    main()
