"""A small two-panel figure drawn in code: a micrograph of discs with a "100 nm" scalebar
(1 nm per pixel) beside a line plot."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from skimage.draw import disk

from imagedataextractor.synth import ScalebarStyle, draw_scalebar

DISC_CENTRES = [(50, 50), (50, 130), (50, 210), (130, 50), (130, 130), (130, 210), (200, 60), (200, 150)]
DISC_RADIUS_PX = 18
NM_PER_PX = 1.0


def micrograph(*, with_scalebar: bool = True, seed: int = 0) -> np.ndarray:
    """(260, 260, 3) uint8: bright discs of radius 18 px on a noisy dark background, with a
    100-px "100 nm" bar in the bottom-right corner when ``with_scalebar``."""
    rng = np.random.default_rng(seed)
    grey = rng.normal(60, 6, (260, 260))
    for centre in DISC_CENTRES:
        grey[disk(centre, DISC_RADIUS_PX)] = rng.normal(200, 6)
    image = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    if with_scalebar:
        image, _ = draw_scalebar(image, text="100 nm", value=100, unit="nm", length_px=100, style=ScalebarStyle(margin_px=6))
    return image


def line_plot(height: int, width: int) -> np.ndarray:
    """(height, width, 3) uint8 drawing: axes and a curve in black on white."""
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.line([(20, 10), (20, height - 20), (width - 10, height - 20)], fill="black", width=2)
    xs = np.linspace(25, width - 15, 40)
    ys = (height - 30) - (height - 60) * np.exp(-((xs - width / 2) / (width / 6)) ** 2)
    draw.line(list(zip(xs.tolist(), ys.tolist())), fill="black", width=2)
    return np.asarray(canvas)


def two_panel_figure() -> np.ndarray:
    """The micrograph and a plot side by side, 20-px white gutter."""
    left = micrograph()
    gutter = np.full((260, 20, 3), 255, np.uint8)
    return np.concatenate([left, gutter, line_plot(260, 260)], axis=1)
