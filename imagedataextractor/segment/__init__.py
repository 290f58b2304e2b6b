"""SEGMENT stage: particle instance segmentation (BPartIS and baselines)."""

from .methods import METHODS, segment
from .predict import BPartISConfig, segment_bpartis, segment_bpartis_many
from .types import Segmentation

__all__ = ["METHODS", "BPartISConfig", "Segmentation", "segment", "segment_bpartis", "segment_bpartis_many"]
