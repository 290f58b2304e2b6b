"""EMPS itself: re-deriving published maps from viadata.json, and a COCO round trip of real maps.

The EMPS maps were drawn on the original figures, then scaled to a 512 px short side; the original
sizes are not recorded, so each image's frame size is recovered from its published map with
``fit_frame_size`` (one integer per image). Over all 465 images the import then agrees with the
published maps on 99.73 % of pixels (foreground), 99.71 % exactly up to id renaming, and matches
11530 of 11535 instances at IoU > 0.5 with identical instance counts; the first 20 images (tested
here) reach 99.80 %, every one above 99.3 %.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from skimage.segmentation import relabel_sequential

from imagedataextractor.datasets.coco import export_coco, import_coco
from imagedataextractor.datasets.layout import read_metadata
from imagedataextractor.datasets.tools import compare_datasets, summarise_agreement, validate_dataset
from imagedataextractor.datasets.via import fit_frame_size, import_via, output_stem, read_via
from imagedataextractor.imageio import read_instance_map

pytestmark = pytest.mark.emps

N_IMAGES = 20


@pytest.fixture(scope="module")
def reimported(emps_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    entries, problems = read_via(emps_dir / "viadata.json")
    assert problems == []
    annotated = sorted((output_stem(e.filename, "md5"), e) for e in entries if e.regions)
    assert len(annotated) == 465
    chosen = annotated[:N_IMAGES]
    frames = {
        entry.filename: fit_frame_size(entry.regions, read_instance_map(emps_dir / "segmaps" / f"{stem}.png"), item=entry.filename)
        for stem, entry in chosen
    }
    work = tmp_path_factory.mktemp("emps")
    subset = work / "via.json"
    subset.write_text(json.dumps({e.key: {"filename": e.filename, "regions": list(e.regions)} for _, e in chosen}))
    report = import_via(subset, images_dir=emps_dir / "images", out_dir=work / "set", naming="md5", frame_sizes=frames, link=True)
    assert report.ok and sorted(report.written) == [stem for stem, _ in chosen]
    return work / "set", [stem for stem, _ in chosen]


def test_viadata_import_agrees_with_published_maps(emps_dir: Path, reimported: tuple[Path, list[str]]) -> None:
    root, stems = reimported
    frame = compare_datasets(root, emps_dir, names=stems)
    summary = summarise_agreement(frame)
    assert (frame["n_instances"] == frame["n_reference"]).all()
    assert summary["matched_fraction"] == 1.0
    assert summary["foreground_agreement"] > 0.997 and summary["id_agreement"] > 0.997
    assert frame["id_agreement"].min() > 0.99


def test_viadata_import_reproduces_emps_names_and_metadata(emps_dir: Path, reimported: tuple[Path, list[str]]) -> None:
    root, stems = reimported
    ours = read_metadata(root).set_index("filename")
    theirs = read_metadata(emps_dir).set_index("filename")
    for stem in stems:
        name = f"{stem}.png"
        assert (ours.loc[name, "doi"], ours.loc[name, "locator"]) == (theirs.loc[name, "doi"], theirs.loc[name, "locator"])
        assert ast.literal_eval(ours.loc[name, "regions"]) == ast.literal_eval(theirs.loc[name, "regions"])
    assert validate_dataset(root).ok


def test_coco_rle_round_trip_of_published_maps(emps_dir: Path, reimported: tuple[Path, list[str]], tmp_path: Path) -> None:
    _, stems = reimported
    published = tmp_path / "published"
    for folder in ("images", "segmaps"):
        (published / folder).mkdir(parents=True)
        for stem in stems:
            (published / folder / f"{stem}.png").symlink_to((emps_dir / folder / f"{stem}.png").resolve())
    exported = export_coco(published, out_path=tmp_path / "emps.json")
    assert exported.n_images == N_IMAGES
    assert import_coco(tmp_path / "emps.json", images_dir=emps_dir / "images", out_dir=tmp_path / "back", link=True).ok
    for stem in stems:
        labels = read_instance_map(emps_dir / "segmaps" / f"{stem}.png")
        np.testing.assert_array_equal(read_instance_map(tmp_path / "back" / "segmaps" / f"{stem}.png"), relabel_sequential(labels)[0])
