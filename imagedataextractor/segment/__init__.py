"""SEGMENT stage: particle instance segmentation (BPartIS and baselines)."""

from .methods import METHODS, segment
from .predict import BPartISConfig, segment_bpartis
from .types import Segmentation

__all__ = ["METHODS", "BPartISConfig", "Segmentation", "segment", "segment_bpartis"]
