"""The EMPS dataset layout: ``images/*.png``, ``segmaps/*.png`` (uint16 instance maps, 0 = background),
``train.csv`` / ``test.csv`` (one file stem per line, no header) and ``metadata.csv`` (filename, doi,
locator, regions). Any directory in this layout can be trained on and evaluated.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..imageio import read_image, read_instance_map

EMPS_ENV = "IDE_EMPS_DIR"


def default_emps_dir() -> Path:
    """Where the full EMPS set is looked for: ``$IDE_EMPS_DIR``, else ``../shared/emps``."""
    return Path(os.environ.get(EMPS_ENV, "../shared/emps"))


@dataclass(frozen=True)
class Sample:
    """One labelled image of a dataset: its stem, image path, instance-map path and DOI (or None)."""

    name: str
    image_path: Path
    segmap_path: Path
    doi: str | None

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (image (H, W, 3) uint8 RGB, instance map (H, W) uint16)."""
        return read_image(self.image_path), read_instance_map(self.segmap_path)


def _read_split(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return [row[0].strip().removesuffix(".png") for row in csv.reader(f) if row and row[0].strip()]


def _read_dois(root: Path) -> dict[str, str]:
    meta = root / "metadata.csv"
    if not meta.exists():
        return {}
    csv.field_size_limit(1 << 30)
    with meta.open(newline="") as f:
        return {row["filename"].removesuffix(".png"): row["doi"] for row in csv.DictReader(f) if row.get("filename")}


def load_split(root: str | Path, split: str) -> list[Sample]:
    """List the samples of ``split`` ("train", "test" or "all") of an EMPS-layout directory.

    Raises :class:`DatasetError` naming the directory or file when the layout is wrong.
    """
    root = Path(root)
    if not (root / "images").is_dir() or not (root / "segmaps").is_dir():
        raise DatasetError(f"{root}: not a dataset directory (needs images/ and segmaps/)")
    if split == "all":
        names = sorted(p.stem for p in (root / "images").glob("*.png"))
    else:
        split_file = root / f"{split}.csv"
        if not split_file.exists():
            raise DatasetError(f"{split_file}: split file not found")
        names = _read_split(split_file)
    dois = _read_dois(root)
    samples = []
    for name in names:
        image_path, segmap_path = root / "images" / f"{name}.png", root / "segmaps" / f"{name}.png"
        if not image_path.exists():
            raise DatasetError(f"{image_path}: listed in {split}.csv but missing")
        if not segmap_path.exists():
            raise DatasetError(f"{segmap_path}: listed in {split}.csv but missing")
        samples.append(Sample(name, image_path, segmap_path, dois.get(name)))
    return samples
