"""Pictures of pipeline results: an instance overlay and plots of the size histogram and g(r).

Plots use matplotlib's object API with the Agg canvas (no pyplot, no global state, no display).
No stage imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .measure import Histogram, RadialDistribution
    from .scalebar.types import Scalebar

SCALEBAR_COLOUR = (255, 40, 40)
LABEL_COLOUR = (255, 160, 0)


def instance_colours(n: int, *, seed: int = 0) -> np.ndarray:
    """(n + 1, 3) uint8 colours, row 0 (background) black, the others bright and random but
    reproducible, so neighbouring ids rarely look alike."""
    rng = np.random.default_rng(seed)
    colours = np.zeros((n + 1, 3), np.uint8)
    colours[1:] = rng.integers(60, 256, size=(n, 3), dtype=np.uint8)
    return colours


def overlay(
    image: np.ndarray,
    labels: np.ndarray,
    *,
    particles: pd.DataFrame | None = None,
    scalebar: Scalebar | None = None,
    blanked: np.ndarray | None = None,
    alpha: float = 0.45,
) -> np.ndarray:
    """(H, W, 3) uint8 picture: ``image`` with every instance of ``labels`` ((H, W) ints) tinted in
    its own colour and outlined, the particle ids written at their centroids (needs
    ``particles`` with ``particle_id``, ``centroid_x_px``, ``centroid_y_px``), the scalebar's
    box (or bar and label boxes) drawn in red and the outline of ``blanked`` ((H, W) bool: the
    labels blanked before segmentation) in orange."""
    from PIL import Image, ImageDraw
    from scipy import ndimage as ndi
    from skimage.segmentation import find_boundaries

    picture = image.astype(np.float32)
    colours = instance_colours(int(labels.max()) if labels.size else 0)[labels]
    inside = labels > 0
    picture[inside] = (1 - alpha) * picture[inside] + alpha * colours[inside]
    edges = find_boundaries(labels, mode="inner")
    picture[edges] = colours[edges]
    if blanked is not None:
        outline = ndi.binary_dilation(find_boundaries(blanked, mode="inner"))  # 3 px: visible on any micrograph
        picture[outline] = LABEL_COLOUR
    canvas = Image.fromarray(np.round(picture).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    if particles is not None:
        for row in particles.itertuples():
            draw.text((row.centroid_x_px, row.centroid_y_px), str(row.particle_id), fill=(255, 255, 255), anchor="mm", stroke_width=1, stroke_fill=(0, 0, 0))
    if scalebar is not None:
        boxes = [scalebar.box_bbox] if scalebar.box_bbox is not None else [scalebar.bar_bbox, scalebar.text_bbox]
        for box in boxes:
            if box is not None:
                x0, y0, x1, y1 = box
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=SCALEBAR_COLOUR, width=2)
    return np.asarray(canvas)


def save_overlay(
    path: str | Path,
    image: np.ndarray,
    particles: pd.DataFrame,
    labels: np.ndarray,
    scalebar: Scalebar | None,
    blanked: np.ndarray | None = None,
) -> None:
    """Write :func:`overlay` as a PNG."""
    from PIL import Image

    Image.fromarray(overlay(image, labels, particles=particles, scalebar=scalebar, blanked=blanked)).save(path)


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_histogram(path: str | Path, histogram: Histogram) -> None:
    """Bar plot of a :class:`~imagedataextractor.measure.Histogram` as a PNG (a note when empty)."""
    figure = _figure()
    axes = figure.add_subplot()
    name = histogram.quantity.replace("_", " ")
    axes.set_xlabel(f"{name} ({histogram.unit})" if histogram.unit else name)
    axes.set_ylabel("particles")
    if histogram.counts.size:
        edges = histogram.bin_edges
        axes.bar(edges[:-1], histogram.counts, width=np.diff(edges), align="edge", color="#4477aa", edgecolor="white")
    else:
        axes.text(0.5, 0.5, "no particles", ha="center", va="center", transform=axes.transAxes)
    figure.savefig(path)


def save_rdf(path: str | Path, rdf: RadialDistribution | None) -> None:
    """Line plot of g(r) as a PNG, in nm when the scale is known; a note when there is no RDF
    (too few particles)."""
    figure = _figure()
    axes = figure.add_subplot()
    axes.set_ylabel("g(r)")
    if rdf is None:
        axes.set_xlabel("r")
        axes.text(0.5, 0.5, "no RDF: too few particles", ha="center", va="center", transform=axes.transAxes)
    else:
        radii, unit = (rdf.radii_nm, "nm") if rdf.radii_nm is not None else (rdf.radii_px, "px")
        axes.plot(radii, rdf.g_r, color="#4477aa")
        axes.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        axes.set_xlabel(f"r ({unit})")
        axes.set_title(f"{rdf.n_points} particles", fontsize="small")
    figure.savefig(path)
