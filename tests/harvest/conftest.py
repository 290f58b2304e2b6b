"""Fixtures for harvest tests: the replay server on 127.0.0.1 with the recorded demo corpus, the
clients pointed at it through the IDE_*_URL environment variables, and fast retry settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagedataextractor.harvest import HarvestConfig
from imagedataextractor.harvest.config import DEFAULT_RATES_PER_S
from imagedataextractor.harvest.replay import ReplayServer

DEMO = Path(__file__).resolve().parents[2] / "corpus" / "demo"
KEYS = {"IDE_ELSEVIER_API_KEY": "els-key-7f3a9c1e", "IDE_ELSEVIER_INSTTOKEN": "inst-token-52b8d0aa", "IDE_SPRINGER_API_KEY": "spr-key-e41c77d9"}


def _fast_config(**changes) -> HarvestConfig:
    settings = dict(
        connect_timeout_s=2.0, read_timeout_s=0.5, download_timeout_s=10.0, max_attempts=3, backoff_initial_s=0.01,
        backoff_max_s=0.05, max_retry_after_s=2.0, rates_per_s={name: 1000.0 for name in DEFAULT_RATES_PER_S},
    )
    return HarvestConfig(**{**settings, **changes})


def _point_at(monkeypatch: pytest.MonkeyPatch, server: ReplayServer, *, keys: bool = True) -> None:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    for name, value in KEYS.items():
        if keys:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDE_CONFIG", str(Path(__file__).parent / "no-such-config.toml"))  # never the user's file


@pytest.fixture(scope="session")
def keys() -> dict[str, str]:
    return dict(KEYS)


@pytest.fixture(scope="session")
def make_config():
    """HarvestConfig factory: short timeouts and backoff (fault tests take milliseconds), no rate limit."""
    return _fast_config


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def demo_dois() -> list[str]:
    return [line for line in (DEMO / "dois.txt").read_text().splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="session")
def point_at():
    """point_at(monkeypatch, server, keys=True): every client at ``server`` via IDE_*_URL, keys set or unset."""
    return _point_at


@pytest.fixture
def replay(monkeypatch):
    """The demo recording served on a free port, with every client pointed at it."""
    with ReplayServer(DEMO) as server:
        _point_at(monkeypatch, server)
        yield server
