"""imagedataextractor: particle statistics from electron-microscopy figures.

Importing the package is cheap: heavy dependencies (torch, OpenCV) load when a stage runs.
"""

import logging

from .version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> object:  # PEP 562: lazy attributes
    """``imagedataextractor.extract``, ``extract_figure``, ``ImageResult``, ``ExtractSettings`` and
    ``extract_articles`` load their modules on first use (torch only when a network runs)."""
    if name in ("extract", "extract_figure", "ImageResult"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "ExtractSettings":
        from .settings import ExtractSettings

        return ExtractSettings
    if name == "extract_articles":
        from . import literature

        return literature.extract_articles
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
