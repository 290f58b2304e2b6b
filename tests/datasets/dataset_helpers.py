"""Plain helpers for the dataset tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from imagedataextractor.harvest import HarvestConfig
from imagedataextractor.harvest.config import DEFAULT_RATES_PER_S

#: The recorded publisher responses served by the replay server (corpus/demo).
DEMO = Path(__file__).resolve().parents[2] / "corpus" / "demo"
#: The API keys the demo recording requires.
DEMO_KEYS = {"IDE_ELSEVIER_API_KEY": "els-key-7f3a9c1e", "IDE_ELSEVIER_INSTTOKEN": "inst-token-52b8d0aa", "IDE_SPRINGER_API_KEY": "spr-key-e41c77d9"}
#: Harvest settings for the local replay: short timeouts, no rate limit.
FAST_HARVEST = HarvestConfig(
    connect_timeout_s=2.0, read_timeout_s=2.0, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.05,
    rates_per_s={name: 1000.0 for name in DEFAULT_RATES_PER_S},
)

#: Size (width, height) of the image of via_shapes.json's annotated entries.
SHAPES_SIZE = (64, 48)


def write_png(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """A random RGB PNG of the given size (px)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def via_project(entries: dict[str, list[dict]]) -> dict:
    """A VIA 2 project: file name -> regions."""
    return {
        "_via_img_metadata": {
            f"{name}{index}": {"filename": name, "size": index, "regions": regions, "file_attributes": {}}
            for index, (name, regions) in enumerate(entries.items())
        },
        "_via_data_format_version": "2.0.10",
    }


def rect(x: float, y: float, width: float, height: float) -> dict:
    return {"shape_attributes": {"name": "rect", "x": x, "y": y, "width": width, "height": height}, "region_attributes": {}}


def squares(n: int, *, size: int = 48, seed: int = 0) -> np.ndarray:
    """An instance map with ``n`` (at most 25) separate squares, ids 1..n, of random sides 3-7 px."""
    labels = np.zeros((size, size), np.uint16)
    rng = np.random.default_rng(seed)
    for label in range(1, n + 1):
        side = int(rng.integers(3, 8))
        row, col = divmod(label - 1, 5)
        labels[row * 9 + 1 : row * 9 + 1 + side, col * 9 + 1 : col * 9 + 1 + side] = label
    return labels
