"""ImageDataExtractor 1.0's particle detection (Mukaddem, Beard & Cole, J. Chem. Inf. Model. 2019,
60, 2492), reimplemented from its published code (``particle_identification.py``,
``contour_detections.py``, ``correction_steps.py``)."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ...errors import SettingsError
from ..types import Segmentation
from .common import Polarity, as_grey, check_polarity, make_segmentation, particles_are_bright, particles_up

log = logging.getLogger(__name__)

METHOD = "ide1"
#: Pixels sampled inside and outside a particle outline for the discreteness index (original: 3).
DISCRETENESS_OFFSET_PX = 3


@dataclass(frozen=True)
class Ide1Config:
    """Settings of :func:`segment_ide1`; defaults are ImageDataExtractor 1.0's.

    polarity: "auto" (decided per image), "bright" or "dark" particles (1.0: a manual ``invert`` flag).
    block_size_px: neighbourhood of the Gaussian adaptive threshold (odd).
    median_blur_px: median filter on the thresholded image (odd; 0 = none).
    crop_px: pixels cut from each side first (against panel-splitting artefacts); labels are returned
        at the input size with this frame empty.
    min_area_fraction, max_area_fraction: contour area bounds as fractions of the image area.
    polygon_tolerance: Douglas-Peucker tolerance as a fraction of the contour perimeter.
    split_clusters: cut agglomerates at deep convexity defects.
    fit_ellipses: replace a contour by its fitted ellipse when that separates particle from background
        better.
    remove_edge_particles: drop particles with two or more vertices on the image border.
    """

    polarity: Polarity = "auto"
    block_size_px: int = 151
    median_blur_px: int = 3
    crop_px: int = 2
    min_area_fraction: float = 0.001
    max_area_fraction: float = 0.5
    polygon_tolerance: float = 0.0025
    split_clusters: bool = True
    fit_ellipses: bool = True
    remove_edge_particles: bool = True

    def __post_init__(self) -> None:
        check_polarity(self.polarity)
        if self.block_size_px < 3 or self.block_size_px % 2 == 0:
            raise SettingsError(f"block_size_px: expected an odd size >= 3, got {self.block_size_px}")
        if self.median_blur_px < 0 or (self.median_blur_px and self.median_blur_px % 2 == 0):
            raise SettingsError(f"median_blur_px: expected 0 or an odd size, got {self.median_blur_px}")
        if self.crop_px < 0:
            raise SettingsError(f"crop_px: expected >= 0, got {self.crop_px}")
        if not 0 <= self.min_area_fraction < self.max_area_fraction <= 1:
            raise SettingsError("min_area_fraction and max_area_fraction: expected 0 <= min < max <= 1")


def _find_particles(binary: np.ndarray, *, min_area_px: float, max_area_px: float, tolerance: float) -> list[np.ndarray]:
    """Outer contours of ``binary`` (uint8, nonzero = particle) as simplified int32 (N, 1, 2) polygons.

    As 1.0's ``find_draw_contours``: full contour tree, kept when min < area < max, the simplified
    polygon has > 2 vertices, and the contour is top level or a child of contour 0 (a hole in the
    first outer region, i.e. a dark particle inside a bright frame).
    """
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    polygons = []
    for index, contour in enumerate(contours):
        area = cv2.contourArea(contour)
        parent = hierarchy[0][index][3]
        if not (min_area_px < area < max_area_px and parent in (-1, 0)):
            continue
        polygon = cv2.approxPolyDP(contour, tolerance * cv2.arcLength(contour, True), True)
        if len(polygon) > 2:
            polygons.append(polygon)
    return polygons


def _inside_pixels(grey: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Grey values of the pixels covered by ``polygon`` (filled), 1-D."""
    x, y, w, h = cv2.boundingRect(polygon)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, grey.shape[1]), min(y + h, grey.shape[0])
    if x1 <= x0 or y1 <= y0:
        return np.empty(0, grey.dtype)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [polygon.reshape(-1, 2)], 1, offset=(-x0, -y0))
    return grey[y0:y1, x0:x1][mask > 0]


def _remove_false_positives(grey: np.ndarray, polygons: list[np.ndarray]) -> list[np.ndarray]:
    """1.0's ``false_positive_correction``: drop a particle that is both much darker (< 0.6 x the mean
    particle intensity) and much flatter (std < 0.25 x the mean std) than the others, or is nearly
    black (mean < 2) or saturated (mean > 240 or mode > 250: text boxes, inlays)."""
    stats = []
    for polygon in polygons:
        values = _inside_pixels(grey, polygon)
        if values.size == 0:
            stats.append((0.0, 0.0, 0))
        else:
            stats.append((float(values.mean()), float(values.std()), int(np.bincount(values).argmax())))
    mean_of_means = np.mean([s[0] for s in stats])
    mean_of_stds = np.mean([s[1] for s in stats])
    return [
        polygon
        for polygon, (mean, std, mode) in zip(polygons, stats)
        if not ((mean < 0.6 * mean_of_means and std < 0.25 * mean_of_stds) or mean < 2 or mean > 240 or mode > 250)
    ]


def _bottleneck_cut(polygon: np.ndarray, far: np.ndarray, into: np.ndarray, reach_px: int) -> np.ndarray | None:
    """Where to cut an agglomerate from the defect point ``far`` (x, y): the nearest outline point on
    the opposite face, searched in a half-ellipse (semi-axes 0.9 x ``reach_px`` across and
    2 x ``reach_px`` along the unit vector ``into``) as 1.0 does. Returns that point (x, y) or None.
    Works in a window around ``far`` only, so its cost does not grow with the image."""
    radius = 2 * reach_px + 2
    origin = far.astype(np.int64) - radius
    size = (2 * radius + 1, 2 * radius + 1)
    outline = np.zeros(size, np.uint8)
    cv2.polylines(outline, [(polygon.reshape(-1, 2) - origin).astype(np.int32)], True, 1, thickness=1)
    search = np.zeros(size, np.uint8)
    angle = math.degrees(math.atan2(-into[0], into[1]))  # rotates the ellipse's +y half onto ``into``
    cv2.ellipse(search, (radius, radius), (int(0.9 * reach_px), 2 * reach_px), angle, 0, 180, 1, -1)
    n, pieces = cv2.connectedComponents(outline & search, connectivity=8)
    if n <= 2:
        return None
    ys, xs = np.nonzero((pieces > 0) & (pieces != pieces[radius, radius]))
    distances = np.hypot(xs - radius, ys - radius)
    beyond = distances > 2
    if not beyond.any():
        return None
    nearest = np.argmin(np.where(beyond, distances, np.inf))
    return np.array([xs[nearest], ys[nearest]], np.float64) + origin


def _split_clusters(polygons: list[np.ndarray], shape: tuple[int, int], *, tolerance: float) -> list[np.ndarray]:
    """1.0's ``cluster_breakup_correction``: every particle larger than half the mean area is redrawn;
    at each convexity defect deeper than sqrt(area) / 15 a 2-pixel line is cut from the defect to the
    nearest point of the opposite face (extended by 2 pixels at both ends), and the redrawn particles
    are detected again (min area: mean area / 10)."""
    areas = np.array([cv2.contourArea(p) for p in polygons])
    mean_area = float(areas.mean())
    reach_px = max(1, int(math.sqrt(mean_area) / 4))
    image_area = shape[0] * shape[1]
    redrawn = np.zeros(shape, np.uint8)
    kept = []
    for polygon, area in zip(polygons, areas):
        if not (area > 0.5 * mean_area or area > image_area / 2):
            kept.append(polygon)
            continue
        cv2.fillPoly(redrawn, [polygon.reshape(-1, 2)], 255)
        points = polygon.reshape(-1, 2)
        try:
            defects = cv2.convexityDefects(polygon, cv2.convexHull(polygon, returnPoints=False))
        except cv2.error:  # self-intersecting simplified polygon: no defects to cut at
            defects = None
        if defects is None:
            continue
        for start, end, deepest, depth in defects.reshape(-1, 4):
            if depth / 256.0 <= math.sqrt(area) / 15.0:
                continue
            far = points[deepest].astype(np.float64)
            into = far - (points[start] + points[end]) / 2.0
            if not np.any(into):
                continue
            other = _bottleneck_cut(polygon, far, into / np.linalg.norm(into), reach_px)
            if other is None:
                continue
            direction = (other - far) / np.linalg.norm(other - far)
            a, b = far - 2 * direction, other + 2 * direction
            cv2.line(redrawn, (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1]))), 0, thickness=2)
    found = _find_particles(redrawn, min_area_px=mean_area / 10, max_area_px=0.5 * image_area, tolerance=tolerance)
    return kept + found


def _touches_edge(polygon: np.ndarray, shape: tuple[int, int]) -> bool:
    """1.0's ``edge_correction``: two or more vertices on (or, for fitted ellipses, beyond) the border."""
    x, y = polygon.reshape(-1, 2).T
    on_edge = (x <= 0) | (y <= 0) | (x >= shape[1] - 1) | (y >= shape[0] - 1)
    return int(on_edge.sum()) >= 2


def _contrast_samples(grey: np.ndarray, polygon: np.ndarray, centre: Sequence[float]) -> np.ndarray:
    """Inside-minus-outside grey differences sampled 3 pixels either side of each vertex, horizontally
    and vertically away from ``centre``, as 1.0's discreteness index (vertices near the border skipped)."""
    offset = DISCRETENESS_OFFSET_PX
    rows, cols = grey.shape
    x, y = polygon.reshape(-1, 2).T.astype(np.int64)
    valid = (x > offset) & (x < cols - offset) & (y > offset) & (y < rows - offset)
    x, y = x[valid], y[valid]
    left, right, above, below = x < centre[0], x > centre[0], y < centre[1], y > centre[1]

    def at(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return grey[ys, xs].astype(np.float64)

    return np.concatenate(
        [
            at(y[left], x[left] + offset) - at(y[left], x[left] - offset),
            at(y[right], x[right] - offset) - at(y[right], x[right] + offset),
            at(y[above] + offset, x[above]) - at(y[above] - offset, x[above]),
            at(y[below] - offset, x[below]) - at(y[below] + offset, x[below]),
        ]
    )


def _mean(samples: np.ndarray) -> float:
    return float(samples.mean()) if samples.size else 0.0


def _fit_ellipses(grey: np.ndarray, polygons: list[np.ndarray]) -> tuple[list[np.ndarray], list[float]]:
    """1.0's ``discreteness_index_and_ellipse_fitting``: fit an ellipse to each particle's convex hull
    and keep it instead of the contour when its discreteness index (summed contrast / number of
    vertices) is higher and its inside is not much less uniform (std < 1.25 x the contour's).
    Particles whose hull has <= 4 points are dropped, as in 1.0. Returns the shapes and each one's
    mean inside-minus-outside contrast (grey levels)."""
    shapes, contrasts = [], []
    for polygon in polygons:
        hull = cv2.convexHull(polygon)
        if len(hull) <= 4:
            continue
        (cx, cy), (width, height), angle = cv2.fitEllipse(hull)
        ellipse = np.asarray(
            cv2.ellipse2Poly((int(cx), int(cy)), (int(width / 2), int(height / 2)), int(angle), 0, 360, 5), np.int32
        ).reshape(-1, 1, 2)
        centre, _ = cv2.minEnclosingCircle(polygon)
        contour_samples = _contrast_samples(grey, polygon, centre)
        ellipse_samples = _contrast_samples(grey, ellipse, centre)
        contour_index = contour_samples.sum() / len(polygon)
        ellipse_index = ellipse_samples.sum() / len(ellipse)
        contour_inside, ellipse_inside = _inside_pixels(grey, polygon), _inside_pixels(grey, ellipse)
        better_ellipse = (
            ellipse_inside.size > 0
            and contour_inside.size > 0
            and ellipse_index > contour_index
            and ellipse_inside.std() < 1.25 * contour_inside.std()
        )
        shapes.append(ellipse if better_ellipse else polygon)
        contrasts.append(_mean(ellipse_samples if better_ellipse else contour_samples))
    return shapes, contrasts


def _nested(polygons: list[np.ndarray]) -> set[int]:
    """Indices of particles with more than half their vertices strictly inside another particle."""
    boxes = [cv2.boundingRect(p) for p in polygons]
    nested = set()
    for i, (xi, yi, wi, hi) in enumerate(boxes):
        for j, (xj, yj, wj, hj) in enumerate(boxes):
            if i == j or xi >= xj + wj or xj >= xi + wi or yi >= yj + hj or yj >= yi + hi:
                continue
            points = polygons[i].reshape(-1, 2)
            inside = sum(cv2.pointPolygonTest(polygons[j], (float(x), float(y)), False) > 0 for x, y in points)
            if inside / len(points) > 0.5:
                nested.add(i)
    return nested


def segment_ide1(image: np.ndarray, *, config: Ide1Config = Ide1Config()) -> Segmentation:
    """Segment particles as ImageDataExtractor 1.0 did.

    Steps following 1.0 (``particle_identification``): greyscale; crop ``crop_px``; Gaussian adaptive
    threshold (block ``block_size_px``, C = 0) with particles bright; median blur; contour tree with
    area, vertex-count and hierarchy filters; false-positive filter on particle intensity statistics;
    cluster break-up at deep convexity defects; edge-particle removal; ellipse fitting judged by the
    discreteness index; removal of particles nested inside others; edge-particle removal again.

    Differences from 1.0: polarity is decided automatically (1.0 had a manual ``invert`` flag and its
    automatic retry with inverted colours was disabled); scalebar/inlay boxes are not excluded (that is
    the scalebar stage's job here); the cut across a bottleneck is extended along its own direction
    rather than by 1.0's per-axis offsets; fitted ellipses reaching past the border count as touching
    it; and the output is a label map (polygons filled, larger first so that smaller ones stay visible)
    instead of vertex lists. Touching particles are split only where the outline has a deep concavity.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB array ((H, W) greyscale accepted).
    config : :class:`Ide1Config`.

    Returns
    -------
    Segmentation with (H, W) uint16 labels at the input size; ``scores`` each particle's mean
    inside-minus-outside contrast / 255 across its outline (1.0's discreteness index per sample),
    clipped to [0, 1]; method "ide1"; the settings and the polarity used in ``details``.

    Example
    -------
    >>> import numpy as np, cv2
    >>> image = np.full((256, 256, 3), 60, np.uint8)
    >>> for x in (60, 180):
    ...     _ = cv2.circle(image, (x, 128), 30, (190, 190, 190), -1)
    >>> segment_ide1(image).n_instances
    2
    """
    grey = as_grey(image)
    bright = particles_are_bright(grey, config.polarity)
    details = {**dataclasses.asdict(config), "particles_bright": bool(bright)}
    crop = config.crop_px if min(grey.shape) > 2 * config.crop_px + 2 else 0
    work = np.ascontiguousarray(particles_up(grey, bright)[crop : grey.shape[0] - crop, crop : grey.shape[1] - crop])
    shape = work.shape
    image_area = shape[0] * shape[1]

    binary = cv2.adaptiveThreshold(work, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, config.block_size_px, 0)
    if config.median_blur_px:
        binary = cv2.medianBlur(binary, config.median_blur_px)
    polygons = _find_particles(
        binary,
        min_area_px=config.min_area_fraction * image_area,
        max_area_px=config.max_area_fraction * image_area,
        tolerance=config.polygon_tolerance,
    )
    contrasts: list[float] = []
    if polygons:
        polygons = _remove_false_positives(work, polygons)
    if polygons and config.split_clusters:
        polygons = _split_clusters(polygons, shape, tolerance=config.polygon_tolerance)
    if config.remove_edge_particles:
        polygons = [p for p in polygons if not _touches_edge(p, shape)]
    if config.fit_ellipses:
        polygons, contrasts = _fit_ellipses(work, polygons)
    else:
        contrasts = [_mean(_contrast_samples(work, p, cv2.minEnclosingCircle(p)[0])) for p in polygons]
    nested = _nested(polygons)
    keep = [i for i in range(len(polygons)) if i not in nested]
    if config.remove_edge_particles:
        keep = [i for i in keep if not _touches_edge(polygons[i], shape)]

    labels = np.zeros(grey.shape, np.int32)
    for i in sorted(keep, key=lambda i: -cv2.contourArea(polygons[i])):
        cv2.fillPoly(labels, [polygons[i].reshape(-1, 2)], i + 1, offset=(crop, crop))
    if crop:
        frame = np.ones(grey.shape, bool)
        frame[crop:-crop, crop:-crop] = False
        labels[frame] = 0
    scores = np.array(contrasts, np.float32) / 255.0
    log.debug("ide1: %d particles", len(keep))
    return make_segmentation(labels, scores=scores, method=METHOD, details=details)
