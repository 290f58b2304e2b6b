"""Concurrent writers: ``--writers`` processes of ``ide extract DIR --db same.sqlite --method watershed``
started at once over the same images, ``--trials`` times, each against a fresh database; the rows
they leave are counted per table beside those of one writer alone.

    python benchmarks/concurrent_writers.py [--writers 3] [--trials 5] [--images 4] [--json]

Prints, per trial, the extra rows (rows beyond one writer's; 0 is right) and any writer's failure.
Run with PYTHONPATH pointing at another checkout to measure that version (e.g. before a fix).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "store"))
from store_images import write_micrographs  # noqa: E402  (the store tests' micrographs)

TABLES = ("articles", "figures", "panels", "extractions", "scalebars", "particles", "distributions", "rdfs", "jobs")


def run_writers(images: Path, db: Path, writers: int, work: Path) -> list[int]:
    """Start ``writers`` extract processes at once; return their exit statuses."""
    processes = [
        subprocess.Popen([sys.executable, "-m", "imagedataextractor", "extract", str(images), "--db", str(db), "--out", str(work / f"out{n}"),
                          "--method", "watershed"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
        for n in range(writers)
    ]
    return [p.wait(timeout=600) for p in processes]


def row_counts(db: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in TABLES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_micrographs(work / "images", args.images, size_px=200, discs=8)
        run_writers(work / "images", work / "single.sqlite", 1, work / "single")
        single = row_counts(work / "single.sqlite")
        trials = []
        for trial in range(args.trials):
            db = work / f"trial{trial}.sqlite"
            statuses = run_writers(work / "images", db, args.writers, work / f"trial{trial}")
            counts = row_counts(db) if db.exists() else {}
            extra = {name: counts.get(name, 0) - single[name] for name in TABLES}
            trials.append({"exit_statuses": statuses, "extra_rows": {k: v for k, v in extra.items() if v}})
    report = {"writers": args.writers, "images": args.images, "single_writer_rows": sum(single.values()), "trials": trials}
    if args.json:
        print(json.dumps(report))
        return
    print(f"{args.writers} writers, {args.images} images, one writer's rows: {report['single_writer_rows']}")
    for number, trial in enumerate(trials, start=1):
        print(f"trial {number}: exit statuses {trial['exit_statuses']}, extra rows {trial['extra_rows'] or 0}")


if __name__ == "__main__":
    main()
