"""``unet``: U-Net semantic segmentation (Ronneberger et al. 2015) + distance-transform watershed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import SettingsError
from ...imageio import as_rgb
from ..baselines.watershed import split_by_distance
from ..types import Segmentation
from ._model import bundle_details, class_probabilities, inference_settings, load_learned, to_segmentation

METHOD = "unet"
#: Fallbacks for settings that neither the config nor the bundle's ``inference`` block gives.
DEFAULTS = {"threshold": 0.5, "h_px": 2.0, "min_area_px": 30}


@dataclass(frozen=True)
class UNetConfig:
    """Settings of :func:`segment_unet`; ``None`` takes the model bundle's value (its config.json
    ``inference`` block, tuned on held-out training images), else :data:`DEFAULTS`. Pixel sizes are
    at the network's canvas (the bundle's ``input_size``, 512 px), to which every image is resized.

    model: bundle name or directory (default: the shipped ``unet-emps``).
    threshold: particle probability above which a pixel is foreground.
    h_px: watershed neck depth (see :func:`~imagedataextractor.segment.baselines.watershed.split_by_distance`).
    min_area_px: instances smaller than this are dropped.
    """

    model: str | Path | None = None
    threshold: float | None = None
    h_px: float | None = None
    min_area_px: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise SettingsError(f"threshold: expected a probability in (0, 1), got {self.threshold}")
        if (self.h_px or 0) < 0 or (self.min_area_px or 0) < 0:
            raise SettingsError("h_px and min_area_px must be >= 0")


def separate_instances(foreground: np.ndarray, *, threshold: float, h_px: float, min_area_px: int) -> np.ndarray:
    """The instance-separation stage: threshold a (H, W) particle-probability map, then split
    touching particles with the distance-transform watershed (neck depth ``h_px``, instances below
    ``min_area_px`` dropped). Returns (H, W) int labels, 0 = background."""
    return split_by_distance(foreground > threshold, h_px=h_px, min_area_px=min_area_px)


def segment_unet(image: np.ndarray, *, config: UNetConfig = UNetConfig()) -> Segmentation:
    """Segment particles with a U-Net's foreground probability and distance-transform watershed.

    The network (trained with binary cross-entropy on particle vs background, pixels where two
    particles touch counted as background; see ``ide train --method unet``) runs on the image
    resized to the bundle's canvas; :func:`separate_instances` splits the thresholded map; labels
    are resized back to the image.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB array (greyscale/RGBA converted).
    config : :class:`UNetConfig`.

    Returns
    -------
    Segmentation with (H, W) uint16 labels, per-instance ``scores`` (mean particle probability),
    no uncertainty, method "unet", and the settings used and the model in ``details``.

    Example
    -------
    >>> import numpy as np
    >>> segment_unet(np.zeros((64, 64, 3), np.uint8)).labels.shape
    (64, 64)
    """
    image = as_rgb(image)
    bundle, network = load_learned(METHOD, config.model, config.device)
    size = int(bundle.config.get("input_size", 512))
    settings = inference_settings(config, bundle, DEFAULTS)
    foreground = class_probabilities(network, image, size)[1]
    labels = separate_instances(foreground, **settings)
    details = {**settings, **bundle_details(bundle), "input_size": size}
    return to_segmentation(labels, foreground, image.shape[:2], method=METHOD, details=details)
