"""Pictures of a method comparison: an overlay grid (rows = images, columns = ground truth and each
method) and the plot of the uncertainty-threshold sweep. matplotlib's object API with the Agg
canvas (no pyplot state)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..errors import IDEError
from ..viz import overlay
from .metrics import METRIC_KEYS, f1_at
from .runner import Example
from .sweep import TuSweep

#: Height (px) of the grid's title row.
GRID_HEADER_PX = 24
_BACKGROUND = (32, 32, 32)


def _fit(picture: np.ndarray, cell: int) -> Image.Image:
    """``picture`` scaled to fit a cell x cell square (aspect kept), centred on a dark background."""
    height, width = picture.shape[:2]
    scale = cell / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = Image.new("RGB", (cell, cell), _BACKGROUND)
    canvas.paste(Image.fromarray(picture).resize(size, Image.Resampling.BILINEAR), ((cell - size[0]) // 2, (cell - size[1]) // 2))
    return canvas


def _caption(draw: ImageDraw.ImageDraw, x: int, y: int, text: str) -> None:
    draw.text((x + 4, y + 4), text, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))


def overlay_grid(examples: Sequence[Example], methods: Sequence[str], *, cell: int = 256) -> np.ndarray:
    """(GRID_HEADER_PX + rows * cell, (1 + len(methods)) * cell, 3) uint8 picture.

    Row i shows ``examples[i]``: first the ground truth, then each method's instances tinted and
    outlined over the image (:func:`imagedataextractor.viz.overlay`), each scaled to fit a
    ``cell``-px square. Captions give the particle count and, for methods, F1 at IoU 0.5; a method
    that failed on the image gets an empty cell marked "failed".
    """
    if not examples:
        raise IDEError("overlay grid: no images to show")
    columns = ["ground truth", *methods]
    grid = Image.new("RGB", (len(columns) * cell, GRID_HEADER_PX + len(examples) * cell), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for col, title in enumerate(columns):
        draw.text((col * cell + cell // 2, GRID_HEADER_PX // 2), title, fill=(0, 0, 0), anchor="mm")
    for row, example in enumerate(examples):
        top = GRID_HEADER_PX + row * cell
        n_true = int(np.count_nonzero(np.unique(example.truth)))
        grid.paste(_fit(overlay(example.image, example.truth), cell), (0, top))
        _caption(draw, 0, top, f"{example.name}  n={n_true}")
        for col, method in enumerate(methods, start=1):
            labels = example.predictions.get(method)
            if labels is None:
                grid.paste(Image.new("RGB", (cell, cell), _BACKGROUND), (col * cell, top))
                _caption(draw, col * cell, top, "failed")
                continue
            grid.paste(_fit(overlay(example.image, labels), cell), (col * cell, top))
            n_pred = int(np.count_nonzero(np.unique(labels)))
            f1 = f1_at(example.truth, labels)
            _caption(draw, col * cell, top, f"n={n_pred}  F1={'-' if math.isnan(f1) else f'{f1:.2f}'}")
    return np.asarray(grid)


def save_overlay_grid(path: str | Path, examples: Sequence[Example], methods: Sequence[str], *, cell: int = 256) -> None:
    """Write :func:`overlay_grid` as a PNG."""
    picture = Image.fromarray(overlay_grid(examples, methods, cell=cell))
    _write(path, lambda target: picture.save(target, format="PNG"))


def _write(path: str | Path, save: Callable[[Path], None]) -> None:
    """Create the parent directory and call ``save(path)``; an OSError becomes a one-line IDEError."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save(path)
    except OSError as exc:
        raise IDEError(f"{path}: cannot write ({exc.strerror or exc})") from None


def save_sweep_plot(path: str | Path, sweep: TuSweep) -> None:
    """Plot each metric's mean against tu (the paper's Fig. 6) as a PNG: lines over the finite
    thresholds, the no-filter value of each as a dashed line of the same colour, and the model's
    default tu as a vertical dotted line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    summary = sweep.summary
    finite = summary[np.isfinite(summary["tu"])]
    unfiltered = summary[np.isinf(summary["tu"])]
    for index, key in enumerate(METRIC_KEYS):
        colour = f"C{index}"
        axes.plot(finite["tu"], finite[key], marker="o", markersize=3, color=colour, label=key)
        if len(unfiltered):
            axes.axhline(float(unfiltered[key].iloc[0]), color=colour, linestyle="--", linewidth=0.8, alpha=0.7)
    axes.axvline(sweep.model_tu, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel("uncertainty threshold tu (nats)")
    axes.set_ylabel("mean over images")
    axes.set_title(f"{sweep.n_images} images, T={sweep.n_samples}; dashed: no filter, dotted: model tu", fontsize="small")
    axes.legend(fontsize="small", ncols=3)
    _write(path, figure.savefig)
