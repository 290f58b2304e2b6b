"""What the cluster tests share: the demo corpus, its DOIs, the test keys and fast harvest settings
(a module of its own: ``conftest`` is a name every test folder uses)."""

from __future__ import annotations

from pathlib import Path

from imagedataextractor.harvest import HarvestConfig
from imagedataextractor.harvest.config import DEFAULT_RATES_PER_S

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
