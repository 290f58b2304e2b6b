"""The report's pictures, drawn from database rows: a figure's original (shrunk), and per extraction
the overlay (fitted ellipses, particle ids, the scalebar found, the masked panel labels where
recorded, a scale bar and legend of its own), the size and aspect-ratio histograms, g(r) and the
uncertainty map where stored. Runs in worker processes, one figure per task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: The figure original in the report is shrunk to at most this width (pixels) and saved as JPEG, for page weight.
FIGURE_MAX_WIDTH_PX = 1200


@dataclass(frozen=True)
class PanelPlots:
    """What to draw for one extraction: file paths (PNG) and the rows they are drawn from."""

    overlay: Path
    size: Path
    aspect: Path
    rdf: Path
    #: where the uncertainty map goes, None when the extraction stored none (baselines, older rows)
    uncertainty: Path | None
    bbox: tuple[int, int, int, int] | None
    particles: pd.DataFrame
    scalebar: dict[str, Any] | None
    size_distribution: dict[str, Any] | None
    aspect_distribution: dict[str, Any] | None
    rdf_row: dict[str, Any] | None
    n_particles: int
    #: ``extractions.uncertainty_png`` (8-bit grey, 255 = ``uncertainty_max_nats``), or None
    uncertainty_png: bytes | None = None
    uncertainty_max_nats: float = 0.0
    #: ``extractions.masked_label_boxes``: [[x0, y0, x1, y1], ...] in panel pixels, or None when not recorded
    masked_label_boxes: list[list[int]] | None = None


@dataclass(frozen=True)
class FigureTask:
    """One figure: its image file (None when not found), where its shrunk copy goes, and its panels' plots."""

    image_path: Path | None
    original: Path
    panels: tuple[PanelPlots, ...]


def _histogram(path: Path, row: dict[str, Any] | None, quantity: str, unit: str | None) -> None:
    from ..viz import histogram_figure

    if row is None:
        figure = histogram_figure([], [], quantity=quantity, unit=unit, mean=None, std=None)
    else:
        # Rows written before schema version 5 have no intervals (NULL columns).
        has_interval = row.get("counts_low") is not None and row.get("counts_high") is not None
        figure = histogram_figure(row["bin_edges"], row["counts"], quantity=quantity, unit=unit, mean=row["mean"], std=row["std"],
                                  counts_interval=(row["counts_low"], row["counts_high"]) if has_interval else None,
                                  mean_interval=(row.get("mean_low"), row.get("mean_high")) if has_interval else None, level=row.get("interval_level"))
    figure.savefig(path)


def _overlay(path: Path, figure_image, plots: PanelPlots) -> None:
    from PIL import Image

    from ..scalebar.types import Scalebar
    from ..viz import annotated_overlay

    image = figure_image
    if plots.bbox is not None:
        x0, y0, x1, y1 = plots.bbox
        image = figure_image[y0:y1, x0:x1]
    bar = plots.scalebar
    scalebar = None
    if bar is not None:
        box = tuple(bar[f"{side}_px"] for side in ("x0", "y0", "x1", "y1"))
        scalebar = Scalebar(text=bar["text"], value=bar["value"], unit=bar["unit"], length_px=bar["length_px"], nm_per_px=bar["nm_per_px"],
                            box_bbox=None if None in box else box)
    boxes = plots.masked_label_boxes
    blanked = None
    if boxes is not None:
        blanked = np.zeros(image.shape[:2], bool)
        for x0, y0, x1, y1 in boxes:
            blanked[y0:y1, x0:x1] = True
    picture = annotated_overlay(image, None, particles=plots.particles, scalebar=scalebar, blanked=blanked,
                                masked_labels=None if boxes is None else len(boxes), masks_recorded=boxes is not None)
    Image.fromarray(picture).save(path)


def _uncertainty(path: Path, png: bytes, max_nats: float) -> None:
    """Decode the stored grey PNG back to nats and draw it with its colour bar."""
    import io

    from PIL import Image

    from ..viz import uncertainty_figure

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)
    uncertainty_figure(grey / 255 * max_nats, max_nats=max_nats).savefig(path)


def draw_figure(task: FigureTask) -> None:
    """Draw every picture of ``task`` that does not exist yet (file names change with the rows)."""
    from PIL import Image

    from ..errors import IDEError
    from ..imageio import read_image
    from ..viz import rdf_figure

    figure_image = None
    if task.image_path is not None and (not task.original.exists() or any(not p.overlay.exists() for p in task.panels)):
        try:
            figure_image = read_image(task.image_path)
        except IDEError as exc:
            log.warning("%s", exc)
    if figure_image is not None and not task.original.exists():
        original = Image.fromarray(figure_image)
        if original.width > FIGURE_MAX_WIDTH_PX:
            original = original.resize((FIGURE_MAX_WIDTH_PX, round(original.height * FIGURE_MAX_WIDTH_PX / original.width)), Image.Resampling.LANCZOS)
        original.save(task.original, quality=85)
    for plots in task.panels:
        if figure_image is not None and not plots.overlay.exists():
            _overlay(plots.overlay, figure_image, plots)
        size_unit = "nm" if plots.size_distribution is not None and plots.size_distribution["kind"].endswith("_nm") else "px"
        if not plots.size.exists():
            _histogram(plots.size, plots.size_distribution, "diameter", size_unit)
        if not plots.aspect.exists():
            kind = plots.aspect_distribution["kind"] if plots.aspect_distribution is not None else "aspect_ratio_feret"
            _histogram(plots.aspect, plots.aspect_distribution, kind, None)
        if plots.uncertainty is not None and plots.uncertainty_png is not None and not plots.uncertainty.exists():
            _uncertainty(plots.uncertainty, plots.uncertainty_png, plots.uncertainty_max_nats)
        if not plots.rdf.exists():
            row = plots.rdf_row
            if row is None:
                figure = rdf_figure(None, None, n_points=plots.n_particles)
            else:
                figure = rdf_figure(row["radii"], row["g_r"], unit=row["unit"], n_points=row["n_points"])
            figure.savefig(plots.rdf)
