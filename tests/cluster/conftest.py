"""Fixtures of the cluster tests: a real Dask ``LocalCluster`` of 2 worker processes for the module,
the replay server with the demo corpus (the harvest clients pointed at it), and the throwaway
PostgreSQL server (``pg_cluster``, tests/conftest.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cluster_setup import DEMO, KEYS

from imagedataextractor.harvest.replay import ReplayServer


@pytest.fixture(scope="module")
def replay():
    with ReplayServer(DEMO) as server, pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in {**server.env(), **KEYS}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("IDE_CONFIG", str(Path(__file__).parent / "no-such-config.toml"))  # never the user's file
        monkeypatch.delenv("IDE_DB", raising=False)
        yield server


@pytest.fixture(scope="module")
def dask_cluster():
    """A LocalCluster of 2 single-threaded worker processes (each restarted by its nanny when killed),
    with a client of the test's own for looking at it."""
    distributed = pytest.importorskip("distributed", reason="the extra 'distributed' is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.WARNING) as cluster, distributed.Client(cluster) as client:
        yield cluster, client
