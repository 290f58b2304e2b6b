"""Training BPartIS on EMPS-layout data."""

from .loop import TrainConfig, train

__all__ = ["TrainConfig", "train"]
