"""VIA projects to instance maps: shape conventions, naming, metadata and bad input."""

from __future__ import annotations

import ast
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from dataset_helpers import SHAPES_SIZE, rect, via_project, write_png

from imagedataextractor.cli import main
from imagedataextractor.datasets.rasterise import polygon_mask
from imagedataextractor.datasets.via import doi_and_locator, import_via, read_via, regions_to_instance_map
from imagedataextractor.errors import DatasetError
from imagedataextractor.imageio import read_image, read_instance_map

W, H = SHAPES_SIZE


def draw(*regions: dict, width: int = W, height: int = H, **frame: int) -> np.ndarray:
    return regions_to_instance_map(list(regions), width_px=width, height_px=height, **frame)


def shape(name: str, **attributes: object) -> dict:
    return {"shape_attributes": {"name": name, **attributes}, "region_attributes": {}}


def test_rect_covers_the_pixels_inside_its_edges() -> None:
    labels = draw(rect(2, 3, 4, 5))
    expected = np.zeros((H, W), np.uint16)
    expected[3:8, 2:6] = 1
    np.testing.assert_array_equal(labels, expected)


def test_circle_takes_pixel_centres_within_the_radius() -> None:
    labels = draw(shape("circle", cx=20, cy=20, r=3))
    rows, cols = np.nonzero(labels)
    # Centres (j + 0.5, i + 0.5) within 3 px of (20, 20): a 6x6 block without its 4 corners.
    assert labels.sum() == 32
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (17, 22, 17, 22)


def test_ellipse_theta_rotates_the_rx_axis_clockwise_on_screen() -> None:
    upright = draw(shape("ellipse", cx=32, cy=24, rx=2, ry=6, theta=0))
    turned = draw(shape("ellipse", cx=32, cy=24, rx=2, ry=6, theta=math.pi / 2))
    rows, cols = np.nonzero(upright)
    assert np.ptp(rows) > np.ptp(cols)
    rows, cols = np.nonzero(turned)
    assert np.ptp(cols) > np.ptp(rows)
    diagonal = draw(shape("ellipse", cx=32, cy=24, rx=10, ry=2, theta=math.pi / 4))
    assert diagonal[24 + 5, 32 + 5] == 1 and diagonal[24 - 5, 32 + 5] == 0  # rx axis points down-right


def test_polygon_and_polyline_are_the_same_closed_outline() -> None:
    xs, ys = [10, 30, 30, 10], [5, 5, 25, 25]
    polygon = draw(shape("polygon", all_points_x=xs, all_points_y=ys))
    polyline = draw(shape("polyline", all_points_x=xs, all_points_y=ys))
    np.testing.assert_array_equal(polygon, polyline)
    assert polygon.sum() == 20 * 20


def test_self_intersecting_outline_uses_the_even_odd_rule() -> None:
    star = shape("polygon", all_points_x=[32, 47, 10, 54, 17], all_points_y=[2, 45, 17, 17, 45])
    labels = draw(star)
    assert labels[26, 32] == 0  # the doubly-wound centre
    assert labels[6, 32] == 1  # a point of the star
    bowtie = draw(shape("polygon", all_points_x=[0, 20, 20, 0], all_points_y=[0, 20, 0, 20]))
    assert bowtie[10, 3] == 1 and bowtie[10, 16] == 1 and bowtie[3, 10] == 0 and bowtie[17, 10] == 0


def test_polygons_sharing_an_edge_neither_overlap_nor_leave_a_gap() -> None:
    left = polygon_mask([0, 17.3, 9.1, 0], [0, 0, 30, 30], height_px=30, width_px=30)
    right = polygon_mask([17.3, 30, 30, 9.1], [0, 0, 30, 30], height_px=30, width_px=30)
    assert not (left & right).any()
    assert (left | right).all()


def test_later_regions_are_drawn_over_earlier_ones_and_ids_follow_region_order() -> None:
    labels = draw(rect(0, 0, 10, 10), rect(5, 5, 10, 10), rect(30, 30, 4, 4))
    assert labels[2, 2] == 1 and labels[7, 7] == 2 and labels[31, 31] == 3


def test_shapes_are_clipped_and_a_region_outside_keeps_its_id_unused() -> None:
    labels = draw(rect(-10, -10, 15, 15), rect(100, 100, 5, 5), rect(60, 40, 20, 20))
    assert labels[:5, :5].min() == 1 and labels[5:, 5:].max() != 1
    assert set(np.unique(labels)) == {0, 1, 3}
    assert (labels == 3).sum() == 4 * 8


def test_regions_are_scaled_from_the_annotated_frame() -> None:
    # Drawn on a 128x96 image, written on its 64x48 copy: every coordinate halves.
    labels = draw(rect(4, 6, 8, 10), shape("circle", cx=40, cy=40, r=6), frame_width_px=2 * W, frame_height_px=2 * H)
    np.testing.assert_array_equal(labels == 1, draw(rect(2, 3, 4, 5)) == 1)
    np.testing.assert_array_equal(labels == 2, draw(shape("circle", cx=20, cy=20, r=3)) == 1)


@pytest.mark.parametrize(
    ("region", "message"),
    [
        (shape("polygon", all_points_x=[1, 2], all_points_y=[1, 2]), "needs at least 3"),
        (shape("polygon", all_points_x=[1, 2, 3], all_points_y=[1, 2]), "equal length"),
        (shape("polygon", all_points_x=[1, "a", 3], all_points_y=[1, 2, 3]), "not a number"),
        (shape("circle", cx=1, cy=1, r=0), "must be > 0"),
        (shape("ellipse", cx=1, cy=1, rx=2, ry=float("nan")), "not a finite number"),
        (shape("point", cx=1, cy=1), "has no area"),
        ({"region_attributes": {}}, "no shape_attributes"),
    ],
)
def test_malformed_region_names_the_item_and_region(region: dict, message: str) -> None:
    with pytest.raises(DatasetError, match=rf"^fig\.png: region 2: .*{message}"):
        regions_to_instance_map([rect(0, 0, 2, 2), region], width_px=W, height_px=H, item="fig.png")


def test_doi_and_locator_from_emps_style_names_or_attributes() -> None:
    assert doi_and_locator("10.1016.j.ceramint.2019.12.153.gr2 (another copy).png") == ("10.1016.j.ceramint.2019.12.153", "gr2")
    assert doi_and_locator("10.1039.c9nr01234a.f3 (3rd copy).png") == ("10.1039.c9nr01234a", "f3")
    assert doi_and_locator("sample.png", {"doi": "10.1/x", "locator": "f1"}) == ("10.1/x", "f1")
    assert doi_and_locator("sample.png") == ("", "")


def test_import_writes_images_maps_and_metadata(shapes_via: tuple[Path, Path], tmp_path: Path) -> None:
    via_path, images = shapes_via
    out = tmp_path / "set"
    report = import_via(via_path, images_dir=images, out_dir=out)
    assert report.ok and report.problems == ()
    assert report.written == ("10.1016.j.test.2020.01.001.gr1", "10.1016.j.test.2020.01.001.gr1 (copy)")
    assert report.skipped == ("unannotated.png",)
    first = read_instance_map(out / "segmaps" / "10.1016.j.test.2020.01.001.gr1.png")
    assert first.dtype == np.uint16 and first.shape == (H, W)
    assert sorted(np.unique(first)) == [0, 1, 2, 3, 4, 5]
    assert (first == 1).sum() == 4 * 5 and (first == 2).sum() == 32
    rows, cols = np.nonzero(first == 3)  # theta = pi/2: the 2-px rx axis is now vertical
    assert (np.ptp(cols) + 1, np.ptp(rows) + 1) == (12, 4)
    assert (first == 5).sum() == 8 * 10
    assert (out / "images" / "10.1016.j.test.2020.01.001.gr1.png").read_bytes() == (images / "10.1016.j.test.2020.01.001.gr1.png").read_bytes()
    metadata = pd.read_csv(out / "metadata.csv", dtype=str, keep_default_na=False)
    assert list(metadata.columns) == ["filename", "doi", "locator", "regions"]
    assert set(metadata["doi"]) == {"10.1016.j.test.2020.01.001"} and set(metadata["locator"]) == {"gr1"}
    project = json.loads(via_path.read_text())["_via_img_metadata"]
    regions = ast.literal_eval(metadata.set_index("filename").loc["10.1016.j.test.2020.01.001.gr1.png", "regions"])
    assert regions == next(iter(project.values()))["regions"]


def test_import_md5_naming_short_side_and_rerun(shapes_via: tuple[Path, Path], tmp_path: Path) -> None:
    via_path, images = shapes_via
    out = tmp_path / "set"
    report = import_via(via_path, images_dir=images, out_dir=out, naming="md5", short_side_px=24)
    stem = hashlib.md5(b"10.1016.j.test.2020.01.001.gr1.png").hexdigest()[:10]
    assert stem in report.written
    assert read_image(out / "images" / f"{stem}.png").shape == (24, 32, 3)
    labels = read_instance_map(out / "segmaps" / f"{stem}.png")
    assert labels.shape == (24, 32)
    assert (labels == 1).sum() == 2 * 3  # the 4x5 rect at half scale: x 1..3, y 1.5..4
    import_via(via_path, images_dir=images, out_dir=out, naming="md5", short_side_px=24)
    assert len(pd.read_csv(out / "metadata.csv")) == 2  # a rerun replaces its rows


@pytest.mark.parametrize("link", [False, True])
def test_import_into_the_folder_of_its_images_keeps_them_and_their_metadata(tmp_path: Path, link: bool) -> None:
    """The walk-through's ``import-via ... --images mydata/images --out mydata``: each image is its own
    source, and the build's columns (caption, ...) and DOI must survive."""
    root = tmp_path / "set"
    kept, resized = write_png(root / "images" / "a.png", W, H, seed=1), write_png(root / "images" / "b.png", W, H, seed=2)
    before = kept.read_bytes()
    (root / "metadata.csv").write_text("filename,doi,locator,regions,caption\na.png,10.1/x,gr1,[],TEM of Au\nb.png,10.1/y,gr2,[],SEM of ZnO\n")
    via_path = tmp_path / "annotated.json"
    via_path.write_text(json.dumps(via_project({"a.png": [rect(2, 2, 5, 5)]})))
    report = import_via(via_path, images_dir=root / "images", out_dir=root, link=link)
    assert report.ok and report.written == ("a",)
    assert not kept.is_symlink() and kept.read_bytes() == before
    metadata = pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False).set_index("filename")
    assert list(metadata.columns) == ["doi", "locator", "regions", "caption"]
    assert metadata.loc["a.png", ["doi", "locator", "caption"]].tolist() == ["10.1/x", "gr1", "TEM of Au"]  # the VIA entry had no DOI
    assert "'rect'" in metadata.loc["a.png", "regions"] and metadata.loc["b.png", "caption"] == "SEM of ZnO"

    via_path.write_text(json.dumps(via_project({"b.png": [rect(2, 2, 5, 5)]})))
    assert import_via(via_path, images_dir=root / "images", out_dir=root, short_side_px=24).ok
    assert read_image(resized).shape == (24, 32, 3)  # decoded before it was replaced by its resized copy


def test_bad_items_are_reported_and_the_good_ones_still_written(tmp_path: Path) -> None:
    images = tmp_path / "figures"
    for name in ("good.png", "bad.png", "dup.png"):
        write_png(images / name, W, H)
    project = via_project({"good.png": [rect(1, 1, 5, 5)], "bad.png": [rect(1, 1, 5, 5), shape("point", cx=3, cy=3)], "missing.png": [rect(1, 1, 3, 3)]})
    project["_via_img_metadata"]["dup.pngA"] = {"filename": "dup.png", "size": 1, "regions": [rect(0, 0, 3, 3)]}
    project["_via_img_metadata"]["dup.pngB"] = {"filename": "dup.png", "size": 2, "regions": [rect(0, 0, 4, 4)]}
    project["_via_img_metadata"]["broken"] = {"filename": "broken.png", "regions": "nope"}
    via_path = tmp_path / "project.json"
    via_path.write_text(json.dumps(project))
    report = import_via(via_path, images_dir=images, out_dir=tmp_path / "set")
    assert report.written == ("good",)
    errors = {p.item: p.message for p in report.errors}
    assert set(errors) == {"bad.png", "missing.png", "dup.png", "broken.png"}
    assert "region 2" in errors["bad.png"] and "point" in errors["bad.png"]
    assert "image not found" in errors["missing.png"]
    assert "duplicate file name" in errors["dup.png"]
    assert "regions" in errors["broken.png"]
    assert (tmp_path / "set" / "segmaps" / "good.png").exists() and not (tmp_path / "set" / "segmaps" / "bad.png").exists()

    result = CliRunner().invoke(main, ["dataset", "import-via", str(via_path), "--images", str(images), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 1
    assert "error: missing.png: " in result.output and "1 written" in result.output


def test_region_with_no_pixels_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    write_png(tmp_path / "img.png", W, H)
    via_path = tmp_path / "p.json"
    via_path.write_text(json.dumps(via_project({"img.png": [rect(500, 500, 4, 4), rect(1, 1, 4, 4)]})))
    report = import_via(via_path, images_dir=tmp_path, out_dir=tmp_path / "set")
    assert report.ok and report.written == ("img",)
    assert [(p.severity, p.item) for p in report.problems] == [("warning", "img.png")]
    assert "region(s) 1 have no pixels" in report.problems[0].message


@pytest.mark.parametrize(("content", "message"), [("{not json", "not a JSON file"), ("[1, 2]", "not a VIA project")])
def test_unreadable_project_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    via_path = tmp_path / "p.json"
    via_path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        read_via(via_path)
    result = CliRunner().invoke(main, ["dataset", "import-via", str(via_path), "--images", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and f"Error: {via_path}: {message}" in result.output


def test_via1_regions_dict_is_read_in_index_order(tmp_path: Path) -> None:
    via_path = tmp_path / "p.json"
    via_path.write_text(json.dumps({"a.png1": {"filename": "a.png", "regions": {"10": rect(9, 9, 2, 2), "2": rect(0, 0, 2, 2)}}}))
    (entry,), problems = read_via(via_path)
    assert problems == [] and [r["shape_attributes"]["x"] for r in entry.regions] == [0, 9]


def test_frame_sizes_option_reads_a_csv(shapes_via: tuple[Path, Path], tmp_path: Path) -> None:
    via_path, images = shapes_via
    sizes = tmp_path / "frames.csv"
    sizes.write_text(f"filename,width_px,height_px\n10.1016.j.test.2020.01.001.gr1.png,{2 * W},{2 * H}\n")
    result = CliRunner().invoke(
        main, ["dataset", "import-via", str(via_path), "--images", str(images), "--out", str(tmp_path / "set"), "--frame-sizes", str(sizes), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True
    labels = read_instance_map(tmp_path / "set" / "segmaps" / "10.1016.j.test.2020.01.001.gr1.png")
    assert (labels == 1).sum() == 2 * 3  # the 4x5 rect at half scale (x 1..3, y 1.5..4)
