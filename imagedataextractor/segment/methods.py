"""One entry point for every segmentation method: ``segment(image, method=NAME)``."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..imageio import as_rgb
from .baselines import BASELINES
from .learned import LEARNED, LEARNED_CONFIGS
from .maskrcnn import MaskRCNNConfig, segment_maskrcnn
from .predict import BPartISConfig, remove_border_instances, segment_bpartis
from .types import Segmentation

#: BPartIS in the paper's three modes, by method name.
BPARTIS_MODES = {
    "bpartis": {"mode": "bayesian", "filter_uncertain": True},
    "bpartis-bayesian": {"mode": "bayesian", "filter_uncertain": False},
    "bpartis-discriminative": {"mode": "discriminative", "filter_uncertain": False},
}
METHODS = (*BPARTIS_MODES, *BASELINES, *LEARNED, "maskrcnn")


def segment(
    image: np.ndarray,
    *,
    method: str = "bpartis",
    keep_border: bool = False,
    bpartis: BPartISConfig = BPartISConfig(),
) -> Segmentation:
    """Segment particles in an image with the named method (see :data:`METHODS`).

    image: (H, W, 3) uint8 RGB (greyscale/RGBA converted). Returns labels at (H, W); particles
    touching the border are removed unless ``keep_border``. ``bpartis`` holds BPartIS settings
    (model, samples, tu, seed); its mode is set by the method name. For the learned baselines
    (``unet``, ``dilated-unet-crf``) ``bpartis.model`` names their bundle instead (None: the shipped one)
    and ``bpartis.device`` their device; so for ``maskrcnn`` (needs the optional extra, torchvision).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    image = as_rgb(image)
    if method in BPARTIS_MODES:
        return segment_bpartis(image, config=replace(bpartis, keep_border=keep_border, **BPARTIS_MODES[method]))
    if method == "maskrcnn":
        result = segment_maskrcnn(image, config=MaskRCNNConfig(model=bpartis.model, device=bpartis.device))
    elif method in LEARNED:
        result = LEARNED[method](image, config=LEARNED_CONFIGS[method](model=bpartis.model, device=bpartis.device))
    else:
        result = BASELINES[method](image)
    if keep_border:
        return result
    labels = remove_border_instances(result.labels)
    scores = result.scores
    if scores is not None:
        kept = np.unique(result.labels[labels > 0]).astype(np.int64)
        scores = scores[kept - 1]
    return replace(result, labels=labels, scores=scores, details={**result.details, "keep_border": False})
