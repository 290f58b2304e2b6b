"""Fixtures for the dataset tools: images and EMPS-layout directories drawn in code."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from dataset_helpers import DEMO, DEMO_KEYS, SHAPES_SIZE, write_png

from imagedataextractor.datasets.layout import MetadataRow, update_metadata, write_instance_map
from imagedataextractor.harvest.replay import ReplayServer


@pytest.fixture(scope="module")
def replay_env():
    """The demo recording served on a free port of 127.0.0.1, every client pointed at it (for the module)."""
    with ReplayServer(DEMO) as server, pytest.MonkeyPatch.context() as patch:
        for name, value in {**server.env(), **DEMO_KEYS}.items():
            patch.setenv(name, value)
        patch.setenv("IDE_CONFIG", str(DEMO / "no-such-config.toml"))  # never the user's file
        yield server


@pytest.fixture
def shapes_via(data_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(via_shapes.json, a folder with its two annotated images)."""
    project = json.loads((data_dir / "datasets" / "via_shapes.json").read_text())
    images = tmp_path / "figures"
    for seed, entry in enumerate(project["_via_img_metadata"].values()):
        if entry["regions"]:
            write_png(images / entry["filename"], *SHAPES_SIZE, seed=seed)
    return data_dir / "datasets" / "via_shapes.json", images


MakeSample = Callable[..., None]


@pytest.fixture
def make_sample() -> MakeSample:
    """make_sample(root, stem, labels, doi="") writes an image of the map's size, the map and a metadata row."""

    def make(root: Path, stem: str, labels: np.ndarray, doi: str = "") -> None:
        write_png(root / "images" / f"{stem}.png", labels.shape[1], labels.shape[0], seed=len(stem))
        write_instance_map(np.asarray(labels, np.uint16), root / "segmaps" / f"{stem}.png")
        update_metadata(root, [MetadataRow(f"{stem}.png", doi, "gr1", ())])

    return make
