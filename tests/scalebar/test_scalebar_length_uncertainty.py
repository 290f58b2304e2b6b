"""The bar length's uncertainty, from the sharpness of its ends."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from imagedataextractor.scalebar import read_scalebar
from imagedataextractor.scalebar.bar import PIXEL_QUANTISATION_SD
from imagedataextractor.synth import ScalebarStyle, draw_scalebar


def _figure(blur_px: float) -> np.ndarray:
    grey = np.full((300, 400, 3), 110, np.uint8)
    image, _truth = draw_scalebar(grey, text="100 nm", value=100, unit="nm", length_px=150, style=ScalebarStyle(thickness_px=6))
    if blur_px:
        image = np.stack([ndimage.gaussian_filter(image[:, :, c].astype(float), blur_px) for c in range(3)], axis=2).round().astype(np.uint8)
    return image


def test_a_sharp_bar_is_known_to_the_pixel_and_a_blurred_one_less_well():
    sharp = read_scalebar(_figure(0))
    assert sharp.length_px == pytest.approx(150, abs=1)
    assert sharp.length_sd_px == pytest.approx(np.hypot(PIXEL_QUANTISATION_SD, PIXEL_QUANTISATION_SD))
    sigma = 1.2
    blurred = read_scalebar(_figure(sigma))
    assert blurred.length_px == pytest.approx(150, abs=1)
    # A Gaussian edge: 25-75 % width 1.35 sigma, half of it per end, both ends.
    assert blurred.length_sd_px == pytest.approx(np.hypot(0.675 * sigma, 0.675 * sigma), rel=0.15)
