"""COCO export and import: lossless RLE round trip, polygon encoding, canonical ids and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dataset_helpers import rect, squares, via_project, write_png
from skimage.segmentation import relabel_sequential

from imagedataextractor.cli import main
from imagedataextractor.datasets.coco import export_coco, import_coco, mask_to_polygons
from imagedataextractor.datasets.layout import read_metadata, write_split_file
from imagedataextractor.datasets.rasterise import polygon_mask
from imagedataextractor.datasets.via import import_via
from imagedataextractor.errors import DatasetError
from imagedataextractor.imageio import read_instance_map


def maps(root: Path) -> dict[str, np.ndarray]:
    return {p.stem: read_instance_map(p) for p in sorted((root / "segmaps").glob("*.png"))}


def test_via_to_maps_to_coco_rle_to_maps_is_exact(shapes_via: tuple[Path, Path], tmp_path: Path) -> None:
    via_path, images = shapes_via
    first = tmp_path / "from_via"
    assert import_via(via_path, images_dir=images, out_dir=first).ok
    coco_path = tmp_path / "set.json"
    exported = export_coco(first, out_path=coco_path)
    assert (exported.n_images, exported.n_annotations) == (2, 7)
    second = tmp_path / "from_coco"
    report = import_coco(coco_path, images_dir=first / "images", out_dir=second)
    assert report.ok and report.skipped == ()
    original, again = maps(first), maps(second)
    assert original.keys() == again.keys()
    for stem in original:
        np.testing.assert_array_equal(again[stem], original[stem])
    # DOI and locator travel as extra image keys.
    assert set(read_metadata(second)["doi"]) == {"10.1016.j.test.2020.01.001"}


def test_export_writes_a_valid_coco_document(make_sample, tmp_path: Path) -> None:
    make_sample(tmp_path, "a", squares(3))
    out = tmp_path / "coco.json"
    export_coco(tmp_path, out_path=out)
    document = json.loads(out.read_text())
    assert document["categories"] == [{"id": 1, "name": "particle", "supercategory": "particle"}]
    assert document["images"] == [{"id": 1, "file_name": "a.png", "width": 48, "height": 48, "locator": "gr1"}]
    labels = squares(3)
    for annotation, label in zip(document["annotations"], (1, 2, 3)):
        rows, cols = np.nonzero(labels == label)
        assert annotation["area"] == rows.size and annotation["iscrowd"] == 0 and annotation["category_id"] == 1
        assert annotation["bbox"] == [cols.min(), rows.min(), np.ptp(cols) + 1, np.ptp(rows) + 1]
        assert isinstance(annotation["segmentation"]["counts"], str)


def test_non_canonical_map_comes_back_relabelled_in_id_order(make_sample, tmp_path: Path) -> None:
    labels = squares(4)
    labels[labels == 2] = 9  # ids 1, 3, 4, 9
    make_sample(tmp_path / "set", "a", labels)
    export_coco(tmp_path / "set", out_path=tmp_path / "c.json")
    import_coco(tmp_path / "c.json", images_dir=tmp_path / "set" / "images", out_dir=tmp_path / "back")
    np.testing.assert_array_equal(maps(tmp_path / "back")["a"], relabel_sequential(labels)[0])


def test_polygon_encoding_round_trips_masks_without_holes(make_sample, tmp_path: Path) -> None:
    labels = squares(6)
    labels[30:40, 30:45] = 7
    labels[33:36, 34:38] = 0  # a hole: COCO polygons cannot keep it
    labels[41, 10], labels[42, 11] = 8, 8  # two pixels touching at a corner
    make_sample(tmp_path / "set", "a", labels)
    export_coco(tmp_path / "set", out_path=tmp_path / "p.json", encoding="polygon")
    assert import_coco(tmp_path / "p.json", images_dir=tmp_path / "set" / "images", out_dir=tmp_path / "back").ok
    back = maps(tmp_path / "back")["a"]
    expected = labels.copy()
    expected[33:36, 34:38] = 7
    np.testing.assert_array_equal(back, expected)
    regions = read_metadata(tmp_path / "back").loc[0, "regions"]
    assert "'name': 'polygon'" in regions and "'instance_id': 8" in regions


def test_mask_to_polygons_uses_continuous_pixel_coordinates() -> None:
    mask = np.zeros((6, 6), bool)
    mask[1:3, 2:5] = True
    (polygon,) = mask_to_polygons(mask)
    xs, ys = polygon[0::2], polygon[1::2]
    # Straight runs lie on the pixel edges (the mask's box is x 2..5, y 1..3); corners are cut.
    assert (min(xs), max(xs), min(ys), max(ys)) == (2.0, 5.0, 1.0, 3.0)
    assert len(xs) == 8
    np.testing.assert_array_equal(polygon_mask(xs, ys, height_px=6, width_px=6), mask)


def test_export_of_one_split(make_sample, tmp_path: Path) -> None:
    for stem in ("a", "b", "c"):
        make_sample(tmp_path, stem, squares(2))
    write_split_file(tmp_path / "test.csv", ["b"])
    result = export_coco(tmp_path, out_path=tmp_path / "t.json", split="test")
    assert result.n_images == 1
    assert [image["file_name"] for image in json.loads((tmp_path / "t.json").read_text())["images"]] == ["b.png"]
    with pytest.raises(DatasetError, match="train.csv: split file not found"):
        export_coco(tmp_path, out_path=tmp_path / "x.json", split="train")


def test_foreign_coco_polygons_uncompressed_rle_crowds_and_overlaps(tmp_path: Path) -> None:
    write_png(tmp_path / "imgs" / "sub" / "x.png", 32, 24)
    counts = [24 * 2 + 3, 4, 20, 4, 17 + 24 * 28]  # column-major: columns 2 and 3, rows 3..6
    document = {
        "images": [{"id": 7, "file_name": "sub/x.png", "width": 32, "height": 24, "doi": "10.1/abc"}],
        "annotations": [
            {"id": 30, "image_id": 7, "category_id": 3, "segmentation": [[10, 10, 20, 10, 20, 20, 10, 20]], "iscrowd": 0},
            {"id": 12, "image_id": 7, "category_id": 3, "segmentation": {"size": [24, 32], "counts": counts}, "iscrowd": 0},
            {"id": 40, "image_id": 7, "category_id": 3, "segmentation": [[0, 0, 32, 0, 32, 24, 0, 24]], "iscrowd": 1},
            {"id": 20, "image_id": 7, "category_id": 3, "segmentation": [[15, 15, 25, 15, 25, 22, 15, 22]], "iscrowd": 0},
        ],
        "categories": [{"id": 3, "name": "np"}],
    }
    (tmp_path / "c.json").write_text(json.dumps(document))
    report = import_coco(tmp_path / "c.json", images_dir=tmp_path / "imgs", out_dir=tmp_path / "set")
    assert report.ok and report.written == ("x",)
    labels = maps(tmp_path / "set")["x"]
    assert labels[3:7, 2:4].tolist() == [[1, 1]] * 4 and (labels == 1).sum() == 8  # annotation 12 first
    assert labels[21, 22] == 2 and labels[12, 12] == 3 and labels[17, 17] == 3  # 30 drawn over 20
    assert labels[0, 31] == 0  # the crowd is left out
    assert read_metadata(tmp_path / "set").loc[0, "doi"] == "10.1/abc"


def test_bad_coco_items_are_named_and_the_rest_written(tmp_path: Path) -> None:
    for name in ("ok.png", "small.png", "badseg.png"):
        write_png(tmp_path / "imgs" / name, 32, 24)
    square = [[2, 2, 8, 2, 8, 8, 2, 8]]
    document = {
        "images": [
            {"id": 1, "file_name": "ok.png", "width": 32, "height": 24},
            {"id": 2, "file_name": "small.png", "width": 64, "height": 24},
            {"id": 3, "file_name": "badseg.png", "width": 32, "height": 24},
            {"id": 4, "file_name": "gone.png", "width": 32, "height": 24},
            {"id": 5, "file_name": "empty.png", "width": 32, "height": 24},
            {"id": 6, "file_name": "twice.png", "width": 32, "height": 24},
            {"id": 7, "file_name": "other/twice.png", "width": 32, "height": 24},
        ],
        "annotations": [{"id": i, "image_id": i, "segmentation": square} for i in (1, 2, 4, 6, 7)]
        + [{"id": 3, "image_id": 3, "segmentation": {"size": [24, 30], "counts": "PP"}}],
    }
    (tmp_path / "c.json").write_text(json.dumps(document))
    report = import_coco(tmp_path / "c.json", images_dir=tmp_path / "imgs", out_dir=tmp_path / "set")
    assert report.written == ("ok",) and report.skipped == ("empty.png",)
    errors = {p.item: p.message for p in report.errors}
    assert "32x24 px but the JSON says 64x24" in errors["small.png"]
    assert errors["badseg.png"].startswith("annotation 3: RLE size [24, 30] differs")
    assert "image not found" in errors["gone.png"]
    assert "duplicate file name" in errors["twice.png"] and "duplicate file name" in errors["other/twice.png"]
    result = CliRunner().invoke(main, ["dataset", "import-coco", str(tmp_path / "c.json"), "--images", str(tmp_path / "imgs"), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 1 and "error: gone.png:" in result.output


def test_not_a_coco_file(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"images": {}}))
    with pytest.raises(DatasetError, match="not a COCO instances file"):
        import_coco(tmp_path / "c.json", images_dir=tmp_path, out_dir=tmp_path / "o")


def test_cli_export_and_import_round_trip(tmp_path: Path) -> None:
    images = tmp_path / "figs"
    write_png(images / "f.png", 40, 30)
    (tmp_path / "p.json").write_text(json.dumps(via_project({"f.png": [rect(1, 1, 10, 10), rect(20, 5, 8, 8)]})))
    runner = CliRunner()
    assert runner.invoke(main, ["dataset", "import-via", str(tmp_path / "p.json"), "--images", str(images), "--out", str(tmp_path / "a")]).exit_code == 0
    result = runner.invoke(main, ["dataset", "export", str(tmp_path / "a"), "--format", "coco", "--out", str(tmp_path / "a.json"), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["n_annotations"] == 2
    result = runner.invoke(main, ["dataset", "import-coco", str(tmp_path / "a.json"), "--images", str(tmp_path / "a" / "images"), "--out", str(tmp_path / "b"), "--link"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "images" / "f.png").is_symlink()
    np.testing.assert_array_equal(maps(tmp_path / "b")["f"], maps(tmp_path / "a")["f"])
    result = runner.invoke(main, ["dataset", "compare", str(tmp_path / "b"), str(tmp_path / "a"), "--json"])
    assert json.loads(result.output)["id_agreement"] == 1.0


def test_uncompressed_rle_must_cover_the_image(tmp_path: Path) -> None:
    write_png(tmp_path / "imgs" / "x.png", 32, 24)
    document = {
        "images": [{"id": 1, "file_name": "x.png", "width": 32, "height": 24}],
        "annotations": [{"id": 5, "image_id": 1, "segmentation": {"size": [24, 32], "counts": [10, 4, 5]}}],
    }
    (tmp_path / "c.json").write_text(json.dumps(document))
    report = import_coco(tmp_path / "c.json", images_dir=tmp_path / "imgs", out_dir=tmp_path / "set")
    assert [(p.item, p.message) for p in report.errors] == [("x.png", "annotation 5: RLE counts must be non-negative integers adding up to 24 x 32 pixels")]
