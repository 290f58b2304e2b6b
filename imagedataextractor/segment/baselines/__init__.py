"""Classical (non-learned) segmentation baselines for the method comparison.

Every method has the signature ``segment_<name>(image, *, config=<Name>Config()) -> Segmentation``
with ``image`` an (H, W, 3) uint8 RGB array; :data:`BASELINES` maps method names to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..types import Segmentation
from .gmm import GmmConfig, segment_gmm
from .ide1 import Ide1Config, segment_ide1
from .watershed import WatershedConfig, segment_watershed

BASELINES: dict[str, Callable[[np.ndarray], Segmentation]] = {
    "ide1": segment_ide1,
    "gmm": segment_gmm,
    "watershed": segment_watershed,
}

__all__ = [
    "BASELINES",
    "GmmConfig",
    "Ide1Config",
    "WatershedConfig",
    "segment_gmm",
    "segment_ide1",
    "segment_watershed",
]
