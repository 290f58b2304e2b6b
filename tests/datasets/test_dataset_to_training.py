"""From DOIs to an evaluated model through the commands of the README walk-through: ``ide dataset
build`` against the replay server (demo corpus on 127.0.0.1), annotation in VIA (polygons, an
ellipse, a circle and a rectangle added to the built project in code, as VIA would save them),
``import-via`` into the built folder, ``split --by publication``, ``validate``, one tiny epoch of
``ide train`` with ``--export``, and ``ide evaluate`` of the exported bundle on the test split."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from dataset_helpers import rect

from imagedataextractor.cli import main
from imagedataextractor.datasets.build import VIA_PROJECT
from imagedataextractor.datasets.layout import image_size, read_split_file
from imagedataextractor.imageio import read_instance_map

# Four publications with one micrograph each (two Elsevier, one Springer, one Europe PMC), so the
# split holds out one and the whole chain stays within seconds on a CPU.
DOIS = ("10.1016/j.carbon.2019.12.021", "10.1016/j.apsusc.2020.145360", "10.5555/ide-demo.springer.1", "10.5555/ide-demo.europepmc.1")
EVALUATE_KEYS = {"method", "mode", "n_images", "AP", "AP50", "AP75", "mIoU", "mAP_coco", "F1_50", "seconds_per_image"}


@pytest.fixture
def one_thread():
    """Torch on one thread for the in-process train/evaluate (CPU is shared), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def octagon(cx: float, cy: float, r: float) -> dict:
    angles = [2 * math.pi * k / 8 for k in range(8)]
    return {
        "shape_attributes": {
            "name": "polygon",
            "all_points_x": [round(cx + r * math.cos(a), 1) for a in angles],
            "all_points_y": [round(cy + r * math.sin(a), 1) for a in angles],
        },
        "region_attributes": {},
    }


def annotate(width: int, height: int) -> list[dict]:
    """The regions an annotator might draw on an image of this size (px): 4 octagons, an ellipse,
    a circle and a rectangle, all inside the image and apart."""
    regions = [octagon((k + 1) * width / 5, height / 4, 18 + 2 * k) for k in range(4)]
    regions.append({"shape_attributes": {"name": "ellipse", "cx": width / 4, "cy": 0.7 * height, "rx": 30, "ry": 15, "theta": 0.5}, "region_attributes": {}})
    regions.append({"shape_attributes": {"name": "circle", "cx": width / 2, "cy": 0.7 * height, "r": 20}, "region_attributes": {}})
    regions.append(rect(0.7 * width, 0.6 * height, 40, 30))
    return regions


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_built_dataset_is_annotated_split_trained_and_evaluated(replay_env, tmp_path: Path, one_thread) -> None:
    root = tmp_path / "mydata"
    dois = tmp_path / "dois.txt"
    dois.write_text("\n".join(DOIS) + "\n")
    built = json.loads(invoke("dataset", "build", "--doi-list", str(dois), "--out", str(root), "--json"))
    assert built["ok"] and built["n_written"] == len(DOIS)

    project = json.loads((root / VIA_PROJECT).read_text())
    for entry in project["_via_img_metadata"].values():
        entry["regions"] = annotate(*image_size(root / "images" / entry["filename"]))
    annotated = tmp_path / "annotated.json"
    annotated.write_text(json.dumps(project))
    before = {p.name: p.read_bytes() for p in (root / "images").iterdir()}

    imported = json.loads(invoke("dataset", "import-via", str(annotated), "--images", str(root / "images"), "--out", str(root), "--json"))
    assert imported["ok"] and sorted(f"{s}.png" for s in imported["written"]) == sorted(before)
    assert {p.name: p.read_bytes() for p in (root / "images").iterdir()} == before  # imported in place, untouched
    for name in before:
        labels = read_instance_map(root / "segmaps" / name)
        assert sorted(set(labels.ravel().tolist())) == list(range(8))  # background + the 7 regions
    metadata = _metadata(root)
    assert metadata["caption"].str.len().gt(0).all() and metadata["regions"].str.contains("'ellipse'").all()

    split = json.loads(invoke("dataset", "split", str(root), "--by", "publication", "--test-fraction", "0.25", "--seed", "0", "--json"))
    assert (split["n_train"], split["n_test"]) == (3, 1)
    train, test = (read_split_file(root / f"{name}.csv") for name in ("train", "test"))
    doi = metadata["doi"]
    assert not {doi[f"{s}.png"] for s in train} & {doi[f"{s}.png"] for s in test}
    validated = json.loads(invoke("dataset", "validate", str(root), "--strict", "--json"))
    assert validated["ok"] and validated["n_images"] == len(DOIS)

    invoke("train", "--data", str(root), "--out", str(tmp_path / "run"), "--epochs", "1", "--size", "64", "--batch", "2", "--export", str(tmp_path / "bundle"))
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1] and math.isfinite(history[0]["train_loss"])
    assert (tmp_path / "bundle" / "weights.pt").exists() and (tmp_path / "bundle" / "config.json").exists()

    output = invoke("evaluate", "--data", str(root), "--split", "test", "--model", str(tmp_path / "bundle"), "-T", "2", "--json")
    scores = json.loads(output.strip().splitlines()[-1])
    assert set(scores) >= EVALUATE_KEYS and scores["method"] == "bpartis"
    assert scores["n_images"] == len(test) == 1
    assert all(0.0 <= scores[k] <= 1.0 for k in ("AP", "AP50", "mIoU", "F1_50"))


def _metadata(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False).set_index("filename")
