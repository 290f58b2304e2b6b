"""Fixtures of the training tests."""

import numpy as np
import pytest
from PIL import Image


@pytest.fixture()
def tiny_dataset(tmp_path):
    """Six 64x64 images with three bright discs each, all in train.csv (EMPS layout)."""
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "segmaps").mkdir()
    rng = np.random.default_rng(0)
    names = []
    for i in range(6):
        image = np.full((64, 64, 3), 30, np.uint8)
        labels = np.zeros((64, 64), np.uint16)
        yy, xx = np.mgrid[:64, :64]
        for k in range(1, 4):
            cy, cx = rng.integers(12, 52, 2)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 < 36
            image[disc], labels[disc] = 220, k
        name = f"img{i}"
        Image.fromarray(image).save(root / "images" / f"{name}.png")
        Image.fromarray(labels).save(root / "segmaps" / f"{name}.png")
        names.append(name)
    (root / "train.csv").write_text("\n".join(names) + "\n")
    return root
