"""Reading images safely: every failure becomes a one-line :class:`ImageError` naming the file."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import cast

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageError

#: Images with more pixels than this are refused before decoding (decompression-bomb guard).
MAX_PIXELS = 16384 * 16384
#: Images larger than this on either side are downscaled on reading (pixels).
MAX_SIDE = 4096
#: Smallest side accepted (pixels); smaller images cannot hold a measurable particle.
MIN_SIDE = 16


#: Rescaling to 8 bits works on blocks of about this many values, so that its float64 temporaries
#: stay small whatever the image size.
_BLOCK_VALUES = 1 << 20
#: 8-bit modes Pillow shrinks itself; 16/32-bit greyscale is shrunk band by band, any other mode
#: is converted to 8-bit RGB first.
_RESIZABLE_MODES = frozenset({"L", "RGB", "RGBA"})


def _to_uint8(array: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Rescale ``array`` linearly from ``value_range`` (default: its own min and max) to 0-255."""
    if array.dtype == np.uint8:
        return array
    lo, hi = value_range if value_range is not None else (float(array.min()), float(array.max()))
    if hi <= lo:
        return np.zeros(array.shape, np.uint8)
    out = np.empty(array.shape, np.uint8)
    rows = max(1, _BLOCK_VALUES // max(1, array[0].size))
    for start in range(0, array.shape[0], rows):
        block = array[start : start + rows].astype(np.float64)
        block -= lo
        block /= hi - lo
        block *= 255
        out[start : start + rows] = np.round(block, out=block)
    return out


def as_rgb(array: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Convert a greyscale (H, W), RGB (H, W, 3) or RGBA (H, W, 4) array of any numeric dtype to
    (H, W, 3) uint8. Alpha is composited onto white; other dtypes are rescaled to 0-255."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {array.shape}")
    if min(array.shape[:2]) < MIN_SIDE:
        raise ImageError(f"{name}: image is {array.shape[1]}x{array.shape[0]} pixels, too small (min {MIN_SIDE})")
    if array.ndim == 3 and array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float64) / (255.0 if array.dtype == np.uint8 else max(float(array[:, :, 3].max()), 1.0))
        rgb = _to_uint8(array[:, :, :3]).astype(np.float64)
        array = np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    array = _to_uint8(array)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array)


#: What Pillow's format plugins raise on a damaged file (found by fuzzing: a TIFF tag of the wrong
#: arity raises ValueError while the file is opened, a bad GIF block IndexError, ...).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError, struct.error)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _open(path: Path) -> Image.Image:
    """The image at ``path``, decoded (the caller closes it). Pillow's warnings about damaged
    metadata (EXIF, TIFF tags) are not errors: the pixels decide."""
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except UnidentifiedImageError:
            raise ImageError(f"{path}: not an image file (unrecognised format)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(f"{path}: image is too large to decode safely") from None
        except DECODE_ERRORS as exc:
            raise ImageError(f"{path}: cannot open image ({_one_line(exc)})") from None
        if image.width * image.height > MAX_PIXELS:
            image.close()
            raise ImageError(f"{path}: image is {image.width}x{image.height} pixels, more than the {MAX_PIXELS} allowed")
        try:
            image.load()
        except DECODE_ERRORS as exc:
            image.close()
            raise ImageError(f"{path}: corrupt or truncated image ({_one_line(exc)})") from None
    return image


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    Greyscale, 16-bit and RGBA inputs are converted; images larger than :data:`MAX_SIDE` on a side
    are downscaled (area interpolation) keeping the aspect ratio, so pixel sizes then refer to the
    downscaled image. A 16-bit or 32-bit greyscale image is shrunk before it is rescaled to 8 bits
    (with the full image's range), so a large one never exists whole in a wider type.
    Raises :class:`ImageError` with a one-line message naming the file.
    """
    path = Path(path)
    image = _open(path)
    try:
        array = _to_array(image, path)
    except DECODE_ERRORS as exc:  # a damaged file that decoded but cannot be converted
        raise ImageError(f"{path}: corrupt image ({_one_line(exc)})") from None
    finally:
        image.close()  # releases the full-size pixels too (leaving a with block closes only the file)
    return as_rgb(array, name=str(path))


def _shrink_wide_grey(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Shrink a 16/32-bit greyscale ``image`` to ``size`` (width, height) with area interpolation
    and rescale it to (H, W) uint8 over the full image's range, one band of output rows at a
    time: no full-size copy in a wider type (nor Pillow's full-size intermediate) is ever made."""
    # a single-band image's extrema are two numbers (Pillow types them for multi-band images too)
    lo, hi = cast("tuple[float, float]", image.getextrema())
    width, height = size
    out = np.empty((height, width), np.uint8)
    rows_per_source_row = image.height / height
    rows = max(1, _BLOCK_VALUES // width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        source_box = (0, top * rows_per_source_row, image.width, bottom * rows_per_source_row)
        band = image.resize((width, bottom - top), Image.Resampling.BOX, box=source_box)
        out[top:bottom] = _to_uint8(np.asarray(band), (lo, hi))
    return out


def _to_array(image: Image.Image, path: Path) -> np.ndarray:
    """``image`` as an array for :func:`as_rgb`, shrunk to at most :data:`MAX_SIDE` on a side."""
    if max(image.size) > MAX_SIDE:
        scale = MAX_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        if image.mode in ("I;16", "I", "F"):
            return _shrink_wide_grey(image, size)
        if image.mode not in _RESIZABLE_MODES:
            image = Image.fromarray(as_rgb(np.asarray(image), name=str(path)))
        image = image.resize(size, Image.Resampling.BOX)
    if image.mode == "P" or image.mode == "LA":
        image = image.convert("RGBA")
    elif image.mode == "CMYK" or image.mode == "YCbCr":
        image = image.convert("RGB")
    return np.asarray(image)


def read_instance_map(path: str | Path) -> np.ndarray:
    """Read a uint16 instance map (0 = background) as an (H, W) uint16 array."""
    path = Path(path)
    image = _open(path)
    try:
        array = np.asarray(image)
    except DECODE_ERRORS as exc:
        raise ImageError(f"{path}: corrupt image ({_one_line(exc)})") from None
    finally:
        image.close()
    if array.ndim != 2:
        raise ImageError(f"{path}: an instance map must be single-channel, got shape {array.shape}")
    return array.astype(np.uint16)
