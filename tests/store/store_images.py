"""Image files for the store's multi-process tests (a module of its own: test modules import it
by name, which a conftest cannot be, since every test folder has one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_micrographs(folder: Path, count: int = 3, *, size_px: int = 160, discs: int = 5) -> Path:
    """``count`` PNG micrographs, ``size_px`` square, of ``discs`` bright discs of radius 12 px
    (different in each), in ``folder``."""
    from PIL import Image
    from skimage.draw import disk

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rng = np.random.default_rng(index)
        grey = rng.normal(50, 5, (size_px, size_px))
        for centre in rng.uniform(25, size_px - 25, (discs, 2)):
            grey[disk(tuple(centre), 12, shape=grey.shape)] = 210
        Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(folder / f"m{index}.png")
    return folder
