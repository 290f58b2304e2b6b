"""One row per particle: size and shape descriptors of every instance of a label map."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.measure import regionprops

from .feret import feret_diameters, hull_of_pixels

#: Length columns (pixels) that get an ``_nm`` twin when the scale is known.
LENGTH_COLUMNS = (
    "centroid_x",
    "centroid_y",
    "diameter",
    "perimeter",
    "feret_max",
    "feret_min",
    "ellipse_major",
    "ellipse_minor",
)

PIXEL_COLUMNS = (
    "particle_id",
    "centroid_x_px",
    "centroid_y_px",
    "area_px",
    "diameter_px",
    "perimeter_px",
    "feret_max_px",
    "feret_min_px",
    "ellipse_major_px",
    "ellipse_minor_px",
    "aspect_ratio_feret",
    "aspect_ratio_ellipse",
    "orientation_deg",
    "circularity",
    "solidity",
    "touches_border",
)


#: Levels of the foreground fraction at which :func:`diameter_spread_px` reads a particle's area:
#: the same count as BPartIS's default T, at the middle of each of T equal steps.
SPREAD_LEVELS = 30


def diameter_spread_px(labels: np.ndarray, foreground_fraction: np.ndarray, *, ring_px: int = 2) -> np.ndarray:
    """Each particle's spread (standard deviation, px) of its equivalent diameter over MC-dropout samples.

    labels: (H, W) integer instance map, 0 = background. foreground_fraction: (H, W) share of the
    samples (0-1) in which each pixel is foreground (see
    :attr:`~imagedataextractor.segment.Segmentation.foreground_fraction`). The samples' per-pixel
    decisions are taken to move together (a sample that grows a particle's edge grows all of it,
    the conservative coupling): in the sample at level u the particle holds the pixels of its
    region whose fraction exceeds u, the region being its own pixels and those within ``ring_px``
    of it that belong to no other particle. The diameter sqrt(4 A / pi) is read at
    :data:`SPREAD_LEVELS` levels and its standard deviation returned.

    Returns (n,) float64, in the order of the ids present (ascending, as
    :func:`particle_table` lists them).
    """
    labels = np.asarray(labels)
    fraction = np.asarray(foreground_fraction, dtype=np.float64)
    if fraction.shape != labels.shape:
        raise ValueError(f"foreground_fraction: shape {fraction.shape} differs from the labels' {labels.shape}")
    levels = (np.arange(SPREAD_LEVELS) + 0.5) / SPREAD_LEVELS
    structure = np.ones((3, 3), bool)
    spreads = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        grown = tuple(slice(max(0, s.start - ring_px), s.stop + ring_px) for s in box)
        crop = labels[grown]
        own = crop == index
        region = own | (ndimage.binary_dilation(own, structure, iterations=ring_px) & (crop == 0))
        values = np.sort(fraction[grown][region])
        areas = values.size - np.searchsorted(values, levels, side="right")
        spreads.append(float(np.sqrt(4.0 * areas / np.pi).std()))
    return np.asarray(spreads, dtype=np.float64)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def particle_table(labels: np.ndarray, *, nm_per_px: float | None, uncertainty: np.ndarray | None,
                   foreground_fraction: np.ndarray | None = None) -> pd.DataFrame:
    """Measure every instance of an (H, W) integer label map (0 = background).

    Columns (``PIXEL_COLUMNS``, then ``mean_uncertainty`` when ``uncertainty`` is given,
    ``diameter_sd_px`` when ``foreground_fraction`` is given, then the nm columns when
    ``nm_per_px`` is given):

    - ``centroid_x_px``/``centroid_y_px``: column / row of the centre of mass (pixel centres at
      integer coordinates, y downwards).
    - ``area_px``: pixel count. ``diameter_px``: equivalent circular diameter sqrt(4 A / pi).
    - ``perimeter_px``: Crofton perimeter (4 directions), unbiased for randomly oriented shapes;
      within about 1 % of 2 pi r for digitised discs of radius >= 10 px.
    - ``feret_max_px``/``feret_min_px``: caliper diameters of the pixel squares' convex hull.
    - ``ellipse_major_px``/``ellipse_minor_px``: full axis lengths of the ellipse with the same
      second moments.
    - ``aspect_ratio_feret`` = feret_max / feret_min; ``aspect_ratio_ellipse`` = major / minor
      (NaN for a one-pixel-wide particle, whose minor axis is 0).
    - ``orientation_deg``: angle of the major axis from the +x axis (image right), counter-clockwise
      as seen on screen, in [0, 180).
    - ``circularity`` = 4 pi area / perimeter^2 (1 for a disc; slightly above 1 can occur for
      small digitised discs); ``solidity`` = area / convex area.
    - ``touches_border``: the particle has a pixel in the first or last row or column.
    - ``mean_uncertainty``: mean of ``uncertainty`` over the particle's pixels (its units).
    - ``diameter_sd_px``: the spread (standard deviation) of the equivalent diameter over the
      MC-dropout samples, read from the (H, W) ``foreground_fraction``
      (:func:`diameter_spread_px`).
    - ``*_nm`` lengths and ``area_nm2``: the pixel values times ``nm_per_px`` (squared for area).
    """
    height, width = labels.shape
    rows = []
    for region in regionprops(labels, intensity_image=uncertainty):
        min_row, min_col, max_row, max_col = region.bbox
        feret_max, feret_min = feret_diameters(hull_of_pixels(region.image))
        perimeter = float(region.perimeter_crofton)
        major, minor = float(region.axis_major_length), float(region.axis_minor_length)
        centroid_y, centroid_x = region.centroid
        row = {
            "particle_id": int(region.label),
            "centroid_x_px": float(centroid_x),
            "centroid_y_px": float(centroid_y),
            "area_px": float(region.area),
            "diameter_px": float(region.equivalent_diameter_area),
            "perimeter_px": perimeter,
            "feret_max_px": feret_max,
            "feret_min_px": feret_min,
            "ellipse_major_px": major,
            "ellipse_minor_px": minor,
            "aspect_ratio_feret": _ratio(feret_max, feret_min),
            "aspect_ratio_ellipse": _ratio(major, minor),
            # scikit-image: angle between the row axis and the major axis, counter-clockwise.
            "orientation_deg": (math.degrees(region.orientation) + 90.0) % 180.0,
            "circularity": _ratio(4.0 * math.pi * region.area, perimeter**2),
            "solidity": float(region.solidity),
            "touches_border": bool(min_row == 0 or min_col == 0 or max_row == height or max_col == width),
        }
        if uncertainty is not None:
            row["mean_uncertainty"] = float(region.intensity_mean)
        rows.append(row)
    columns = list(PIXEL_COLUMNS) + (["mean_uncertainty"] if uncertainty is not None else [])
    table = pd.DataFrame(rows, columns=columns)
    dtypes = {name: "float64" for name in columns} | {"particle_id": "int64", "touches_border": "bool"}
    table = table.astype(dtypes)
    if foreground_fraction is not None:
        table["diameter_sd_px"] = diameter_spread_px(labels, foreground_fraction)
    if nm_per_px is not None:
        for name in LENGTH_COLUMNS + (("diameter_sd",) if foreground_fraction is not None else ()):
            table[f"{name}_nm"] = table[f"{name}_px"] * nm_per_px
        table["area_nm2"] = table["area_px"] * nm_per_px**2
    return table
