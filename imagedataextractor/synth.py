"""Synthetic figures with exact ground truth: scalebars of many styles drawn onto micrographs.

The building blocks compose: :func:`draw_scalebar` draws one bar and label onto any RGB array and
returns the truth in that array's pixel frame; :func:`degrade` imitates the resampling and JPEG
compression of publication and rescales the truth to match; :func:`micrograph_crop` cuts a
background from an EMPS image away from the edges where real scalebars and panel letters sit.
:func:`synthetic_scalebar` ties them together, deterministic by seed. A multi-panel figure
renderer can call :func:`draw_scalebar` per panel before pasting panels into a figure and shift
each truth by the panel's offset (:meth:`ScalebarTruth.shifted`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import IDEError
from .imageio import read_image
from .scalebar.parse import nm_per_unit
from .scalebar.types import BBox

FONT_DIRS = (Path("/usr/share/fonts"),)
#: Scalebar labels as they appear in papers: (value, unit).
LABEL_VALUES: tuple[tuple[float, str], ...] = (
    (5, "nm"), (10, "nm"), (20, "nm"), (25, "nm"), (50, "nm"), (100, "nm"), (200, "nm"), (250, "nm"),
    (500, "nm"), (0.2, "um"), (0.5, "um"), (1, "um"), (2, "um"), (2.5, "um"), (5, "um"), (10, "um"),
    (20, "um"), (50, "um"), (100, "um"), (1, "mm"),
)  # fmt: skip
_MICRO_SPELLINGS = ("µm", "μm", "um")  # micro sign, Greek mu, plain u


#: Where a scalebar is drawn.
Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]


@dataclass(frozen=True)
class ScalebarStyle:
    """How a scalebar is drawn.

    bar_shape: "rectangle" (filled), "line" (thin) or "ticks" (thin line with end ticks).
    text_position: where the label sits relative to the bar. font_path: a TrueType file, or None
    for Pillow's bundled font. box_padding_px: None for a bar drawn straight on the image, else the
    margin of a filled box of the opposite colour behind bar and label.
    """

    bar_colour: Literal["white", "black"] = "white"
    bar_shape: Literal["rectangle", "line", "ticks"] = "rectangle"
    thickness_px: int = 5
    tick_height_px: int = 0
    text_position: Literal["above", "below", "left", "right"] = "above"
    font_path: str | None = None
    font_size_px: int = 20
    text_gap_px: int = 4
    box_padding_px: int | None = None
    corner: Corner = "bottom-right"
    margin_px: int = 12


@dataclass(frozen=True)
class ScalebarTruth:
    """Ground truth of a drawn scalebar: label text, value, unit ("nm"/"um"/"mm"), bar length
    (pixels, exact), and (x0, y0, x1, y1) boxes of bar, label ink and box (None when unboxed)."""

    text: str
    value: float
    unit: str
    length_px: float
    bar_bbox: BBox
    text_bbox: BBox
    box_bbox: BBox | None

    @property
    def nm_per_px(self) -> float:
        return self.value * nm_per_unit(self.unit) / self.length_px

    def shifted(self, dx: int, dy: int) -> ScalebarTruth:
        """The same truth in a frame where this image's origin sits at (dx, dy)."""

        def move(b: BBox | None) -> BBox | None:
            return None if b is None else (b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy)

        return replace(self, bar_bbox=move(self.bar_bbox), text_bbox=move(self.text_bbox), box_bbox=move(self.box_bbox))  # type: ignore[arg-type]  # move keeps None as None


@dataclass(frozen=True)
class SyntheticScalebar:
    """One synthetic case: the (H, W, 3) uint8 image, its truth, and the source micrograph path."""

    image: np.ndarray
    truth: ScalebarTruth
    source: Path
    style: ScalebarStyle


def font_paths() -> list[str | None]:
    """None (Pillow's bundled font) plus every TrueType font under :data:`FONT_DIRS`, sorted."""
    found = sorted(str(p) for d in FONT_DIRS if d.is_dir() for p in d.rglob("*.ttf"))
    return [None, *found]


@lru_cache(maxsize=256)
def load_font(path: str | None, size_px: int) -> ImageFont.FreeTypeFont:
    """A font at ``size_px`` pixels; ``path`` None gives Pillow's bundled font."""
    if path is None:
        return ImageFont.load_default(size=size_px)  # type: ignore[return-value]  # Pillow's default font is a FreeTypeFont when a size is given
    return ImageFont.truetype(path, size_px)


def has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    """Whether ``font`` draws ``char`` itself rather than its missing-glyph box."""
    missing = font.getmask("\U0010fffd")
    mask = font.getmask(char)
    return bool(mask.size != missing.size or bytes(mask) != bytes(missing))


def format_label(value: float, unit: str, *, rng: np.random.Generator, font: ImageFont.FreeTypeFont) -> str:
    """Write a label the ways papers do: "500 nm" or "500nm"; µm as micro sign, Greek mu or "u"."""
    number = f"{value:g}"
    if unit == "um":
        spellings = [s for s in _MICRO_SPELLINGS if has_glyph(font, s[0])]
        unit_text = spellings[int(rng.integers(len(spellings)))]
    else:
        unit_text = unit
    return number + (" " if rng.random() < 0.75 else "") + unit_text


def _ink_bbox(mask: np.ndarray) -> BBox:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def draw_scalebar(
    image: np.ndarray, *, text: str, value: float, unit: str, length_px: int, style: ScalebarStyle
) -> tuple[np.ndarray, ScalebarTruth]:
    """Draw a bar ``length_px`` pixels long with the label ``text`` onto a copy of ``image``.

    ``image`` is (H, W, 3) uint8; the bar, label and box are placed in ``style.corner``. Returns the
    new image and the exact truth (bar bbox spans exactly ``length_px`` columns). Raises ValueError
    when the scalebar does not fit.
    """
    height, width = image.shape[:2]
    font = load_font(style.font_path, style.font_size_px)
    fg, bg = (255, 0) if style.bar_colour == "white" else (0, 255)

    # Lay out in a local frame: bar at (0, 0), label beside it; then shift into the corner.
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    text_w, text_h = right - left, bottom - top
    bar_h = max(style.thickness_px, style.tick_height_px)
    gap = style.text_gap_px
    if style.text_position in ("above", "below"):
        text_x = (length_px - text_w) // 2
        text_y = -gap - text_h if style.text_position == "above" else bar_h + gap
    else:
        text_y = (bar_h - text_h) // 2
        text_x = -gap - text_w if style.text_position == "left" else length_px + gap
    x0, y0 = min(0, text_x), min(0, text_y)
    x1, y1 = max(length_px, text_x + text_w), max(bar_h, text_y + text_h)
    pad = style.box_padding_px or 0
    group_w, group_h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    if group_w + 2 * style.margin_px > width or group_h + 2 * style.margin_px > height:
        raise ValueError(f"scalebar of {group_w}x{group_h} px does not fit a {width}x{height} image")
    gx = style.margin_px if style.corner.endswith("left") else width - style.margin_px - group_w
    gy = style.margin_px if style.corner.startswith("top") else height - style.margin_px - group_h
    ox, oy = gx + pad - x0, gy + pad - y0  # image position of the local origin

    canvas = Image.fromarray(image.copy())
    draw = ImageDraw.Draw(canvas)
    box_bbox = None
    if style.box_padding_px is not None:
        box_bbox = (gx, gy, gx + group_w, gy + group_h)
        draw.rectangle((gx, gy, gx + group_w - 1, gy + group_h - 1), fill=(bg,) * 3)
    bar_top = oy + (bar_h - style.thickness_px) // 2
    draw.rectangle((ox, bar_top, ox + length_px - 1, bar_top + style.thickness_px - 1), fill=(fg,) * 3)
    if style.tick_height_px:
        tick_w = max(1, style.thickness_px)
        for tx in (ox, ox + length_px - tick_w):
            draw.rectangle((tx, oy, tx + tick_w - 1, oy + style.tick_height_px - 1), fill=(fg,) * 3)
    bar_bbox = (ox, oy, ox + length_px, oy + bar_h)

    text_layer = Image.new("L", canvas.size, 0)
    ImageDraw.Draw(text_layer).text((ox + text_x - left, oy + text_y - top), text, font=font, fill=255)
    alpha = np.asarray(text_layer)
    out = np.asarray(canvas).astype(np.float32)
    weight = (alpha.astype(np.float32) / 255.0)[:, :, None]
    out = out * (1 - weight) + fg * weight
    truth = ScalebarTruth(text, float(value), unit, float(length_px), bar_bbox, _ink_bbox(alpha > 0), box_bbox)
    return np.round(out).astype(np.uint8), truth


def degrade(image: np.ndarray, truth: ScalebarTruth, *, scale: float, jpeg_quality: int | None) -> tuple[np.ndarray, ScalebarTruth]:
    """Resample ``image`` by ``scale`` (bicubic) and JPEG-compress it, as figures are in papers;
    the truth's length and boxes are scaled to the new frame (boxes rounded outwards)."""
    pil = Image.fromarray(image)
    if scale != 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        sx, sy = size[0] / image.shape[1], size[1] / image.shape[0]
        pil = pil.resize(size, Image.Resampling.BICUBIC)

        def resize_box(b: BBox | None) -> BBox | None:
            if b is None:
                return None
            return int(np.floor(b[0] * sx)), int(np.floor(b[1] * sy)), int(np.ceil(b[2] * sx)), int(np.ceil(b[3] * sy))

        truth = replace(
            truth,
            length_px=truth.length_px * sx,
            bar_bbox=resize_box(truth.bar_bbox),  # type: ignore[arg-type]  # resize_box keeps None as None
            text_bbox=resize_box(truth.text_bbox),  # type: ignore[arg-type]  # resize_box keeps None as None
            box_bbox=resize_box(truth.box_bbox),
        )
    if jpeg_quality is not None:
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=jpeg_quality)
        pil = Image.open(buffer).convert("RGB")
    return np.asarray(pil).copy(), truth


def micrograph_crop(image: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Cut a background from the middle of a figure panel: the outer bands, where scalebars,
    data bars and panel letters sit, are dropped (5-10 % at the sides and top, 22 % at the bottom)."""
    height, width = image.shape[:2]
    x0 = int(width * rng.uniform(0.05, 0.1))
    x1 = width - int(width * rng.uniform(0.05, 0.1))
    y0 = int(height * rng.uniform(0.05, 0.1))
    y1 = height - int(height * 0.22)
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def random_style(rng: np.random.Generator, *, fonts: Sequence[str | None], image_width: int) -> ScalebarStyle:
    """A style drawn from the ranges seen in published micrographs, sized for ``image_width``."""
    bar_shape = ("rectangle", "line", "ticks")[int(rng.choice(3, p=[0.6, 0.2, 0.2]))]
    if bar_shape == "rectangle":
        thickness = int(rng.integers(3, 13))
    else:
        thickness = int(rng.integers(1, 4))
    tick_height = int(rng.integers(thickness + 5, thickness + 16)) if bar_shape == "ticks" else 0
    font_size = int(rng.integers(max(14, image_width // 32), max(18, image_width // 14)))
    boxed = rng.random() < 0.4
    return ScalebarStyle(
        bar_colour="white" if rng.random() < 0.55 else "black",
        bar_shape=bar_shape,  # type: ignore[arg-type]  # chosen from the Literal's values
        thickness_px=thickness,
        tick_height_px=tick_height,
        text_position=("above", "below", "left", "right")[int(rng.choice(4, p=[0.45, 0.35, 0.1, 0.1]))],
        font_path=fonts[int(rng.integers(len(fonts)))],
        font_size_px=font_size,
        text_gap_px=int(rng.integers(2, 10)),
        box_padding_px=int(rng.integers(3, 12)) if boxed else None,
        corner=("bottom-right", "bottom-left", "top-right", "top-left")[int(rng.choice(4, p=[0.5, 0.3, 0.1, 0.1]))],
        margin_px=int(rng.integers(0 if boxed else 6, 30)),
    )


def _on_clear_ground(truth: ScalebarTruth, style: ScalebarStyle, background: np.ndarray) -> bool:
    """Whether the micrograph under an unboxed scalebar holds nothing of the bar's colour (panel
    letters, bright particle edges) that the label would run into; authors place labels so."""
    if style.box_padding_px is not None:
        return True
    x0 = min(truth.bar_bbox[0], truth.text_bbox[0]) - 3
    y0 = min(truth.bar_bbox[1], truth.text_bbox[1]) - 3
    x1 = max(truth.bar_bbox[2], truth.text_bbox[2]) + 3
    y1 = max(truth.bar_bbox[3], truth.text_bbox[3]) + 3
    under = background[max(0, y0) : y1, max(0, x0) : x1].mean(axis=2)
    colour = 255.0 if style.bar_colour == "white" else 0.0
    return float(np.mean(np.abs(under - colour) < 70)) < 0.02


def _stands_out(truth: ScalebarTruth, style: ScalebarStyle, background: np.ndarray) -> bool:
    """Whether an unboxed bar differs by 100+ grey levels from the micrograph around it, as
    authors make sure it does by picking white or black."""
    if style.box_padding_px is not None:
        return True
    x0, y0, x1, y1 = truth.bar_bbox
    around = background[max(0, y0 - 4) : y1 + 4, max(0, x0 - 4) : x1 + 4].mean(axis=2)
    return abs((255.0 if style.bar_colour == "white" else 0.0) - float(np.median(around))) >= 100


def draw_legible_scalebar(
    background: np.ndarray, rng: np.random.Generator, *, fonts: Sequence[str | None], attempts: int = 100, corner: Corner | None = None
) -> tuple[np.ndarray, ScalebarTruth, ScalebarStyle] | None:
    """A random scalebar (label value, style, length from ``rng``) drawn on a copy of the (H, W, 3)
    uint8 ``background``, redrawn until it fits and reads as authors make sure it does (an unboxed
    bar contrasting with the micrograph, on clear ground); ``corner`` fixes its corner. Returns
    (image, truth in pixels, style), or None when no attempt succeeds."""
    value, unit = LABEL_VALUES[int(rng.integers(len(LABEL_VALUES)))]
    width = background.shape[1]
    for _attempt in range(attempts):
        style = random_style(rng, fonts=fonts, image_width=width)
        if corner is not None:
            style = replace(style, corner=corner)
        length = int(rng.integers(max(20, width // 14), max(24, int(width * 0.4))))
        text = format_label(value, unit, rng=rng, font=load_font(style.font_path, style.font_size_px))
        try:
            image, truth = draw_scalebar(background, text=text, value=value, unit=unit, length_px=length, style=style)
        except ValueError:
            continue
        if not _stands_out(truth, style, background):
            style = replace(style, bar_colour="black" if style.bar_colour == "white" else "white")
            image, truth = draw_scalebar(background, text=text, value=value, unit=unit, length_px=length, style=style)
        if _on_clear_ground(truth, style, background):
            return image, truth, style
    return None


def synthetic_scalebar(seed: int, *, sources: Sequence[Path], fonts: Sequence[str | None] | None = None) -> SyntheticScalebar:
    """Case number ``seed``: a micrograph crop from ``sources`` (EMPS images) with a random
    scalebar, possibly resampled and JPEG-compressed. The same seed and sources give the same case.
    Raises IDEError when no legible scalebar can be placed on the crop (a tiny or cluttered image)."""
    rng = np.random.default_rng(seed)
    fonts = font_paths() if fonts is None else list(fonts)
    source = Path(sources[int(rng.integers(len(sources)))])
    background = micrograph_crop(read_image(source), rng=rng)
    drawn = draw_legible_scalebar(background, rng, fonts=fonts)
    if drawn is None:
        raise IDEError(f"{source}: no legible scalebar fits its {background.shape[1]}x{background.shape[0]} crop")
    image, truth, style = drawn
    if rng.random() < 0.6:
        scale = float(rng.uniform(0.7, 1.0))
        quality = int(rng.integers(55, 96)) if rng.random() < 0.7 else None
        image, truth = degrade(image, truth, scale=scale, jpeg_quality=quality)
    return SyntheticScalebar(image, truth, source, style)
