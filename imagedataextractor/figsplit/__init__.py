"""SPLIT stage: a figure image -> its panels (bbox, label, micrograph or not, crop)."""

from .split import split_figure
from .types import Panel, SplitConfig

__all__ = ["Panel", "SplitConfig", "split_figure"]
