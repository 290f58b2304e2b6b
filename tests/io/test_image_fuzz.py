"""Fuzzing the image loader: mutated PNG, JPEG, TIFF, GIF, BMP and WebP files give an image or an
ImageError naming the file, never another exception."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from imagedataextractor.errors import ImageError
from imagedataextractor.imageio import read_image, read_instance_map


def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    (image.convert("I;16") if fmt == "TIFF" else image).save(buffer, fmt)
    return buffer.getvalue()


FORMATS = ["PNG", "JPEG", "TIFF", "GIF", "BMP", "WEBP"]
ENCODED = {fmt: _encoded(fmt) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_image_files_raise_only_image_error(fmt, data, tmp_path):
    blob = bytearray(ENCODED[fmt])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        kind = data.draw(st.sampled_from(["flip", "truncate", "zero"]))
        if kind == "flip":
            blob[at] = data.draw(st.integers(0, 255))
        elif kind == "truncate":
            del blob[max(at, 1):]
        else:
            blob[at:at + 16] = bytes(len(blob[at:at + 16]))
    path = tmp_path / f"fuzz.{fmt.lower()}"
    path.write_bytes(bytes(blob))
    for read in (read_image, read_instance_map):
        try:
            array = read(path)
        except ImageError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
            continue
        assert array.ndim in (2, 3) and min(array.shape[:2]) >= 1


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF", "GIF"])
@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_downloads_are_refused_only_with_fetch_error(fmt, data, tmp_path):
    """The harvest's check of a downloaded figure file meets the same damaged files."""
    from imagedataextractor.harvest.base import verify_image
    from imagedataextractor.harvest.http import FetchError

    blob = bytearray(ENCODED[fmt])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    path = tmp_path / "download.part"
    path.write_bytes(bytes(blob))
    try:
        assert verify_image(path).startswith(".")
    except FetchError as exc:
        assert "\n" not in str(exc)
