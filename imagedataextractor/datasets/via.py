"""VGG Image Annotator (VIA 2) projects to EMPS-layout instance maps.

Rasterisation convention (the same for every shape, and for COCO polygons in :mod:`.coco`):

* Coordinates are continuous image coordinates as VIA records them from the canvas: pixel (row i,
  column j) covers ``[j, j+1) x [i, i+1)``, so its centre is ``(j + 0.5, i + 0.5)``.
* A pixel belongs to a shape when its centre lies inside the shape. Polygons (``polygon`` and
  ``polyline``, which EMPS uses for closed outlines; the last point joins the first) and rectangles
  use the even-odd rule, so a self-intersecting outline leaves the doubly-wound parts empty
  (a pentagram's centre stays background). Circles and ellipses include their boundary; an
  ellipse's ``theta`` rotates its ``rx`` axis clockwise on screen (y down), as VIA draws it.
* Shapes are clipped to the image. Region k of an entry gets id k (1-based, region order) and later
  regions are drawn over earlier ones, as in EMPS; a region left with no pixels (outside the image
  or covered) keeps its id unused, so ids can be non-contiguous (EMPS has three such maps). The id
  is the link back to ``regions[k - 1]`` in ``metadata.csv``.
* When the annotated image (the *frame*) and the written image differ in size, shapes are mapped
  by scaling the continuous coordinates (``x * out_width / frame_width``) and rasterised directly on
  the output grid, never drawn large and downsampled.

EMPS ``segmaps`` were drawn on the original figures, which were then scaled to a short side of 512
px; the original sizes are not recorded. :func:`fit_frame_size` recovers them from a published map
so that the published maps can be re-derived and compared. With those sizes, importing EMPS's
``viadata.json`` gives the published instance counts on all 465 maps (11535 instances, the same
three unused ids), matches 11530 of them at IoU > 0.5, and agrees on 99.73 % of pixels (foreground)
and 99.71 % (exact ids up to renaming), per-image mean; the rest is a one-pixel boundary band in
which EMPS's masks are slightly fuller (0.20 % of pixels are foreground only there, 0.07 % only
here). Drawing at the original size with ``cv2.fillPoly`` or ``skimage.draw.polygon`` (integer
pixel centres) and then downsizing with nearest-neighbour agrees less (99.23-99.27 % against
99.50 % for this convention, on 88 images that include the 10 worst), so EMPS's own rasteriser,
which is not published, is not reproduced exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DatasetError, IDEError
from .layout import (
    IMAGES,
    MAX_INSTANCES,
    SEGMAPS,
    ImportReport,
    MetadataRow,
    Problem,
    image_size,
    update_metadata,
    with_progress,
    write_image,
    write_instance_map,
)
from .rasterise import Ellipse, Polygon, fill_shape

log = logging.getLogger(__name__)

Naming = Literal["stem", "md5"]

# EMPS names figure files "<doi with dots>.<locator>.png", duplicates with a file-manager suffix.
_COPY_SUFFIX = re.compile(r"( \((?:another |\d+(?:st|nd|rd|th) )?copy\))+$")
_DOI_NAME = re.compile(r"^10\.\d{4,9}[./]")


@dataclass(frozen=True)
class ViaEntry:
    """One image entry of a VIA project: its key, file name, regions (in order) and file attributes."""

    key: str
    filename: str
    regions: tuple[dict, ...]
    file_attributes: Mapping[str, object]


def read_via(path: str | Path) -> tuple[list[ViaEntry], list[Problem]]:
    """Read a VIA 2 project (``_via_img_metadata``) or a VIA annotation export (entries only).

    Returns the well-formed entries in file order and a problem for each malformed one. Raises
    :class:`DatasetError` naming the file when it is not JSON or not a VIA file at all. VIA 1's
    regions given as a dict keyed by index are accepted and ordered by index.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a JSON file ({exc})") from None
    if isinstance(data, dict) and "_via_img_metadata" in data:
        data = data["_via_img_metadata"]
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DatasetError(f"{path}: not a VIA project (expected _via_img_metadata or a dict of image entries)")
    entries: list[ViaEntry] = []
    problems: list[Problem] = []
    for key, entry in data.items():
        filename, regions = entry.get("filename"), entry.get("regions", [])
        if isinstance(regions, dict):
            try:
                regions = [regions[k] for k in sorted(regions, key=int)]
            except ValueError:
                regions = None
        if not isinstance(filename, str) or not filename:
            problems.append(Problem(f"{path.name}:{key}", "entry has no filename"))
        elif not isinstance(regions, list) or not all(isinstance(r, dict) for r in regions):
            problems.append(Problem(filename, "'regions' is not a list of region objects"))
        else:
            attributes = entry.get("file_attributes")
            entries.append(ViaEntry(str(key), filename, tuple(regions), attributes if isinstance(attributes, dict) else {}))
    return entries, problems


def _numbers(attributes: Mapping[str, object], *names: str) -> list[float]:
    values = []
    for name in names:
        value = attributes.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"'{name}' is {value!r}, not a finite number")
        values.append(float(value))
    return values


def _finite_array(values: list, name: str) -> np.ndarray:
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise ValueError(f"'{name}' holds a value that is not a number")
    array = np.asarray(values, np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"'{name}' holds a value that is not finite")
    return array


def _parse_shape(region: Mapping[str, object]) -> Polygon | Ellipse:
    attributes = region.get("shape_attributes") if isinstance(region, Mapping) else None
    if not isinstance(attributes, dict):
        raise ValueError("no shape_attributes")
    name = attributes.get("name")
    if name in ("polygon", "polyline"):
        xs, ys = attributes.get("all_points_x"), attributes.get("all_points_y")
        if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
            raise ValueError("all_points_x and all_points_y must be lists of equal length")
        if len(xs) < 3:
            raise ValueError(f"{name} has {len(xs)} points; an outline needs at least 3")
        return Polygon(_finite_array(xs, "all_points_x"), _finite_array(ys, "all_points_y"))
    if name == "rect":
        x, y, width, height = _numbers(attributes, "x", "y", "width", "height")
        if width <= 0 or height <= 0:
            raise ValueError(f"rect has width {width:g} and height {height:g}; both must be > 0")
        return Polygon(np.array([x, x + width, x + width, x]), np.array([y, y, y + height, y + height]))
    if name == "circle":
        cx, cy, r = _numbers(attributes, "cx", "cy", "r")
        if r <= 0:
            raise ValueError(f"circle has radius {r:g}; it must be > 0")
        return Ellipse(cx, cy, r, r, 0.0)
    if name == "ellipse":
        cx, cy, rx, ry, theta = _numbers({"theta": 0.0, **attributes}, "cx", "cy", "rx", "ry", "theta")
        if rx <= 0 or ry <= 0:
            raise ValueError(f"ellipse has radii {rx:g}, {ry:g}; both must be > 0")
        return Ellipse(cx, cy, rx, ry, theta)
    raise ValueError(f"shape {name!r} has no area (supported: polygon, polyline, rect, circle, ellipse)")


def _parse_shapes(regions: Sequence[Mapping[str, object]], *, item: str) -> list[Polygon | Ellipse]:
    shapes = []
    for number, region in enumerate(regions, start=1):
        try:
            shapes.append(_parse_shape(region))
        except ValueError as exc:
            raise DatasetError(f"{item}: region {number}: {exc}") from None
    return shapes


def regions_to_instance_map(
    regions: Sequence[Mapping[str, object]],
    *,
    width_px: int,
    height_px: int,
    frame_width_px: int | None = None,
    frame_height_px: int | None = None,
    item: str = "regions",
) -> np.ndarray:
    """Rasterise VIA regions into an instance map (see the module docstring for the convention).

    Parameters
    ----------
    regions : VIA region dicts (``shape_attributes`` with polygon, polyline, rect, circle or ellipse).
    width_px, height_px : size of the map to draw.
    frame_width_px, frame_height_px : size of the image the regions were drawn on, when it differs
        from the map's (the map is then a resized copy); default the map's size.
    item : name used in error messages.

    Returns
    -------
    (height_px, width_px) uint16 array: 0 background, region k -> id k, later regions on top.
    Raises :class:`DatasetError` naming ``item`` and the region number for a malformed region.

    Example
    -------
    >>> square = {"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 2, "height": 2}}
    >>> regions_to_instance_map([square], width_px=4, height_px=4)[1:3, 1:3].tolist()
    [[1, 1], [1, 1]]
    """
    if len(regions) > MAX_INSTANCES:
        raise DatasetError(f"{item}: {len(regions)} regions do not fit a uint16 map")
    if width_px < 1 or height_px < 1:
        raise DatasetError(f"{item}: map size {width_px}x{height_px} px is empty")
    frame_w, frame_h = frame_width_px or width_px, frame_height_px or height_px
    scale = (width_px / frame_w, height_px / frame_h)
    labels = np.zeros((height_px, width_px), np.uint16)
    for label, shape in enumerate(_parse_shapes(regions, item=item), start=1):
        box = fill_shape(shape, scale, (height_px, width_px))
        if box is not None:
            labels[box[0], box[1]][box[2]] = label
    return labels


def doi_and_locator(filename: str, file_attributes: Mapping[str, object] | None = None) -> tuple[str, str]:
    """DOI and figure locator of an entry: the ``doi``/``locator`` file attributes when set, else parsed
    from an EMPS-style name ``<doi with dots>.<locator>[ (copy)].png`` (DOI kept dotted, as EMPS
    stores it); empty strings when neither is available."""
    attributes = file_attributes or {}
    doi, locator = str(attributes.get("doi") or ""), str(attributes.get("locator") or "")
    if doi:
        return doi, locator
    base = _COPY_SUFFIX.sub("", Path(filename).stem)
    if _DOI_NAME.match(base) and base.count(".") >= 2:
        doi, locator = base.rsplit(".", 1)
        return doi, locator
    return "", locator


def output_stem(filename: str, naming: Naming) -> str:
    """Stem written for a VIA file name: its own stem, or EMPS's ``md5(filename)[:10]``."""
    if naming == "md5":
        return hashlib.md5(filename.encode("utf-8")).hexdigest()[:10]
    return Path(filename).stem


def _find_image(images_dir: Path, filename: str, stem: str) -> Path:
    for candidate in (images_dir / filename, images_dir / Path(filename).name, images_dir / f"{stem}.png"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{filename}: image not found in {images_dir} (tried {Path(filename).name} and {stem}.png)")


def _scaled_size(size: tuple[int, int], short_side_px: int | None) -> tuple[int, int]:
    if short_side_px is None:
        return size
    factor = short_side_px / min(size)
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def import_via(
    via_path: str | Path,
    *,
    images_dir: str | Path,
    out_dir: str | Path,
    naming: Naming = "stem",
    short_side_px: int | None = None,
    frame_sizes: Mapping[str, tuple[int, int]] | None = None,
    link: bool = False,
    progress: bool = False,
) -> ImportReport:
    """Turn a VIA project into an EMPS-layout directory.

    Each annotated entry gives ``out_dir/images/<stem>.png`` (copied, or symlinked with ``link``),
    ``out_dir/segmaps/<stem>.png`` (uint16 instance map, see the module docstring) and a row of
    ``metadata.csv`` (filename, DOI and locator from :func:`doi_and_locator`, the regions verbatim).
    Entries without regions are skipped. Rows of other files already in ``metadata.csv`` are kept.

    Parameters
    ----------
    via_path : the VIA project or annotation JSON.
    images_dir : where the annotated images are; an entry's image is looked up as its file name,
        then as ``<stem>.png`` (so a set already renamed, like EMPS, is found).
    naming : ``"stem"`` keeps the file stem; ``"md5"`` uses EMPS's ``md5(filename)[:10]``.
    short_side_px : scale images and maps so that their short side has this many pixels (EMPS: 512).
    frame_sizes : (width, height) in px of the image each file name was annotated on, when the image
        in ``images_dir`` is a resized copy (see :func:`fit_frame_size`); default the image's size.

    Returns
    -------
    :class:`ImportReport`. A bad entry (malformed region, missing image, duplicate name) is an error
    naming it; the other entries are still written.
    """
    via_path, images_dir, out_dir = Path(via_path), Path(images_dir), Path(out_dir)
    entries, problems = read_via(via_path)
    stems = {entry.key: output_stem(entry.filename, naming) for entry in entries}
    owners = Counter(stems.values())
    written: list[str] = []
    skipped: list[str] = []
    rows: list[MetadataRow] = []
    for entry in with_progress(entries, enabled=progress, desc=f"import {via_path.name}"):
        stem = stems[entry.key]
        if not entry.regions:
            skipped.append(entry.filename)
            continue
        if owners[stem] > 1:
            problems.append(Problem(entry.filename, f"{owners[stem]} entries are written as {stem}.png (duplicate file name); none of them is imported"))
            continue
        try:
            source = _find_image(images_dir, entry.filename, stem)
            native = image_size(source)
            width, height = _scaled_size(native, short_side_px)
            frame = (frame_sizes or {}).get(entry.filename, native)
            labels = regions_to_instance_map(
                entry.regions, width_px=width, height_px=height, frame_width_px=frame[0], frame_height_px=frame[1], item=entry.filename
            )
            present = np.bincount(labels.ravel(), minlength=len(entry.regions) + 1)[1:] > 0
            if not present.all():
                missing = ", ".join(str(i + 1) for i in np.flatnonzero(~present))
                problems.append(Problem(entry.filename, f"region(s) {missing} have no pixels (outside the image or covered by later regions)", "warning"))
            write_image(source, out_dir / IMAGES / f"{stem}.png", size_px=(width, height), link=link)
            write_instance_map(labels, out_dir / SEGMAPS / f"{stem}.png")
        except (IDEError, OSError) as exc:
            problems.append(Problem(entry.filename, str(exc).removeprefix(f"{entry.filename}: ")))
            continue
        doi, locator = doi_and_locator(entry.filename, entry.file_attributes)
        rows.append(MetadataRow(f"{stem}.png", doi, locator, entry.regions))
        written.append(stem)
    if rows:
        update_metadata(out_dir, rows)
    report = ImportReport(out_dir, tuple(written), tuple(skipped), tuple(problems))
    log.info("%s: %d written, %d without regions skipped, %d failed", via_path, len(written), len(skipped), len(report.errors))
    return report


def _extent(shape: Polygon | Ellipse, axis: int) -> float:
    """Width (axis 0) or height (axis 1) of a shape in frame pixels."""
    if isinstance(shape, Polygon):
        return float(np.ptp(shape.xs if axis == 0 else shape.ys))
    cos, sin = math.cos(shape.theta), math.sin(shape.theta)
    if axis == 1:
        cos, sin = sin, cos
    return 2.0 * math.hypot(shape.rx * cos, shape.ry * sin)


def _scale_guess(shapes: Sequence[Polygon | Ellipse], reference: np.ndarray) -> float | None:
    """Frame-to-map scale: the median ratio of map extent to shape extent, over the instances and
    axes where the map's instance is not clipped by the border and spans at least 8 px."""
    from scipy.ndimage import find_objects

    height, width = reference.shape
    ratios = []
    for label, box in enumerate(find_objects(reference, max_label=len(shapes)), start=1):
        if box is None:
            continue
        for axis, (span, size) in enumerate(((box[1], width), (box[0], height))):
            extent = _extent(shapes[label - 1], axis)
            if span.start > 0 and span.stop < size and span.stop - span.start >= 8 and extent > 0:
                ratios.append((span.stop - span.start) / extent)
    return float(np.median(ratios)) if ratios else None


def fit_frame_size(regions: Sequence[Mapping[str, object]], reference: np.ndarray, *, item: str = "regions") -> tuple[int, int]:
    """The (width, height) in px of the image ``regions`` were drawn on, recovered from a map
    ``reference`` drawn from them and then resized (aspect ratio kept), as EMPS's maps were.

    The scale is first estimated from the extents of instances not clipped by the border (or, failing
    that, searched over 0.1-2x in 1% steps), then the frame's short side is chosen among nearby
    integers by the foreground IoU of :func:`regions_to_instance_map` with ``reference``. Returns the
    reference's own size when the regions draw nothing.
    """
    height, width = reference.shape
    shapes = _parse_shapes(regions, item=item)
    short, long_ = min(height, width), max(height, width)

    def frame(short_side: int) -> tuple[int, int]:
        long_side = max(1, round(long_ * short_side / short))
        return (long_side, short_side) if height == short else (short_side, long_side)

    foreground = reference > 0

    def foreground_iou(short_side: int) -> float:
        frame_w, frame_h = frame(short_side)
        drawn = regions_to_instance_map(regions, width_px=width, height_px=height, frame_width_px=frame_w, frame_height_px=frame_h, item=item) > 0
        union = np.count_nonzero(drawn | foreground)
        return np.count_nonzero(drawn & foreground) / union if union else 0.0

    scale = _scale_guess(shapes, reference)
    if scale is None:
        coarse = sorted({max(1, round(short / s)) for s in np.geomspace(0.1, 2.0, 300)})
        scale = short / max(coarse, key=foreground_iou)
    # Coarse then fine integer search of the frame's short side around the guess (+-3%).
    best = max(1, round(short / scale))
    for step in (max(1, round(0.006 * best)), 1):
        best = max(range(max(1, best - 5 * step), best + 5 * step + 1, step), key=foreground_iou)
    return frame(best)
