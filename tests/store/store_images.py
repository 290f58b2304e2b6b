"""Image files for the store's multi-process tests (a module of its own: test modules import it
by name, which a conftest cannot be, since every test folder has one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_micrographs(folder: Path, count: int = 3) -> Path:
    """``count`` small PNG micrographs of bright discs (different in each), in ``folder``."""
    from PIL import Image
    from skimage.draw import disk

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rng = np.random.default_rng(index)
        grey = rng.normal(50, 5, (160, 160))
        for centre in rng.uniform(25, 135, (5, 2)):
            grey[disk(tuple(centre), 12, shape=grey.shape)] = 210
        Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(folder / f"m{index}.png")
    return folder
