"""COCO instance-segmentation JSON to and from the EMPS layout.

Canonical id order: an instance map is canonical when its ids are 1..n with no gap. Export writes
each map's instances in ascending id order with ascending annotation ids; import numbers an image's
annotations 1..n in ascending annotation id, draws later ones over earlier ones, and then closes the
gaps left by annotations that drew nothing (covered, or empty). So ``import_coco(export_coco(map))``
equals ``skimage.segmentation.relabel_sequential(map)`` exactly with RLE, and equals the map itself
when it is canonical.

Encodings: ``rle`` (compressed COCO RLE via pycocotools) is lossless. ``polygon`` traces the
boundary between pixel centres (the 0.5 level set, vertices in continuous coordinates where pixel
(0, 0) covers [0, 1) x [0, 1)), which our rasteriser (:func:`.via.polygon_mask`) maps back to the
same pixels except where two pixels of a mask touch only at a corner; holes are dropped, since a
COCO polygon list is a union. pycocotools is needed for RLE (the ``coco`` extra).
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DatasetError, IDEError
from ..imageio import read_instance_map
from .layout import (
    IMAGES,
    MAX_INSTANCES,
    SEGMAPS,
    ImportReport,
    MetadataRow,
    Problem,
    image_size,
    list_stems,
    read_metadata,
    read_split_file,
    require_layout,
    update_metadata,
    with_progress,
    write_image,
    write_instance_map,
)
from .rasterise import polygon_mask

Encoding = Literal["rle", "polygon"]
#: The one category of an EMPS-style set.
CATEGORY = {"id": 1, "name": "particle", "supercategory": "particle"}


def _mask_utils():
    try:
        from pycocotools import mask
    except ImportError:
        raise IDEError("COCO RLE needs pycocotools: pip install 'imagedataextractor[coco]'") from None
    return mask


@dataclass(frozen=True)
class CocoExport:
    """What :func:`export_coco` wrote: the file, and its numbers of images and annotations."""

    path: Path
    n_images: int
    n_annotations: int

    def to_dict(self) -> dict:
        return {"path": str(self.path), "n_images": self.n_images, "n_annotations": self.n_annotations}


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """Outer boundaries of a bool mask as COCO polygons ``[x0, y0, x1, y1, ...]`` in continuous
    pixel coordinates, collinear vertices removed; holes are left out (see the module docstring)."""
    from skimage.measure import approximate_polygon, find_contours

    padded = np.pad(mask.astype(np.uint8), 1)
    polygons = []
    for contour in find_contours(padded, 0.5, positive_orientation="high"):
        rows, cols = contour[:, 0], contour[:, 1]
        # With positive_orientation="high", outer boundaries wind counter-clockwise in (col, row)
        # axes and holes clockwise: the signed area tells them apart.
        if np.sum(cols * np.roll(rows, -1) - np.roll(cols, -1) * rows) > 0:
            continue
        # Drop collinear vertices only: a vertex off the line through its neighbours is at least
        # ~1e-4 px from it on this half-pixel grid (skimage returns the input for tolerance 0).
        contour = approximate_polygon(contour, tolerance=1e-6)[:-1]
        # Padded index -> continuous coordinates: minus the pad, plus half a pixel to the centre.
        polygons.append(np.column_stack([contour[:, 1] - 0.5, contour[:, 0] - 0.5]).ravel().round(3).tolist())
    return polygons


def export_coco(
    root: str | Path,
    *,
    out_path: str | Path,
    encoding: Encoding = "rle",
    split: Literal["all", "train", "test"] = "all",
    progress: bool = False,
) -> CocoExport:
    """Write the samples of ``root`` (all, or those of one split file) as one COCO instance JSON.

    Images get ids 1..N in stem order, ``file_name`` ``<stem>.png`` and, when ``metadata.csv`` has
    them, extra keys ``doi`` and ``locator``; every instance is one annotation of category 1
    (``particle``) with ``area`` (pixels), ``bbox`` ``[x, y, w, h]`` and ``iscrowd`` 0.
    """
    root = require_layout(Path(root))
    if encoding not in ("rle", "polygon"):
        raise DatasetError(f"unknown encoding {encoding!r} (rle or polygon)")
    stems = sorted(set(list_stems(root, IMAGES)) & set(list_stems(root, SEGMAPS)))
    if split != "all":
        split_file = root / f"{split}.csv"
        if not split_file.exists():
            raise DatasetError(f"{split_file}: split file not found")
        stems = sorted(set(read_split_file(split_file)) & set(stems))
    mask_utils = _mask_utils()
    metadata = read_metadata(root).set_index("filename")
    images: list[dict] = []
    annotations: list[dict] = []
    for image_id, stem in enumerate(with_progress(stems, enabled=progress, desc="export coco"), start=1):
        labels = read_instance_map(root / SEGMAPS / f"{stem}.png")
        entry: dict[str, object] = {"id": image_id, "file_name": f"{stem}.png", "width": labels.shape[1], "height": labels.shape[0]}
        if f"{stem}.png" in metadata.index:
            row = metadata.loc[f"{stem}.png"]
            entry |= {key: row[key] for key in ("doi", "locator") if row[key]}
        images.append(entry)
        for instance_id in np.flatnonzero(np.bincount(labels.ravel())[1:]) + 1:
            mask = labels == instance_id
            rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
            if encoding == "rle":
                segmentation: object = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            else:
                segmentation = mask_to_polygons(mask)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": CATEGORY["id"],
                    "segmentation": segmentation,
                    "area": int(np.count_nonzero(mask)),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": 0,
                }
            )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "info": {"description": f"EMPS-layout dataset {root.name}", "version": "1.0"},
        "images": images,
        "annotations": annotations,
        "categories": [CATEGORY],
    }
    out_path.write_text(json.dumps(document))
    return CocoExport(out_path, len(images), len(annotations))


def _decode(segmentation: object, height: int, width: int, mask_utils) -> np.ndarray:
    """One annotation's segmentation (RLE, compressed or not, or polygon list) as an (H, W) bool mask."""
    if isinstance(segmentation, dict):
        if list(segmentation.get("size", [])) != [height, width]:
            raise ValueError(f"RLE size {segmentation.get('size')} differs from the image's [{height}, {width}]")
        counts = segmentation.get("counts")
        if isinstance(counts, list):
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
                raise ValueError(f"RLE counts must be non-negative integers adding up to {height} x {width} pixels")
            segmentation = mask_utils.frPyObjects(segmentation, height, width)
        elif not isinstance(counts, (str, bytes)):
            raise ValueError("RLE counts must be a string or a list of integers")
        with warnings.catch_warnings():
            # pycocotools' decode trips numpy 2's __array__(copy=...) deprecation; the result is right.
            warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy keyword", DeprecationWarning)
            return mask_utils.decode(segmentation).astype(bool)
    if isinstance(segmentation, list) and all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation):
        mask = np.zeros((height, width), bool)
        for polygon in segmentation:
            points = np.asarray(polygon, np.float64)
            if not np.isfinite(points).all():
                raise ValueError("polygon holds a value that is not a finite number")
            mask |= polygon_mask(points[0::2], points[1::2], height_px=height, width_px=width)
        return mask
    raise ValueError("segmentation is neither RLE nor a list of polygons of at least 3 points")


def _image_entries(document: Mapping[str, object], path: Path) -> tuple[list[dict], dict[object, list[dict]]]:
    images, annotations = document.get("images"), document.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise DatasetError(f"{path}: not a COCO instances file (needs 'images' and 'annotations' lists)")
    by_image: dict[object, list[dict]] = {}
    for annotation in annotations:
        if isinstance(annotation, dict):
            by_image.setdefault(annotation.get("image_id"), []).append(annotation)
    return [image for image in images if isinstance(image, dict)], by_image


def import_coco(
    coco_path: str | Path,
    *,
    images_dir: str | Path,
    out_dir: str | Path,
    link: bool = False,
    progress: bool = False,
) -> ImportReport:
    """Turn a COCO instances JSON into an EMPS-layout directory (ids as in the module docstring).

    Every category is taken as particles; ``iscrowd`` annotations are left out (a crowd is not an
    instance). An image is looked up as ``images_dir/file_name``, then by its base name, and must
    have the JSON's width and height. Images without annotations are skipped. ``metadata.csv`` gets
    the images' ``doi``/``locator`` keys when present, and the polygons as VIA polygon regions
    (``[]`` for RLE). A bad image entry or annotation is an error naming it; the rest is written.
    """
    from skimage.segmentation import relabel_sequential

    coco_path, images_dir, out_dir = Path(coco_path), Path(images_dir), Path(out_dir)
    try:
        document = json.loads(coco_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{coco_path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{coco_path}: not a JSON file ({exc})") from None
    if not isinstance(document, dict):
        raise DatasetError(f"{coco_path}: not a COCO instances file (top level is not an object)")
    images, by_image = _image_entries(document, coco_path)
    mask_utils = _mask_utils()
    names = [str(image.get("file_name", "")) for image in images]
    owners = Counter(Path(name).stem for name in names)
    problems: list[Problem] = []
    written, skipped, rows = [], [], []
    for image in with_progress(images, enabled=progress, desc=f"import {coco_path.name}"):
        name = str(image.get("file_name", ""))
        stem = Path(name).stem
        if not stem:
            problems.append(Problem(f"{coco_path.name}: image id {image.get('id')}", "no file_name"))
            continue
        if owners[stem] > 1:
            problems.append(Problem(name, f"{owners[stem]} images are written as {stem}.png (duplicate file name); none of them is imported"))
            continue
        annotations = sorted(
            (a for a in by_image.get(image.get("id"), []) if not a.get("iscrowd")), key=lambda a: (a.get("id") is None, a.get("id", 0))
        )
        if not annotations:
            skipped.append(name)
            continue
        if len(annotations) > MAX_INSTANCES:
            problems.append(Problem(name, f"{len(annotations)} annotations do not fit a uint16 map"))
            continue
        source = None
        try:
            source = next((p for p in (images_dir / name, images_dir / Path(name).name) if p.is_file()), None)
            if source is None:
                raise DatasetError(f"image not found in {images_dir}")
            width, height = image_size(source)
            if (image.get("width"), image.get("height")) != (width, height):
                raise DatasetError(f"image is {width}x{height} px but the JSON says {image.get('width')}x{image.get('height')}")
            labels = np.zeros((height, width), np.uint16)
            for number, annotation in enumerate(annotations, start=1):
                try:
                    labels[_decode(annotation.get("segmentation"), height, width, mask_utils)] = number
                except (ValueError, TypeError) as exc:
                    raise DatasetError(f"annotation {annotation.get('id')}: {exc}") from None
            labels, final_ids, _ = relabel_sequential(labels)
            labels = labels.astype(np.uint16)
            regions = [
                {"shape_attributes": {"name": "polygon", "all_points_x": p[0::2], "all_points_y": p[1::2]}, "region_attributes": {"instance_id": int(final_ids[number])}}
                for number, annotation in enumerate(annotations, start=1)
                if isinstance(annotation["segmentation"], list) and final_ids[number]
                for p in annotation["segmentation"]
            ]
            write_image(source, out_dir / IMAGES / f"{stem}.png", size_px=(width, height), link=link)
            write_instance_map(labels, out_dir / SEGMAPS / f"{stem}.png")
        except (IDEError, OSError) as exc:
            problems.append(Problem(name, str(exc).removeprefix(f"{source}: ") if source else str(exc)))
            continue
        rows.append(MetadataRow(f"{stem}.png", str(image.get("doi") or ""), str(image.get("locator") or ""), tuple(regions)))
        written.append(stem)
    if rows:
        update_metadata(out_dir, rows)
    report = ImportReport(out_dir, tuple(written), tuple(skipped), tuple(problems))
    return report
