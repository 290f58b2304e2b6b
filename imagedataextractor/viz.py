"""Pictures of pipeline results: an instance overlay (with a scale bar and legend of its own) and
plots of the size and aspect-ratio histograms and g(r).

Plots use matplotlib's object API with the Agg canvas (no pyplot, no global state, no display);
the ``*_figure`` functions return the :class:`~matplotlib.figure.Figure` (for tests and reports),
the ``save_*`` functions write it as a PNG. No stage imports this module.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .measure import Histogram, RadialDistribution
    from .scalebar.types import Scalebar

SCALEBAR_COLOUR = (255, 40, 40)
LABEL_COLOUR = (255, 160, 0)
#: The overlay's own scale bar and the legend's text, on a dark band below the image.
LEGEND_BACKGROUND = (24, 24, 24)
LEGEND_TEXT = (235, 235, 235)
PARTICLE_COLOUR = (80, 200, 255)
BAR_COLOUR = "#4477aa"
#: Colour of the confidence intervals drawn on histograms (bins' error bars, the mean's band).
INTERVAL_COLOUR = "#cc6677"


def instance_colours(n: int, *, seed: int = 0) -> np.ndarray:
    """(n + 1, 3) uint8 colours, row 0 (background) black, the others bright and random but
    reproducible, so neighbouring ids rarely look alike."""
    rng = np.random.default_rng(seed)
    colours = np.zeros((n + 1, 3), np.uint8)
    colours[1:] = rng.integers(60, 256, size=(n, 3), dtype=np.uint8)
    return colours


def overlay(
    image: np.ndarray,
    labels: np.ndarray | None,
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
    labels blanked before segmentation) in orange.

    ``labels=None`` (a database keeps measurements, not masks): each particle is drawn as its
    fitted ellipse (``ellipse_major_px``, ``ellipse_minor_px``, ``orientation_deg``) instead."""
    from PIL import Image, ImageDraw
    from scipy import ndimage as ndi
    from skimage.segmentation import find_boundaries

    picture = image.astype(np.float32)
    if labels is not None:
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
    if labels is None and particles is not None and len(particles):
        _draw_ellipses(canvas, particles)
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


def _draw_ellipses(canvas, particles: pd.DataFrame) -> None:
    """Outline each particle's fitted ellipse (px columns; orientation counter-clockwise from +x,
    image y pointing down) on a PIL image, in the particle's colour."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(canvas)
    colours = instance_colours(int(particles["particle_id"].max()))
    t = np.linspace(0, 2 * np.pi, 48)
    for row in particles.itertuples():
        if not np.isfinite([row.ellipse_major_px, row.ellipse_minor_px, row.orientation_deg]).all():
            continue
        theta = np.radians(row.orientation_deg)
        a, b = row.ellipse_major_px / 2, row.ellipse_minor_px / 2
        x = row.centroid_x_px + a * np.cos(t) * np.cos(theta) - b * np.sin(t) * np.sin(theta)
        y = row.centroid_y_px - a * np.cos(t) * np.sin(theta) - b * np.sin(t) * np.cos(theta)
        draw.line(list(zip(x.tolist(), y.tolist())), fill=tuple(int(c) for c in colours[row.particle_id]), width=2)


def nice_length(limit: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above ``limit`` (> 0): a round scale-bar length."""
    exponent = np.floor(np.log10(limit))
    return max(step * 10**exponent for step in (1, 2, 5) if step * 10**exponent <= limit)


def format_length_nm(length_nm: float) -> str:
    """``length_nm`` as printed on a scale bar: "500 nm", "2 µm"."""
    return f"{length_nm / 1000:g} µm" if length_nm >= 1000 else f"{length_nm:g} nm"


def overlay_legend(n_particles: int, scalebar: Scalebar | None, *, masked_labels: int | bool | None, drawn_as: str = "outlines") -> list[tuple[tuple[int, int, int], str]]:
    """The overlay's legend: (colour, text) entries for the particles, the scalebar found (or its
    absence) and the panel labels masked before segmentation (``masked_labels``: how many, or
    True for some, False for none, None when not recorded)."""
    entries = [(PARTICLE_COLOUR, f"{n_particles} particle{'s' * (n_particles != 1)}: {drawn_as}, id at centroid")]
    if scalebar is not None and scalebar.found:
        reading = scalebar.text or "label unreadable"
        scale = f", {scalebar.nm_per_px:.3g} nm/px" if scalebar.nm_per_px else ""
        entries.append((SCALEBAR_COLOUR, f"scalebar found (red box): {reading}{scale}"))
    else:
        entries.append((LEGEND_TEXT, "no scalebar found: sizes in px"))
    if masked_labels is None:
        entries.append((LEGEND_TEXT, "masked panel labels: not recorded"))
    elif masked_labels is True:
        entries.append((LABEL_COLOUR, "panel labels masked (orange outline)"))
    elif not masked_labels:
        entries.append((LEGEND_TEXT, "no panel label masked"))
    else:
        entries.append((LABEL_COLOUR, f"{masked_labels} panel label{'s' * (masked_labels != 1)} masked (orange outline)"))
    return entries


def _font_file() -> str:
    """matplotlib's DejaVu Sans: it has µ, which PIL's default font lacks."""
    from matplotlib import font_manager

    return font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))


def annotated_overlay(
    image: np.ndarray,
    labels: np.ndarray | None,
    *,
    particles: pd.DataFrame,
    scalebar: Scalebar | None = None,
    blanked: np.ndarray | None = None,
    masked_labels: int | bool | None = None,
    masks_recorded: bool = True,
) -> np.ndarray:
    """(H + band, W, 3) uint8: :func:`overlay` above a dark band holding a scale bar of its own
    (a round length in nm at the image's scale, when ``scalebar.nm_per_px`` is known) and the
    :func:`overlay_legend` (``masked_labels`` None: whether ``blanked`` has pixels;
    ``masks_recorded=False``: the masked labels are not known, as in a database). The band keeps
    the micrograph uncovered and its pixels where they were."""
    from PIL import Image, ImageDraw, ImageFont

    picture = overlay(image, labels, particles=particles, scalebar=scalebar, blanked=blanked)
    height, width = picture.shape[:2]
    font_px = int(np.clip(width / 40, 11, 28))
    font = ImageFont.truetype(_font_file(), font_px)
    line = font_px + font_px // 2
    if not masks_recorded:
        masked_labels = None
    elif masked_labels is None:
        masked_labels = blanked is not None and bool(blanked.any())
    entries = overlay_legend(len(particles), scalebar, masked_labels=masked_labels, drawn_as="outlines" if labels is not None else "fitted ellipses")
    nm_per_px = scalebar.nm_per_px if scalebar is not None else None
    band = line * (len(entries) + (nm_per_px is not None)) + font_px // 2
    canvas = Image.new("RGB", (width, height + band), LEGEND_BACKGROUND)
    canvas.paste(Image.fromarray(picture), (0, 0))
    draw = ImageDraw.Draw(canvas)
    margin, y = font_px // 2, height + font_px // 3
    if nm_per_px is not None:
        length_nm = nice_length(width / 4 * nm_per_px)
        bar_px = int(round(length_nm / nm_per_px))
        draw.rectangle((margin, y + line // 4, margin + bar_px, y + line // 4 + max(3, font_px // 4)), fill=LEGEND_TEXT)
        draw.text((margin + bar_px + margin, y), format_length_nm(length_nm), fill=LEGEND_TEXT, font=font)
        y += line
    swatch = font_px * 2 // 3
    for colour, text in entries:
        draw.rectangle((margin, y + (font_px - swatch) // 2, margin + swatch, y + (font_px + swatch) // 2), fill=colour)
        draw.text((margin + swatch + margin, y), text, fill=LEGEND_TEXT, font=font)
        y += line
    return np.asarray(canvas)


def save_overlay(
    path: str | Path,
    image: np.ndarray,
    particles: pd.DataFrame,
    labels: np.ndarray | None,
    scalebar: Scalebar | None,
    blanked: np.ndarray | None = None,
    masked_labels: int | bool | None = None,
) -> None:
    """Write :func:`annotated_overlay` as a PNG."""
    from PIL import Image

    picture = annotated_overlay(image, labels, particles=particles, scalebar=scalebar, blanked=blanked, masked_labels=masked_labels)
    Image.fromarray(picture).save(path)


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    # Fixed margins, not the constrained layout: it doubles the drawing time, which counts in a
    # report over thousands of panels (benchmarks/report_benchmark.py).
    figure.subplots_adjust(left=0.13, right=0.97, bottom=0.14, top=0.91)
    return figure


def _write_reason(figure: Figure, text: str) -> None:
    """The reason there is no plot, written where the plot would be (no empty axes)."""
    figure.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize="large", color="#444444")


def _axis_name(quantity: str, unit: str | None) -> str:
    name = quantity.replace("_", " ")
    return f"{name} ({unit})" if unit else name


def histogram_statistics(n: int, mean: float | None, std: float | None, unit: str | None) -> str:
    """"n = 42, mean ± sd = 12.3 ± 4.5 nm": the sd to two significant digits and the mean to the
    same decimal place (sd left out below two values)."""
    if not n or mean is None:
        return f"n = {n}"
    unit = f" {unit}" if unit else ""
    if std is None or not np.isfinite(std) or std <= 0:
        return f"n = {n}, mean = {mean:.4g}{unit}"
    decimals = max(0, 1 - int(np.floor(np.log10(std))))
    return f"n = {n}, mean ± sd = {mean:.{decimals}f} ± {std:.{decimals}f}{unit}"


def histogram_figure(
    bin_edges: Sequence[float] | np.ndarray,
    counts: Sequence[int] | np.ndarray,
    *,
    quantity: str,
    unit: str | None,
    mean: float | None,
    std: float | None,
    counts_interval: tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray] | None = None,
    mean_interval: tuple[float | None, float | None] | None = None,
    level: float | None = None,
) -> Figure:
    """Bar plot of a histogram (``bin_edges``: len(counts) + 1 values in ``unit``) with integer
    count ticks and n, mean ± sd in its title; "no particles counted" in place of the plot when
    ``counts`` is empty or all zero. With intervals (``level``, e.g. 0.95): each bin's
    ``counts_interval`` (low, high per bin) as an error bar, and ``mean_interval`` (low, high, in
    ``unit``) as a shaded band with its bounds in the title."""
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    count_array = np.asarray(counts, dtype=np.int64)
    n = int(count_array.sum())
    if not n:
        _write_reason(figure, f"{_axis_name(quantity, unit)}: no particles counted")
        return figure
    edges = np.asarray(bin_edges, dtype=np.float64)
    axes = figure.add_subplot()
    axes.bar(edges[:-1], count_array, width=np.diff(edges), align="edge", color=BAR_COLOUR, edgecolor="white")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(_axis_name(quantity, unit))
    axes.set_ylabel("particles")
    title = histogram_statistics(n, mean, std, unit)
    if counts_interval is not None:
        low, high = (np.asarray(bound, dtype=np.float64) for bound in counts_interval)
        centres = (edges[:-1] + edges[1:]) / 2
        axes.errorbar(centres, count_array, yerr=[np.clip(count_array - low, 0, None), np.clip(high - count_array, 0, None)],
                      fmt="none", ecolor=INTERVAL_COLOUR, elinewidth=1, capsize=2)
    mean_low, mean_high = mean_interval if mean_interval is not None else (None, None)
    if mean_low is not None and mean_high is not None:
        axes.axvspan(mean_low, mean_high, color=INTERVAL_COLOUR, alpha=0.2, linewidth=0)
        title += f"\n{round(100 * (level or 0.95))} % CI of mean: {mean_low:.4g} to {mean_high:.4g}{f' {unit}' if unit else ''}"
        figure.subplots_adjust(top=0.85)  # room for the title's second line
    axes.set_title(title, fontsize="medium")
    return figure


def uncertainty_figure(uncertainty: np.ndarray, *, max_nats: float) -> Figure:
    """The (H, W) per-pixel uncertainty (mutual information, nats) as an image with a colour bar
    from 0 to ``max_nats`` (values above it show at the top colour)."""
    figure = _figure()
    figure.subplots_adjust(left=0.02, right=0.8, bottom=0.04, top=0.96)  # room for the colour bar's labels
    axes = figure.add_subplot()
    shown = axes.imshow(uncertainty, cmap="magma", vmin=0.0, vmax=max_nats, interpolation="nearest")
    axes.set_axis_off()
    bar = figure.colorbar(shown, ax=axes, fraction=0.05)
    bar.set_label("mutual information (nats)")
    return figure


def save_histogram(path: str | Path, histogram: Histogram) -> None:
    """:func:`histogram_figure` of a :class:`~imagedataextractor.measure.Histogram` (with its
    intervals, when it has them) as a PNG."""
    ci = histogram.interval
    figure = histogram_figure(histogram.bin_edges, histogram.counts, quantity=histogram.quantity, unit=histogram.unit, mean=histogram.mean,
                              std=histogram.std, counts_interval=None if ci is None else (ci.counts_low, ci.counts_high),
                              mean_interval=None if ci is None else (ci.mean_low, ci.mean_high), level=None if ci is None else ci.level)
    figure.savefig(path)


def rdf_absence_reason(n_particles: int | None, min_particles: int | None = None) -> str:
    """Why a panel has no g(r), from its particle count (None: unknown) and the least count that
    gets one (default: :class:`~imagedataextractor.measure.MeasureConfig`'s)."""
    if min_particles is None:
        from .measure.types import MeasureConfig

        min_particles = MeasureConfig().rdf_min_particles
    if n_particles is not None and n_particles < min_particles:
        return f"No RDF: {n_particles} particle{'s' * (n_particles != 1)}, at least {min_particles} are needed for pair statistics."
    return "No RDF: the particles are too few or too close to the edges for one shell of g(r)."


def rdf_figure(
    radii: Sequence[float] | np.ndarray | None,
    g_r: Sequence[float | None] | np.ndarray | None,
    *,
    unit: str = "px",
    n_points: int | None = None,
    reason: str | None = None,
) -> Figure:
    """Line plot of g(r) against r (shell centres in ``unit``: "nm" with a scale, else "px") with
    the g(r) = 1 line of an uncorrelated arrangement; ``radii=None`` writes ``reason`` (default:
    :func:`rdf_absence_reason` of ``n_points``) in place of the plot."""
    figure = _figure()
    if radii is None or g_r is None or not len(radii):
        _write_reason(figure, reason or rdf_absence_reason(n_points))
        return figure
    axes = figure.add_subplot()
    values = np.array([np.nan if g is None else g for g in g_r], dtype=np.float64)
    axes.plot(np.asarray(radii, dtype=np.float64), values, color=BAR_COLOUR, label="g(r)")
    axes.axhline(1.0, color="grey", linewidth=0.8, linestyle="--", label="g(r) = 1 (uncorrelated)")
    axes.set_xlabel(f"r ({unit})")
    axes.set_ylabel("g(r)")
    axes.set_xlim(left=0)
    axes.legend(fontsize="small", loc="upper right")
    if n_points is not None:
        axes.set_title(f"{n_points} particles", fontsize="medium")
    return figure


def save_rdf(path: str | Path, rdf: RadialDistribution | None, n_particles: int | None = None) -> None:
    """:func:`rdf_figure` of a :class:`~imagedataextractor.measure.RadialDistribution` as a PNG, in
    nm when the scale is known; when there is no RDF, the reason (from ``n_particles``) instead."""
    if rdf is None:
        figure = rdf_figure(None, None, n_points=n_particles)
    else:
        radii, unit = (rdf.radii_nm, "nm") if rdf.radii_nm is not None else (rdf.radii_px, "px")
        figure = rdf_figure(radii, rdf.g_r, unit=unit, n_points=rdf.n_points)
    figure.savefig(path)
