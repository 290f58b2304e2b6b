"""Speed of ``imagedataextractor.store.query`` over a database of generated rows (a million
particles by default), on SQLite and on a throwaway PostgreSQL cluster (started as the store tests
start theirs; needs Debian's PostgreSQL server binaries).

The rows are written through ``Database.save_figure``, as ``extract`` writes them: ``--articles``
articles of one figure each, each figure naming one of 20 materials and one of 4 techniques, with
``--panels`` panels of ``--particles`` particles. Then each query runs ``--repeats`` times (the
median is reported), and once more with the indexes it relies on dropped, to show what they buy.

    python benchmarks/query_benchmark.py [--articles 1000] [--panels 5] [--particles 200] [--backend sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from imagedataextractor.store import DistributionRecord, FigureRecord, ImageRecord, Provenance, ScalebarRecord, open_db, query

MATERIALS = ["Au", "Ag", "TiO2", "ZnO", "Fe3O4", "SiO2", "CeO2", "Pt", "Pd", "Cu", "CdSe", "ZrO2", "Al2O3", "Co3O4", "NiO", "CuO", "MoS2", "Ni",
             "CaCO3", "SnO2"]
TECHNIQUES = ["TEM", "SEM", "HRTEM", "STEM"]
#: The queries timed: (name, keyword arguments of query).
QUERIES = [
    ("particles Au TEM", {"material": "gold", "microscopy": "TEM"}),
    ("panels Au TEM", {"material": "gold", "microscopy": "TEM", "level": "panels"}),
    ("pooled Au TEM", {"material": "gold", "microscopy": "TEM", "level": "pooled"}),
    ("particles one DOI", {"doi": "10.5555/bench.17"}),
]
#: Indexes the queries use, dropped for the comparison run.
INDEXES = ["ix_figure_materials_key", "ix_particles_extraction_id"]


def fill(url: str, args: argparse.Namespace) -> float:
    """Write the generated rows; return the seconds it took."""
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    with open_db(url) as db:
        for article in range(args.articles):
            images = []
            for panel in range(args.panels):
                diameters = rng.lognormal(np.log(rng.uniform(5, 80)), 0.2, args.particles)
                n = args.particles
                particles = pd.DataFrame({
                    "particle_id": np.arange(1, n + 1), "centroid_x_px": rng.uniform(0, 512, n), "centroid_y_px": rng.uniform(0, 512, n),
                    "diameter_px": diameters / 0.5, "diameter_nm": diameters, "diameter_sd_px": np.full(n, 0.4), "diameter_sd_nm": np.full(n, 0.2),
                    "touches_border": rng.random(n) < 0.05,
                })
                counts, edges = np.histogram(diameters, bins=10)
                images.append(ImageRecord(
                    sha256=f"{article:08d}{panel:04d}".ljust(64, "0"), width_px=512, height_px=512, provenance=Provenance(method="bpartis"),
                    bbox_px=(panel * 10, 0, panel * 10 + 512, 512), label="abcdefgh"[panel % 8],
                    scalebar=ScalebarRecord("100 nm", 100.0, "nm", 200.0, 0.5, (0, 0, 200, 5), 0.4), particles=particles,
                    distributions=[DistributionRecord("diameter_nm", edges.tolist(), counts.tolist(), float(diameters.mean()), float(np.median(diameters)),
                                                      float(diameters.std()), n, 0.95, 1.0, 2.0, 1.0, 2.0, [0.0] * 10, [1.0] * 10)],
                ))
            figure = FigureRecord(f"10.5555/bench.{article}", "gr1", caption=f"{TECHNIQUES[article % 4]} of {MATERIALS[article % 20]} nanoparticles",
                                  microscopy=[TECHNIQUES[article % 4]], materials=[MATERIALS[article % 20]])
            db.save_figure(figure, images)
    return time.perf_counter() - started


def timings(url: str, repeats: int) -> dict[str, dict]:
    results = {}
    for name, kwargs in QUERIES:
        seconds, rows = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            rows = len(query(url, **kwargs))
            seconds.append(time.perf_counter() - started)
        results[name] = {"rows": rows, "median_s": round(statistics.median(seconds), 3)}
    return results


def drop_indexes(url: str) -> None:
    with open_db(url) as db, db.engine.begin() as conn:
        for index in INDEXES:
            conn.execute(sa.text(f"DROP INDEX {index}"))


def pg_cluster():
    """The tests' throwaway PostgreSQL cluster (tests/pg_server.py), started."""
    path = Path(__file__).resolve().parents[1] / "tests" / "pg_server.py"
    spec = importlib.util.spec_from_file_location("pg_server", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    bin_dir = module.pg_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    cluster = module.PgCluster(bin_dir)
    cluster.start()
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--panels", type=int, default=5)
    parser.add_argument("--particles", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", default="sqlite,postgresql")
    args = parser.parse_args()
    report = {"particles": args.articles * args.panels * args.particles}
    for backend in args.backend.split(","):
        cluster = None
        if backend == "postgresql":
            cluster = pg_cluster()
            url = cluster.new_database()
        else:
            url = str(Path(tempfile.mkdtemp(prefix="ide-query-bench-")) / "bench.sqlite")
        try:
            entry = {"fill_s": round(fill(url, args), 1), "indexed": timings(url, args.repeats)}
            drop_indexes(url)
            entry["without_indexes"] = timings(url, 1)
            report[backend] = entry
            print(json.dumps({backend: entry}), flush=True)
        finally:
            if cluster is not None:
                cluster.stop()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
