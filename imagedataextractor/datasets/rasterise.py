"""Rasterising shapes (polygons, ellipses) onto a pixel grid, by the convention described in
:mod:`.via` (a pixel belongs to a shape when its centre lies inside; polygons by the even-odd rule).
Used by the VIA and COCO importers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Polygon:
    """A closed outline: vertices in continuous pixel coordinates (last joins first), even-odd rule."""

    xs: np.ndarray  # frame x of the vertices, float64
    ys: np.ndarray


@dataclass(frozen=True)
class Ellipse:
    """An ellipse: centre, radii (pixels) and rotation."""

    cx: float
    cy: float
    rx: float
    ry: float
    theta: float  # radians, rotation of the rx axis, clockwise on screen


Box = tuple[slice, slice, np.ndarray]  # rows, cols of a box of the map and the (rows, cols) bool mask in it
# Scanline rows handled at once, bounding the (rows, edges) crossing table of a huge polygon.
_CROSSING_TABLE_SIZE = 1 << 21


def _polygon_rows(xs: np.ndarray, ys: np.ndarray, rows: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Even-odd spans of a polygon (map pixel coordinates) on the scanlines through the centres of
    ``rows``: (row index into ``rows``, first column, end column) of each span, columns clipped to [0, width]."""
    x0, y0, x1, y1 = xs, ys, np.roll(xs, -1), np.roll(ys, -1)
    centres = rows[:, None] + 0.5
    # Half-open in y, so a vertex on a scanline counts once and horizontal edges never cross.
    crosses = (np.minimum(y0, y1) <= centres) & (centres < np.maximum(y0, y1))
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x0 + (centres - y0) * (x1 - x0) / (y1 - y0)
    at = np.sort(np.where(crosses, at, np.inf), axis=1)[:, : int(crosses.sum(axis=1).max(initial=0))]
    starts, ends = at[:, 0::2], at[:, 1::2]
    valid = np.isfinite(ends)
    # Pixel j (centre j + 0.5) is inside a span [start, end) when start <= j + 0.5 < end.
    first = np.clip(np.ceil(starts[valid] - 0.5), 0, width).astype(np.intp)
    end = np.clip(np.ceil(ends[valid] - 0.5), 0, width).astype(np.intp)
    return np.nonzero(valid)[0], first, end


def fill_polygon(xs: np.ndarray, ys: np.ndarray, shape_hw: tuple[int, int]) -> Box | None:
    """Pixels whose centres are inside a polygon given in map pixel coordinates (even-odd rule; a
    centre exactly on an edge belongs to the polygon on its right or below, so polygons that share
    an edge neither overlap nor leave a gap)."""
    height, width = shape_hw
    row0, row1 = max(0, math.ceil(ys.min() - 0.5)), min(height, math.ceil(ys.max() - 0.5))
    if row0 >= row1:
        return None
    block = max(1, _CROSSING_TABLE_SIZE // xs.size)
    spans = [_polygon_rows(xs, ys, np.arange(r, min(r + block, row1), dtype=np.float64), width) for r in range(row0, row1, block)]
    offsets = np.cumsum([0] + [min(block, row1 - r) for r in range(row0, row1, block)])[:-1]
    span_rows = np.concatenate([s[0] + o for s, o in zip(spans, offsets)])
    first, end = np.concatenate([s[1] for s in spans]), np.concatenate([s[2] for s in spans])
    keep = end > first
    if not keep.any():
        return None
    span_rows, first, end = span_rows[keep], first[keep], end[keep]
    col0, col1 = int(first.min()), int(end.max())
    edges = np.zeros((row1 - row0, col1 - col0 + 1), np.int32)
    np.add.at(edges, (span_rows, first - col0), 1)
    np.add.at(edges, (span_rows, end - col0), -1)
    return slice(row0, row1), slice(col0, col1), np.cumsum(edges, axis=1)[:, :-1] > 0


def fill_ellipse(shape: Ellipse, scale: tuple[float, float], shape_hw: tuple[int, int]) -> Box | None:
    sx, sy = scale
    height, width = shape_hw
    reach = max(shape.rx, shape.ry)
    col0, col1 = max(0, math.floor((shape.cx - reach) * sx)), min(width, math.ceil((shape.cx + reach) * sx) + 1)
    row0, row1 = max(0, math.floor((shape.cy - reach) * sy)), min(height, math.ceil((shape.cy + reach) * sy) + 1)
    if col0 >= col1 or row0 >= row1:
        return None
    rows, cols = np.ogrid[row0:row1, col0:col1]
    # Test each pixel centre in the frame's coordinates, where the shape is a plain rotated ellipse.
    dx, dy = (cols + 0.5) / sx - shape.cx, (rows + 0.5) / sy - shape.cy
    cos, sin = math.cos(shape.theta), math.sin(shape.theta)
    inside = ((dx * cos + dy * sin) / shape.rx) ** 2 + ((dy * cos - dx * sin) / shape.ry) ** 2 <= 1.0
    return slice(row0, row1), slice(col0, col1), inside


def fill_shape(shape: Polygon | Ellipse, scale: tuple[float, float], shape_hw: tuple[int, int]) -> Box | None:
    """The output pixels whose centres lie inside ``shape`` (the convention of :mod:`.via`), or None."""
    if isinstance(shape, Polygon):
        return fill_polygon(shape.xs * scale[0], shape.ys * scale[1], shape_hw)
    return fill_ellipse(shape, scale, shape_hw)


def polygon_mask(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray, *, height_px: int, width_px: int) -> np.ndarray:
    """(height_px, width_px) bool mask of the pixels whose centres lie inside the polygon with
    vertices ``xs``, ``ys`` in continuous pixel coordinates (pixel (0, 0) covers [0, 1) x [0, 1));
    even-odd rule, clipped to the map (the convention of :mod:`.via`)."""
    mask = np.zeros((height_px, width_px), bool)
    box = fill_polygon(np.asarray(xs, np.float64), np.asarray(ys, np.float64), (height_px, width_px))
    if box is not None:
        mask[box[0], box[1]] = box[2]
    return mask
