"""Synthetic multi-panel figures with exact ground truth, for testing and benchmarking the splitter.

A figure is a two-level guillotine layout (rows of cells, or columns of cells) separated by white
gutters, black gutters, or thin white/black borders between abutting panels. Each cell holds a
micrograph (an EMPS image crop, or a procedural particle image when EMPS is not at hand) or, in
some figures, a non-micrograph panel (a matplotlib plot or a drawn schematic). Panels carry labels
("a", "(b)", "C)") in a corner, sometimes on a box; some micrographs get an inset, some figures a
caption line under each panel, some are JPEG-compressed. Everything is drawn from ``seed``.

Ground truth bbox of a panel: its cell shrunk past edge rows/columns that are one flat colour (a
plot's white margin on a white figure cannot be told from the gutter), united with its caption.
"""

from __future__ import annotations

import io
import string
from dataclasses import dataclass, replace
from zlib import crc32
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

from ..errors import DatasetError
from ..imageio import read_image

Separator = Literal["white", "black", "abutting"]
MicrographSource = Callable[[np.random.Generator, int, int], np.ndarray]
"""Draws an (height, width, 3) uint8 micrograph: ``source(rng, width, height)``."""

_LABEL_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif.ttf", "STIXGeneralBol.ttf")
_LABEL_TEMPLATES = ("{}", "({})", "{})")
_CAPTIONS = ("Au NPs", "Ag, 180 °C", "pH 7", "TiO2", "after 2 h", "sample S1", "Pt/C", "as-made", "calcined")
_SCHEMATIC_WORDS = ("Au", "NaBH4", "180 °C", "TEM", "seed", "growth", "PVP", "HAuCl4")


@dataclass(frozen=True)
class FigureStyle:
    """What the generator may draw. ``separator=None`` draws one of the three kinds at random."""

    separator: Separator | None = None
    max_panels: int = 8
    single_panel_probability: float = 0.05
    non_micrograph_probability: float = 0.35
    unlabelled_probability: float = 0.08
    inset_probability: float = 0.12
    caption_probability: float = 0.1
    jpeg_probability: float = 0.3


@dataclass(frozen=True)
class TruthPanel:
    """Ground truth of one panel: bbox (x0, y0, x1, y1) pixels, end exclusive; label as the splitter
    reports it (the letter, lower case) and as printed; kind "micrograph", "plot" or "schematic"."""

    bbox: tuple[int, int, int, int]
    label: str | None
    label_text: str | None
    is_micrograph: bool
    kind: str


@dataclass(frozen=True, eq=False)
class SyntheticFigure:
    """A generated figure: (H, W, 3) uint8 RGB image and its panels in reading order."""

    image: np.ndarray
    panels: tuple[TruthPanel, ...]
    separator: Separator
    seed: int


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def procedural_micrograph(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A TEM-like image: dark or bright particles on a smoothly varying grey background with noise."""
    sign = -1 if rng.random() < 0.75 else 1
    # Bright particles go on a darker background, so that they do not saturate to flat white.
    background = rng.uniform(90, 200) if sign < 0 else rng.uniform(60, 130)
    image = background + ndi.gaussian_filter(rng.normal(0, 25, (height, width)), rng.uniform(8, 30))
    rows, cols = np.ogrid[:height, :width]
    radius_mean = rng.uniform(5, max(6.0, min(width, height) / 10))
    for _ in range(int(rng.integers(5, 40))):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = max(2.0, rng.normal(radius_mean, radius_mean / 5))
        image[(rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2] += sign * rng.uniform(50, 90)
    image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, rng.uniform(4, 12), (height, width))
    grey = np.clip(image, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


@lru_cache(maxsize=64)
def _read_cached(path: Path) -> np.ndarray:
    return read_image(path)


def emps_micrographs(emps_dir: str | Path) -> MicrographSource:
    """A source drawing random, roughly central crops (50-80 % of each side) of the EMPS images in
    ``emps_dir/images``. EMPS images are themselves cut from published figures, and the crop leaves
    out most of their original panel labels and scale bars, which sit near the edges."""
    paths = sorted(Path(emps_dir, "images").glob("*.png"))
    if not paths:
        raise DatasetError(f"{emps_dir}: no images/*.png, not an EMPS directory")

    def draw(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        source = _read_cached(paths[int(rng.integers(len(paths)))])
        source_height, source_width = source.shape[:2]
        scale = rng.uniform(0.5, 0.8)
        crop_width = min(source_width, source_height * width / height) * scale
        crop_height = crop_width * height / width
        x0 = int(rng.uniform(0.3, 0.7) * (source_width - crop_width))
        y0 = int(rng.uniform(0.3, 0.7) * (source_height - crop_height))
        crop = source[y0 : y0 + int(crop_height), x0 : x0 + int(crop_width)]
        return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR))

    return draw


def _plot_panel(rng: np.random.Generator, width: int, height: int, kind: str | None = None) -> np.ndarray:
    """A matplotlib plot of ``kind`` (lines, histogram, bars, scatter, xrd, spectrum, histogram-inset:
    a size histogram with a spectrum inset); random when None."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = ["C0", "C1", "C2", "C3"] if rng.random() < 0.6 else ["black", "0.4", "0.6", "black"]
    kind = kind or str(rng.choice(["lines", "histogram", "bars", "scatter", "xrd"]))
    x = np.linspace(0, 10, 200)
    if kind == "lines":
        for index in range(int(rng.integers(1, 4))):
            axes.plot(x, np.sin(x * rng.uniform(0.3, 2)) + index + rng.normal(0, 0.05, x.size), color=colours[index], lw=1.5)
        axes.set_xlabel("Time (min)")
        axes.set_ylabel("Absorbance")
    elif kind in ("histogram", "histogram-inset"):
        axes.hist(rng.normal(rng.uniform(10, 40), rng.uniform(2, 6), 300), bins=20, color=colours[0], edgecolor="black")
        axes.set_xlabel("Diameter (nm)")
        axes.set_ylabel("Count")
        if kind == "histogram-inset":
            inset = axes.inset_axes((0.62, 0.55, 0.35, 0.4))
            wavelength = np.linspace(400, 800, 100)
            inset.plot(wavelength, np.exp(-((wavelength - rng.uniform(500, 600)) / 40) ** 2), color="C3", lw=1)
            inset.tick_params(labelsize=5)
    elif kind in ("xrd", "spectrum"):
        two_theta = np.linspace(10, 80, 600)
        peaks = rng.uniform(20, 75, int(rng.integers(3, 7)))
        signal = sum(rng.uniform(0.2, 1) * np.exp(-((two_theta - p) / rng.uniform(0.2, 1.5)) ** 2) for p in peaks)
        axes.plot(two_theta, signal + rng.normal(0, 0.01, two_theta.size), color=colours[0], lw=1)
        axes.set_xlabel("2θ (deg)" if kind == "xrd" else "Energy (keV)")
        axes.set_ylabel("Intensity (a.u.)")
        axes.set_title("XRD" if kind == "xrd" else "EDX spectrum", fontsize=9)
    elif kind == "bars":
        axes.bar(range(5), rng.uniform(1, 10, 5), color=colours[:4] + [colours[0]])
        axes.set_ylabel("Yield (%)")
    else:
        axes.scatter(rng.uniform(0, 10, 40), rng.uniform(0, 10, 40), s=12, color=colours[1])
        axes.set_xlabel("Time (min)")
    figure.tight_layout(pad=0.4)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def _schematic_panel(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    palette = [(220, 60, 60), (60, 120, 220), (250, 190, 40), (80, 170, 90), (150, 90, 200), (120, 120, 120)]
    for _ in range(int(rng.integers(3, 8))):
        colour = palette[int(rng.integers(len(palette)))]
        x, y = rng.uniform(0.1, 0.8) * width, rng.uniform(0.1, 0.8) * height
        size = rng.uniform(0.08, 0.2) * min(width, height)
        if rng.random() < 0.5:
            draw.ellipse([x, y, x + size, y + size], fill=colour, outline=(0, 0, 0), width=2)
        else:
            draw.rectangle([x, y, x + size * 1.4, y + size], fill=colour, outline=(0, 0, 0), width=2)
    y_arrow = rng.uniform(0.3, 0.7) * height
    draw.line([0.2 * width, y_arrow, 0.75 * width, y_arrow], fill=(0, 0, 0), width=3)
    draw.polygon([(0.8 * width, y_arrow), (0.75 * width, y_arrow - 8), (0.75 * width, y_arrow + 8)], fill=(0, 0, 0))
    font = _font("DejaVuSans.ttf", int(rng.integers(12, 18)))
    for _ in range(int(rng.integers(1, 4))):
        word = _SCHEMATIC_WORDS[int(rng.integers(len(_SCHEMATIC_WORDS)))]
        draw.text((rng.uniform(0.05, 0.7) * width, rng.uniform(0.05, 0.9) * height), word, fill=(0, 0, 0), font=font)
    return np.asarray(image)


def _split_lengths(rng: np.random.Generator, total: int, parts: int, gutter: int, equal: bool) -> list[tuple[int, int]]:
    """(start, end) of ``parts`` cells filling ``total`` pixels with ``gutter`` between them."""
    usable = total - gutter * (parts - 1)
    weights = np.ones(parts) if equal else rng.uniform(0.75, 1.3, parts)
    lengths = np.floor(usable * weights / weights.sum()).astype(int)
    lengths[-1] = usable - lengths[:-1].sum()
    starts = np.concatenate([[0], np.cumsum(lengths + gutter)[:-1]])
    return [(int(start), int(start + length)) for start, length in zip(starts, lengths)]


def _layout(rng: np.random.Generator, style: FigureStyle, gutter: int) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """Cells (x0, y0, x1, y1) in reading order, and the content width and height."""
    if rng.random() < style.single_panel_probability:
        width, height = int(rng.integers(300, 700)), int(rng.integers(250, 600))
        return [(0, 0, width, height)], width, height
    while True:
        n_strips = int(rng.integers(1, 4))
        grid = rng.random() < 0.5
        counts = [int(rng.integers(1, 4))] * n_strips if grid else [int(rng.integers(1, 4)) for _ in range(n_strips)]
        if 2 <= sum(counts) <= style.max_panels:
            break
    by_rows = rng.random() < 0.7
    cell_long = int(rng.integers(150, 320))
    across = max(counts) * cell_long + gutter * (max(counts) - 1)
    strip_sizes = [int(rng.integers(140, 300)) for _ in range(n_strips)]
    cells = []
    offset = 0
    for strip_size, count in zip(strip_sizes, counts):
        for start, end in _split_lengths(rng, across, count, gutter, equal=grid):
            cells.append((start, offset, end, offset + strip_size) if by_rows else (offset, start, offset + strip_size, end))
        offset += strip_size + gutter
    along = offset - gutter
    width, height = (across, along) if by_rows else (along, across)
    if not by_rows:
        cells.sort(key=lambda cell: (cell[1], cell[0]))
    return cells, width, height


def _flat_trimmed(image: np.ndarray, cell: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = cell
    crop = image[y0:y1, x0:x1].astype(np.int16)
    flat_rows = np.all(crop == crop[:, :1], axis=(1, 2))
    flat_cols = np.all(crop == crop[:1, :], axis=(0, 2))
    rows, cols = np.flatnonzero(~flat_rows), np.flatnonzero(~flat_cols)
    if rows.size == 0 or cols.size == 0:
        return cell
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)


def _draw_label(
    rng: np.random.Generator, canvas: Image.Image, cell: tuple[int, int, int, int], text: str, font_name: str, corner: str, boxed: bool, box_fill: int | None = None
) -> None:
    """Print ``text`` in ``corner`` of ``cell``, dark or light for the pixels under it; on a box when
    ``boxed`` (white behind dark text, black behind light text, or ``box_fill`` with the contrasting text)."""
    x0, y0, x1, y1 = cell
    size = int(np.clip(rng.uniform(0.07, 0.13) * min(x1 - x0, y1 - y0), 14, 40))
    font = _font(font_name, size)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = int(rng.integers(3, 9))
    pad = 3 if boxed else 0
    x = x0 + margin + pad if not corner.endswith("right") else x1 - margin - pad - right
    y = y0 + margin + pad - top if not corner.startswith("bottom") else y1 - margin - pad - bottom
    box = (x + left - pad, y + top - pad, x + right + pad, y + bottom + pad)
    under = np.asarray(canvas.crop(box).convert("L"), dtype=np.float64)
    dark_text = under.mean() > 110 if box_fill is None else box_fill > 127
    if boxed:
        draw.rectangle(box, fill=(255, 255, 255) if dark_text else (0, 0, 0))
    draw.text((x, y), text, fill=(0, 0, 0) if dark_text else (255, 255, 255), font=font)


def _add_inset(rng: np.random.Generator, canvas: Image.Image, cell: tuple[int, int, int, int], micrographs: MicrographSource, top_free: bool) -> None:
    """Paste a small micrograph with a white frame in the right-hand corner, top one only if ``top_free``."""
    x0, y0, x1, y1 = cell
    width, height = int((x1 - x0) * rng.uniform(0.25, 0.35)), int((y1 - y0) * rng.uniform(0.25, 0.35))
    inset = Image.fromarray(micrographs(rng, width, height))
    border = Image.new("RGB", (width + 4, height + 4), (255, 255, 255))
    border.paste(inset, (2, 2))
    top = y0 + 4 if top_free and rng.random() < 0.5 else y1 - height - 8
    canvas.paste(border, (x1 - width - 8, top))


def make_figure(seed: int, *, micrographs: MicrographSource = procedural_micrograph, style: FigureStyle = FigureStyle()) -> SyntheticFigure:
    """Draw one multi-panel figure from ``seed`` (the same seed and source give the same figure)."""
    rng = np.random.default_rng(seed)
    separator: Separator = style.separator or str(rng.choice(["white", "black", "abutting"]))  # type: ignore[assignment]  # rng.choice gives str; its values are Separator's
    captioned = separator != "abutting" and rng.random() < style.caption_probability
    if separator == "abutting":
        gutter, background = int(rng.integers(1, 4)), int(rng.choice([0, 255]))
    else:
        gutter = int(rng.integers(4, 25)) if separator == "white" else int(rng.integers(3, 17))
        gutter = max(gutter, 30) if captioned else gutter
        background = 255 if separator == "white" else 0
    cells, width, height = _layout(rng, style, gutter)
    margin = int(rng.integers(0, gutter + 1)) if separator != "abutting" else int(rng.choice([0, gutter]))
    bottom_margin = max(margin, 30) if captioned else margin
    canvas = Image.new("RGB", (width + 2 * margin, height + margin + bottom_margin), (background,) * 3)
    cells = [(x0 + margin, y0 + margin, x1 + margin, y1 + margin) for x0, y0, x1, y1 in cells]

    labelled = rng.random() >= style.unlabelled_probability
    template = _LABEL_TEMPLATES[int(rng.integers(len(_LABEL_TEMPLATES)))]
    upper = rng.random() < 0.35
    font_name = _LABEL_FONTS[int(rng.integers(len(_LABEL_FONTS)))]
    corner = str(rng.choice(["top-left", "top-right", "bottom-left"], p=[0.8, 0.1, 0.1]))
    boxed = rng.random() < 0.3

    kinds = ["micrograph"] * len(cells)
    if len(cells) > 1 and rng.random() < style.non_micrograph_probability:
        kinds[int(rng.integers(len(cells)))] = "plot" if rng.random() < 0.6 else "schematic"
    for cell, kind in zip(cells, kinds):
        x0, y0, x1, y1 = cell
        draw_panel = {"micrograph": micrographs, "plot": _plot_panel, "schematic": _schematic_panel}[kind]
        canvas.paste(Image.fromarray(draw_panel(rng, x1 - x0, y1 - y0)), (x0, y0))
        if kind == "micrograph" and rng.random() < style.inset_probability:
            _add_inset(rng, canvas, cell, micrographs, top_free=corner != "top-right")
    label_texts: list[str | None] = []
    for index, cell in enumerate(cells):
        printed = template.format(string.ascii_uppercase[index] if upper else string.ascii_lowercase[index])
        label_texts.append(printed if labelled else None)
        if labelled:
            _draw_label(rng, canvas, cell, printed, font_name, corner, boxed)

    caption_boxes: list[tuple[int, int, int, int] | None] = []
    caption_font = _font("DejaVuSans.ttf", 13)
    draw = ImageDraw.Draw(canvas)
    for x0, y0, x1, y1 in cells:
        if not captioned or rng.random() < 0.4:
            caption_boxes.append(None)
            continue
        caption = _CAPTIONS[int(rng.integers(len(_CAPTIONS)))]
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=caption_font)
        x, y = (x0 + x1 - right) // 2, y1 + 4 - top
        draw.text((x, y), caption, fill=(0, 0, 0) if background == 255 else (255, 255, 255), font=caption_font)
        caption_boxes.append((int(x + left), int(y + top), int(x + right), int(y + bottom)))

    clean = np.asarray(canvas)
    panels = []
    for cell, kind, text, caption_box in zip(cells, kinds, label_texts, caption_boxes):
        bbox = _flat_trimmed(clean, cell)
        if caption_box is not None:
            bbox = (min(bbox[0], caption_box[0]), min(bbox[1], caption_box[1]), max(bbox[2], caption_box[2]), max(bbox[3], caption_box[3]))
        panels.append(TruthPanel(bbox, text.strip("()").lower() if text else None, text, kind == "micrograph", kind))

    if rng.random() < style.jpeg_probability:
        buffer = io.BytesIO()
        canvas.save(buffer, format="JPEG", quality=int(rng.integers(70, 96)))
        clean = np.asarray(Image.open(buffer).convert("RGB"))
    return SyntheticFigure(np.ascontiguousarray(clean), tuple(panels), separator, seed)


# --- Named cases: one per layout family and failure mode, for the benchmark and the tests. -------

Kind = Literal["micrograph", "plot", "histogram-inset", "spectrum", "schematic"]


@dataclass(frozen=True)
class CaseLayout:
    """What a named case draws: content size, cells (x0, y0, x1, y1) in reading order and their kinds,
    the gutter colour (0-255), and how labels, insets and degradations are drawn."""

    width: int
    height: int
    cells: tuple[tuple[int, int, int, int], ...]
    kinds: tuple[Kind, ...]
    background: int = 255
    label_corner: str = "top-left"
    label_box: int | None = None
    label_template: str = "{}"
    upper: bool = False
    labels_outside: bool = False
    letter_order: tuple[int, ...] | None = None
    labelled: bool = True
    micrograph_inset: bool = False
    jpeg_quality: int | None = None
    downscale: float | None = None


def _grid_cells(rng: np.random.Generator, rows: int, cols: int, gutter: int, cell: tuple[int, int]) -> tuple[tuple[tuple[int, int, int, int], ...], int, int]:
    width, height = cols * cell[0] + (cols - 1) * gutter, rows * cell[1] + (rows - 1) * gutter
    cells = tuple((c * (cell[0] + gutter), r * (cell[1] + gutter), c * (cell[0] + gutter) + cell[0], r * (cell[1] + gutter) + cell[1]) for r in range(rows) for c in range(cols))
    return cells, width, height


def _grid(rng: np.random.Generator, rows: int, cols: int, *, gutter: int | None = None, plots: float = 0.3, **options) -> CaseLayout:
    gutter = int(rng.integers(5, 20)) if gutter is None else gutter
    side = int(rng.integers(130, 230)) if rows * cols > 6 else int(rng.integers(170, 300))
    cells, width, height = _grid_cells(rng, rows, cols, gutter, (side, int(side * rng.uniform(0.75, 1.05))))
    kinds = tuple(("plot" if rng.random() < plots else "micrograph") for _ in cells)
    return CaseLayout(width, height, cells, kinds, **options)  # type: ignore[arg-type]


def _pair(rng: np.random.Generator, gutter: int, *, vertical: bool = False, kinds: tuple[Kind, Kind] = ("micrograph", "micrograph"), **options) -> CaseLayout:
    w, h = int(rng.integers(220, 340)), int(rng.integers(200, 300))
    cells, width, height = _grid_cells(rng, 2 if vertical else 1, 1 if vertical else 2, gutter, (w, h))
    return CaseLayout(width, height, cells, kinds, **options)


def _wide_over_two(rng: np.random.Generator) -> CaseLayout:
    gutter, w, h = int(rng.integers(6, 16)), int(rng.integers(180, 260)), int(rng.integers(160, 230))
    width = 2 * w + gutter
    cells = ((0, 0, width, h), (0, h + gutter, w, 2 * h + gutter), (w + gutter, h + gutter, width, 2 * h + gutter))
    kinds: tuple[Kind, ...] = ("micrograph", "micrograph", "plot" if rng.random() < 0.5 else "micrograph")
    return CaseLayout(width, 2 * h + gutter, cells, kinds)


def _tall_beside_two(rng: np.random.Generator) -> CaseLayout:
    gutter, w, h = int(rng.integers(4, 16)), int(rng.integers(180, 260)), int(rng.integers(150, 220))
    height = 2 * h + gutter
    cells = ((0, 0, w, height), (w + gutter, 0, 2 * w + gutter, h), (w + gutter, h + gutter, 2 * w + gutter, height))
    return CaseLayout(2 * w + gutter, height, cells, ("micrograph", "micrograph", "micrograph"), background=int(rng.choice([0, 255])))


def _unequal_row(rng: np.random.Generator) -> CaseLayout:
    gutter, h = int(rng.integers(6, 16)), int(rng.integers(180, 260))
    widths = [int(rng.integers(140, 360)) for _ in range(3)]
    starts = np.concatenate([[0], np.cumsum(np.array(widths) + gutter)[:-1]])
    cells = tuple((int(s), 0, int(s) + w, h) for s, w in zip(starts, widths))
    return CaseLayout(int(starts[-1]) + widths[-1], h, cells, ("micrograph", "plot", "micrograph"))


def _plots_with_titles(rng: np.random.Generator) -> CaseLayout:
    layout = _grid(rng, 2, 2, gutter=int(rng.integers(2, 8)), plots=1.0)
    return CaseLayout(layout.width, layout.height, layout.cells, ("plot", "spectrum", "histogram-inset", "plot"), label_template="{})")


#: name -> (family, layout drawn from rng). Each failure mode of issue 33 is one case.
CASES: dict[str, tuple[str, Callable[[np.random.Generator], CaseLayout]]] = {
    "grid-1x2": ("grid", lambda rng: _grid(rng, 1, 2)),
    "grid-2x1": ("grid", lambda rng: _grid(rng, 2, 1)),
    "grid-2x2": ("grid", lambda rng: _grid(rng, 2, 2)),
    "grid-2x3": ("grid", lambda rng: _grid(rng, 2, 3)),
    "grid-3x3": ("grid", lambda rng: _grid(rng, 3, 3)),
    "grid-3x4": ("grid", lambda rng: _grid(rng, 3, 4, gutter=int(rng.integers(4, 10)))),
    "wide-over-two": ("irregular", _wide_over_two),
    "tall-beside-two": ("irregular", _tall_beside_two),
    "unequal-sizes": ("irregular", _unequal_row),
    "gutter-white": ("gutter", lambda rng: _pair(rng, int(rng.integers(8, 30)), background=255)),
    "gutter-black": ("gutter", lambda rng: _pair(rng, int(rng.integers(3, 16)), background=0, vertical=bool(rng.random() < 0.5))),
    "gutter-thin-line": ("gutter", lambda rng: _pair(rng, int(rng.integers(1, 3)), background=int(rng.choice([0, 255])), vertical=bool(rng.random() < 0.5))),
    "gutter-none": ("gutter", lambda rng: _pair(rng, 0, vertical=bool(rng.random() < 0.5))),
    "gutter-none-2x2": ("gutter", lambda rng: _grid(rng, 2, 2, gutter=0, plots=0.0)),
    "micrograph-beside-plot": ("gutter", lambda rng: _pair(rng, int(rng.integers(2, 8)), kinds=("micrograph", "plot"))),
    "labels-black-box": ("labels", lambda rng: _grid(rng, 2, 2, plots=0.0, label_box=0, upper=True)),
    "labels-white-box": ("labels", lambda rng: _grid(rng, 1, 3, plots=0.0, label_box=255, label_corner="bottom-right", label_template="{})")),
    "labels-brackets": ("labels", lambda rng: _grid(rng, 2, 2, label_template="({})")),
    "labels-upper": ("labels", lambda rng: _grid(rng, 2, 3, upper=True)),
    "labels-outside": ("labels", lambda rng: _grid(rng, 2, 2, gutter=int(rng.integers(28, 40)), labels_outside=True)),
    "labels-out-of-order": ("labels", lambda rng: _grid(rng, 2, 2, plots=0.0, upper=True, letter_order=(0, 1, 3, 2))),
    "inset-micrograph": ("insets", lambda rng: _grid(rng, 1, 2, plots=0.0, micrograph_inset=True)),
    "inset-histogram": ("insets", lambda rng: _pair(rng, int(rng.integers(6, 16)), kinds=("micrograph", "histogram-inset"))),
    "plots-axis-titles": ("plots", _plots_with_titles),
    "jpeg": ("degraded", lambda rng: _grid(rng, 2, 2, gutter=int(rng.integers(1, 6)), jpeg_quality=int(rng.integers(35, 65)))),
    "downscaled": ("degraded", lambda rng: _grid(rng, 2, 3, gutter=int(rng.integers(3, 8)), downscale=float(rng.uniform(0.45, 0.7)), jpeg_quality=80)),
    "single-micrograph": ("single", lambda rng: CaseLayout(w := int(rng.integers(300, 600)), h := int(rng.integers(250, 500)), ((0, 0, w, h),), ("micrograph",), labelled=False)),
    "single-plot": ("single", lambda rng: CaseLayout(w := int(rng.integers(300, 600)), h := int(rng.integers(250, 450)), ((0, 0, w, h),), ("plot",), labelled=False)),
}


def _zoomed_inset(rng: np.random.Generator, panel: np.ndarray) -> np.ndarray:
    """``panel`` with a 2x magnified part of itself pasted in a white frame at its bottom-right."""
    height, width = panel.shape[:2]
    inset_w, inset_h = int(width * rng.uniform(0.28, 0.38)), int(height * rng.uniform(0.28, 0.38))
    x0, y0 = int(rng.integers(0, width - inset_w // 2)), int(rng.integers(0, height - inset_h // 2))
    zoomed = Image.fromarray(panel[y0 : y0 + inset_h // 2, x0 : x0 + inset_w // 2]).resize((inset_w, inset_h), Image.Resampling.BICUBIC)
    framed = Image.new("RGB", (inset_w + 4, inset_h + 4), (255, 255, 255))
    framed.paste(zoomed, (2, 2))
    out = Image.fromarray(panel)
    out.paste(framed, (width - inset_w - 10, height - inset_h - 10))
    return np.asarray(out)


def make_case(name: str, seed: int, *, micrographs: MicrographSource = procedural_micrograph) -> SyntheticFigure:
    """Draw figure ``seed`` of the named case (see :data:`CASES`); ``separator`` of the result is the
    case name. Truth boxes: each cell (with its label) less its flat edges, united with a label
    printed outside it; scaled with the figure when the case downscales it."""
    rng = np.random.default_rng([seed, crc32(name.encode())])
    layout = CASES[name][1](rng)
    margin = int(rng.integers(0, 10))
    top = 34 if layout.labels_outside else margin
    canvas = Image.new("RGB", (layout.width + 2 * margin, layout.height + top + margin), (layout.background,) * 3)
    cells = [(x0 + margin, y0 + top, x1 + margin, y1 + top) for x0, y0, x1, y1 in layout.cells]
    for cell, kind in zip(cells, layout.kinds):
        x0, y0, x1, y1 = cell
        if kind == "micrograph":
            content = micrographs(rng, x1 - x0, y1 - y0)
            content = _zoomed_inset(rng, content) if layout.micrograph_inset else content
        elif kind == "schematic":
            content = _schematic_panel(rng, x1 - x0, y1 - y0)
        else:
            content = _plot_panel(rng, x1 - x0, y1 - y0, None if kind == "plot" else kind)
        canvas.paste(Image.fromarray(content), (x0, y0))
    order = layout.letter_order or tuple(range(len(cells)))
    font_name = _LABEL_FONTS[int(rng.integers(len(_LABEL_FONTS)))]
    texts: list[str | None] = []
    outside: list[tuple[int, int, int, int] | None] = []
    draw = ImageDraw.Draw(canvas)
    for index, cell in enumerate(cells):
        text = None
        if layout.labelled and len(cells) > 1:
            text = layout.label_template.format(string.ascii_letters[order[index] + (26 if layout.upper else 0)])
        texts.append(text)
        outside.append(None)
        if text is not None and layout.labels_outside:
            font = _font(font_name, 20)
            left, top_, right, bottom = draw.textbbox((0, 0), text, font=font)
            x, y = cell[0] - left, cell[1] - 6 - bottom
            draw.text((x, y), text, fill=(0, 0, 0), font=font)
            outside[-1] = (round(x + left), round(y + top_), round(x + right), round(y + bottom))
        elif text is not None:
            _draw_label(rng, canvas, cell, text, font_name, layout.label_corner, layout.label_box is not None, layout.label_box)
    labelled_canvas = np.asarray(canvas)
    panels = []
    for cell, kind, text, label_box in zip(cells, layout.kinds, texts, outside):
        bbox = _flat_trimmed(labelled_canvas, cell)
        if label_box is not None:
            bbox = (min(bbox[0], label_box[0]), min(bbox[1], label_box[1]), max(bbox[2], label_box[2]), max(bbox[3], label_box[3]))
        panels.append(TruthPanel(bbox, text.strip("()").lower() if text else None, text, kind == "micrograph", kind))
    if layout.downscale:
        scale = layout.downscale
        canvas = canvas.resize((round(canvas.width * scale), round(canvas.height * scale)), Image.Resampling.LANCZOS)
        panels = [
            replace(p, bbox=(int(p.bbox[0] * scale), int(p.bbox[1] * scale), min(canvas.width, int(np.ceil(p.bbox[2] * scale))), min(canvas.height, int(np.ceil(p.bbox[3] * scale)))))
            for p in panels
        ]
    if layout.jpeg_quality:
        buffer = io.BytesIO()
        canvas.save(buffer, format="JPEG", quality=layout.jpeg_quality)
        canvas = Image.open(buffer).convert("RGB")
    return SyntheticFigure(np.ascontiguousarray(np.asarray(canvas)), tuple(panels), name, seed)  # type: ignore[arg-type]
