"""SEGMENT stage: particle instance segmentation (BPartIS and baselines).

Importing the package (or its settings, :mod:`.config`) does not import torch: ``segment`` and
``segment_bpartis`` load the networks' modules on first use.
"""

from typing import Any

from .config import METHODS, BPartISConfig
from .types import Segmentation

__all__ = ["METHODS", "BPartISConfig", "Segmentation", "segment", "segment_bpartis", "segment_bpartis_many"]


def __getattr__(name: str) -> Any:  # PEP 562: lazy attributes
    if name == "segment":
        from .methods import segment

        return segment
    if name in ("segment_bpartis", "segment_bpartis_many"):
        from . import predict

        return getattr(predict, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
