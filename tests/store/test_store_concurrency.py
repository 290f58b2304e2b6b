"""Several writer processes on one database (SQLite and PostgreSQL): unique natural keys and
``INSERT ... ON CONFLICT`` leave exactly the rows of one writer; a fresh database created by
several processes at once works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from store_images import write_micrographs
from db_tables import comparable_tables

from imagedataextractor.store import open_db


def _extract_command(images: Path, db: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "imagedataextractor", "extract", str(images), "--db", db, "--out", str(out), "--method", "watershed"]


def _run_at_once(commands: list[list[str]]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for c in commands]
    outputs = [p.communicate(timeout=180)[0] for p in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output


def test_three_concurrent_writers_leave_the_rows_of_one(db_url: str, same_backend_db_url: str, tmp_path: Path) -> None:
    images = write_micrographs(tmp_path / "images")
    _run_at_once([_extract_command(images, db_url, tmp_path / f"out{n}") for n in range(3)])
    _run_at_once([_extract_command(images, same_backend_db_url, tmp_path / "out-single")])
    expected = comparable_tables(same_backend_db_url)
    assert sum(map(len, expected.values())) > 0
    assert comparable_tables(db_url) == expected
    # and the database stays usable: a later run replaces, it does not fail or add rows
    _run_at_once([_extract_command(images, db_url, tmp_path / "out-later")])
    assert comparable_tables(db_url) == expected


def test_fresh_database_created_by_three_processes_at_once(db_url: str) -> None:
    code = "import sys; from imagedataextractor.store import open_db; open_db(sys.argv[1]).close()"
    _run_at_once([[sys.executable, "-c", code, db_url] for _ in range(3)])
    with open_db(db_url, create=False) as db:
        assert db.read_table("schema_version")["version"].is_unique


ARTICLE = """<?xml version="1.0" encoding="UTF-8"?>
<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta><article-id pub-id-type="doi">10.5555/concurrent.1</article-id>
<title-group><article-title>Concurrent writers</article-title></title-group></article-meta></front><body>
<fig id="F1"><label>Figure 1</label><caption><p>TEM image of Au nanoparticles.</p></caption><graphic xlink:href="f1"/></fig>
<fig id="F2"><label>Figure 2</label><caption><p>SEM image of Ag nanoparticles.</p></caption><graphic xlink:href="f2"/></fig>
</body></article>"""


@pytest.mark.slow  # the same store path as image mode, which the default run covers
def test_three_concurrent_article_writers_leave_the_rows_of_one(db_url: str, same_backend_db_url: str, tmp_path: Path) -> None:
    """Article mode (local article files): no panel is stored twice."""
    folder = tmp_path / "articles"
    write_micrographs(folder / "figures", count=2)
    for index, locator in enumerate(("F1", "F2")):
        (folder / "figures" / f"m{index}.png").rename(folder / "figures" / f"{locator}.png")
    (folder / "article.xml").write_text(ARTICLE)
    _run_at_once([_extract_command(folder, db_url, tmp_path / f"out{n}") for n in range(3)])
    _run_at_once([_extract_command(folder, same_backend_db_url, tmp_path / "out-single")])
    expected = comparable_tables(same_backend_db_url)
    assert len(expected["panels"]) == 2
    assert comparable_tables(db_url) == expected
