"""One entry point for every segmentation method: ``segment(image, method=NAME)``."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..imageio import as_rgb
from ..errors import SettingsError
from .baselines import BASELINES
from .config import BPARTIS_MODES, METHODS, BPartISConfig
from .masking import remove_border_instances
from .types import Segmentation

#: Relative systematic error of the mean particle diameter of the classical methods (default
#: settings): s in the intervals' term exp(s x z) (:mod:`imagedataextractor.intervals`), a
#: random-effects estimate on the EMPS train split's validation publications (images with >= 30
#: hand-labelled particles; ``python benchmarks/interval_calibration.py systematic --method NAME``,
#: see BENCHMARKS.md). A method not named here has no estimate and gets no term (0). BPartIS and
#: the learned baselines keep theirs in their bundle's config.json (``systematic_rel_sd``).
SYSTEMATIC_REL_SD: dict[str, float] = {
    "watershed": 0.108,  # 6 images: mean log ratio -0.032 (SE 0.053), mean square 0.0150, mean sampling variance 0.0033
    "gmm": 0.269,  # 6 images: -0.001 (SE 0.123), 0.0751, 0.0030
    "ide1": 0.170,  # 6 images: +0.053 (SE 0.076), 0.0314, 0.0027
}

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
        raise SettingsError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    image = as_rgb(image)
    # torch (and torchvision) load only for the learned methods
    if method in BPARTIS_MODES:
        from .predict import segment_bpartis

        return segment_bpartis(image, config=replace(bpartis, keep_border=keep_border, **BPARTIS_MODES[method]))
    if method == "maskrcnn":
        from .maskrcnn import MaskRCNNConfig, segment_maskrcnn

        result = segment_maskrcnn(image, config=MaskRCNNConfig(model=bpartis.model, device=bpartis.device))
    elif method not in BASELINES:
        from .learned import LEARNED, LEARNED_CONFIGS

        result = LEARNED[method](image, config=LEARNED_CONFIGS[method](model=bpartis.model, device=bpartis.device))
    else:
        result = BASELINES[method](image)
    # learned baselines carry their bundle's estimate; classical methods get the constant's
    result = replace(result, details={"systematic_rel_sd": SYSTEMATIC_REL_SD.get(method, 0.0), **result.details})
    if keep_border:
        return result
    labels = remove_border_instances(result.labels)
    scores = result.scores
    if scores is not None:
        kept = np.unique(result.labels[labels > 0]).astype(np.int64)
        scores = scores[kept - 1]
    return replace(result, labels=labels, scores=scores, details={**result.details, "keep_border": False})
