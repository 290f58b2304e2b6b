"""Stage 4, SCALEBAR: find a micrograph's scalebar, read its label, and give nanometres per pixel.

``read_scalebar(image) -> Scalebar`` (all fields None when there is no bar); ``parse_label`` turns
label text into (value, unit); ``scalebar_mask`` gives the pixels to blank before segmentation.
Importing the package (or ``parse_label``) loads neither numpy nor OpenCV; the image functions
load them on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .parse import parse_label
from .types import Scalebar, ScalebarConfig

if TYPE_CHECKING:
    from .read import read_scalebar, scalebar_mask

__all__ = ["Scalebar", "ScalebarConfig", "parse_label", "read_scalebar", "scalebar_mask"]


def __getattr__(name: str) -> Any:
    if name in ("read_scalebar", "scalebar_mask"):
        from . import read

        return getattr(read, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
