"""Reading a large 16-bit image must not convert it whole to float64 before shrinking it: the peak
memory of :func:`read_image` (the resident high-water mark of a fresh process, so Pillow's own buffers count
too) stays under 4x the size of the decoded 8-bit image."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagedataextractor.imageio import MAX_SIDE, read_image

REPO = Path(__file__).resolve().parents[2]
SIDE = 6000  # above MAX_SIDE, so the image is shrunk on reading

MEASURE = """
import sys
import numpy as np
from imagedataextractor.imageio import read_image
def high_water_bytes():  # this process's own peak (VmHWM; ru_maxrss would carry the parent's over exec)
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024
before = high_water_bytes()
image = read_image(sys.argv[1])
print(high_water_bytes() - before, image.shape[0], image.shape[1])
"""


@pytest.fixture(scope="module")
def tiff16(tmp_path_factory) -> Path:
    # a ramp from dark to bright with a +-2000 checkerboard: the extremes are single pixels
    ramp = np.linspace(3000, 60000, SIDE)
    checker = np.where(np.arange(SIDE) % 2, 2000, -2000)
    image = np.empty((SIDE, SIDE), np.uint16)
    image[0::2], image[1::2] = ramp + checker, ramp - checker
    path = tmp_path_factory.mktemp("big") / "big16.tif"
    Image.fromarray(image).save(path)
    return path


@pytest.mark.skipif(sys.platform != "linux", reason="reads VmHWM from /proc/self/status")
def test_peak_memory_reading_a_large_16_bit_tiff(tiff16):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", MEASURE, str(tiff16)], env=env, capture_output=True, text=True, timeout=120, check=True)
    peak_bytes, height, width = map(int, result.stdout.split())
    assert (height, width) == (MAX_SIDE, MAX_SIDE)
    decoded_8bit = SIDE * SIDE
    assert peak_bytes < 4 * decoded_8bit, f"peak {peak_bytes / decoded_8bit:.1f}x the decoded 8-bit image"


def test_shrunk_16_bit_image_matches_a_float_reference(tiff16):
    image = read_image(tiff16)
    assert image.dtype == np.uint8 and image.shape == (MAX_SIDE, MAX_SIDE, 3)
    with Image.open(tiff16) as original:
        lo, hi = original.getextrema()
        reference = np.asarray(original.convert("F").resize((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX), np.float64)
    expected = np.round((reference - lo) / (hi - lo) * 255)
    assert np.abs(image[:, :, 0].astype(np.float64) - expected).max() <= 1
    assert image[:, :8].mean() < 20 and image[:, -8:].mean() > 235  # the ramp, dark to bright
