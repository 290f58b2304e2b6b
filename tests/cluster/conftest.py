"""Fixtures of the cluster tests: a real Dask ``LocalCluster`` of 2 worker processes for the module,
the replay server with the demo corpus (the harvest clients pointed at it), and the throwaway
PostgreSQL server (``pg_cluster``, tests/conftest.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from imagedataextractor.harvest import HarvestConfig
from imagedataextractor.harvest.config import DEFAULT_RATES_PER_S
from imagedataextractor.harvest.replay import ReplayServer

DEMO = Path(__file__).resolve().parents[2] / "corpus" / "demo"
KEYS = {"IDE_ELSEVIER_API_KEY": "els-key-cluster-5d1e", "IDE_SPRINGER_API_KEY": "spr-key-cluster-9a07"}
# Three publishers, 5 figures: 3 EM, 2 plots (as in tests/pipeline/test_literature.py).
SUBSET = ["10.1016/j.carbon.2019.12.021", "10.5555/ide-demo.springer.1", "10.5555/ide-demo.europepmc.1"]
DEMO_DOIS = [line.strip() for line in (DEMO / "dois.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]


def fast_config(**changes) -> HarvestConfig:
    """Short timeouts and back-off, and no rate limit worth the name unless ``rates_per_s`` is given."""
    settings = dict(connect_timeout_s=5.0, read_timeout_s=5.0, max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05,
                    rates_per_s={name: 1000.0 for name in DEFAULT_RATES_PER_S})
    return HarvestConfig(**{**settings, **changes})


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
