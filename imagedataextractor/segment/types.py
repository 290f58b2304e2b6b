"""What every segmentation method returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Segmentation:
    """An instance segmentation of one image, at the input image's size.

    labels: (H, W) uint16 instance map, 0 = background, ids 1..n.
    uncertainty: (H, W) float32 per-pixel epistemic uncertainty (mutual information, nats), or None
        for methods that give none.
    scores: per-instance confidence in [0, 1], indexed by id - 1 (length n), or None.
    method: name of the method that produced it; details: the settings used (JSON-serialisable).
    foreground_fraction: (H, W) float32, the share (0-1) of the MC-dropout samples in which each
        pixel is foreground (each particle's size spread over the samples is read from it), or None
        for methods without samples.
    """

    labels: np.ndarray
    uncertainty: np.ndarray | None = None
    scores: np.ndarray | None = None
    method: str = ""
    details: dict = field(default_factory=dict)
    foreground_fraction: np.ndarray | None = None

    @property
    def n_instances(self) -> int:
        return int(self.labels.max()) if self.labels.size else 0
