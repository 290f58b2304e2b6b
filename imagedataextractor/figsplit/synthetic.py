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
from dataclasses import dataclass
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


def _plot_panel(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = ["C0", "C1", "C2", "C3"] if rng.random() < 0.6 else ["black", "0.4", "0.6", "black"]
    kind = rng.choice(["lines", "histogram", "bars", "scatter"])
    x = np.linspace(0, 10, 200)
    if kind == "lines":
        for index in range(int(rng.integers(1, 4))):
            axes.plot(x, np.sin(x * rng.uniform(0.3, 2)) + index + rng.normal(0, 0.05, x.size), color=colours[index], lw=1.5)
        axes.set_xlabel("2θ (deg)")
        axes.set_ylabel("Intensity (a.u.)")
    elif kind == "histogram":
        axes.hist(rng.normal(rng.uniform(10, 40), rng.uniform(2, 6), 300), bins=20, color=colours[0], edgecolor="black")
        axes.set_xlabel("Diameter (nm)")
        axes.set_ylabel("Count")
    elif kind == "bars":
        axes.bar(range(5), rng.uniform(1, 10, 5), color=colours[: 4] + [colours[0]])
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


def _draw_label(rng: np.random.Generator, canvas: Image.Image, cell: tuple[int, int, int, int], text: str, font_name: str, corner: str, boxed: bool) -> None:
    x0, y0, x1, y1 = cell
    size = int(np.clip(rng.uniform(0.07, 0.13) * min(x1 - x0, y1 - y0), 14, 40))
    font = _font(font_name, size)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = int(rng.integers(3, 9))
    pad = 3 if boxed else 0
    x = x0 + margin + pad if corner != "top-right" else x1 - margin - pad - right
    y = y0 + margin + pad - top if corner != "bottom-left" else y1 - margin - pad - bottom
    box = (x + left - pad, y + top - pad, x + right + pad, y + bottom + pad)
    under = np.asarray(canvas.crop(box).convert("L"), dtype=np.float64)
    dark_text = under.mean() > 110
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
