"""Shared fixtures. Tests that need the full EMPS set use ``emps_dir`` and are skipped only when the
set is absent (a user's fresh machine); CI has it at ../shared/emps."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from imagedataextractor.datasets import default_emps_dir
from pg_server import PgCluster, pg_bin_dir

DATA = Path(__file__).parent / "data"

# Fuzz tests (hypothesis): reproducible (derandomized), nothing written into the checkout, and every
# example within a second; each test sets its own modest max_examples.
settings.register_profile("ide", derandomize=True, database=None, deadline=1000, print_blob=True)
settings.load_profile("ide")
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ide-hypothesis")  # its caches, outside the checkout


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def emps_dir() -> Path:
    root = default_emps_dir()
    if not (root / "images").is_dir():
        pytest.skip(f"full EMPS set not found at {root} (set IDE_EMPS_DIR)")
    return root


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server for the session (skipped with the reason where its binaries or psycopg are absent)."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed: pip install 'imagedataextractor[postgres]'")
    cluster = PgCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
