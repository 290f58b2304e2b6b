"""``dilated-unet-crf``: the MOF method of Batatia ("A deep learning method with CRF for instance
segmentation of metal-organic frameworks in SEM images"): a U-Net with a chain of atrous convolutions
in its bottleneck, a fully connected CRF on its softmax, Chan-Vese level sets initialised from the
CRF, then connected components.

Not implemented: the paper's last stage, a VGG16 classifier of each object's class, needs per-object
class labels, which EMPS (and any data set here) does not have; every object is kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage as ndi

from ...errors import SettingsError
from ...imageio import as_rgb
from ..baselines.common import as_grey
from ..types import Segmentation
from ._model import bundle_details, class_probabilities, inference_settings, load_learned, to_segmentation
from .crf import DenseCRFConfig, dense_crf

METHOD = "dilated-unet-crf"
#: Fallbacks for settings that neither the config nor the bundle's ``inference`` block gives.
DEFAULTS = {"chan_vese_iterations": 30, "chan_vese_smoothing": 0, "band_px": 2, "min_area_px": 30}


@dataclass(frozen=True)
class DilatedUNetCRFConfig:
    """Settings of :func:`segment_dilated_unet_crf`; ``None`` takes the model bundle's value (its
    config.json ``inference`` block, tuned on held-out training images), else :data:`DEFAULTS` (and
    ``DenseCRFConfig()``). Pixel sizes are at the network's canvas (the bundle's ``input_size``,
    512 px), to which every image is resized.

    model: bundle name or directory (default: the shipped ``dilated-unet-crf-emps``).
    crf: the dense CRF's kernels, weights and iterations (20, as in the paper).
    chan_vese_iterations / chan_vese_smoothing: morphological Chan-Vese steps, and curvature-smoothing
        passes per step (0: the smoothing pushes back the tip of a seam as fast as the data term
        opens it, so seams between touching particles never cut through; the CRF already smoothed).
    band_px: how far (px) the level set may grow beyond the CRF's foreground.
    min_area_px: objects smaller than this are dropped.
    """

    model: str | Path | None = None
    crf: DenseCRFConfig | None = None
    chan_vese_iterations: int | None = None
    chan_vese_smoothing: int | None = None
    band_px: int | None = None
    min_area_px: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if min(v for v in (self.chan_vese_iterations, self.chan_vese_smoothing, self.band_px, self.min_area_px, 0) if v is not None) < 0:
            raise SettingsError("chan_vese_iterations, chan_vese_smoothing, band_px and min_area_px must be >= 0")


#: The four 3-px line segments (horizontal, vertical, two diagonals) of the curvature operators.
_LINES = [np.ones((1, 3), np.uint8), np.ones((3, 1), np.uint8), np.eye(3, dtype=np.uint8), np.fliplr(np.eye(3, dtype=np.uint8)).copy()]
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _curvature_smoothing(u: np.ndarray) -> np.ndarray:
    """One smoothing step of the morphological snakes: IS o SI then SI o IS (Márquez-Neila et al.
    2014), where SI = sup of erosions and IS = inf of dilations by the four line segments."""

    def si(v: np.ndarray) -> np.ndarray:
        return np.max([cv2.erode(v, line) for line in _LINES], axis=0)

    def is_(v: np.ndarray) -> np.ndarray:
        return np.min([cv2.dilate(v, line) for line in _LINES], axis=0)

    return si(is_(is_(si(u))))


def morphological_chan_vese(grey: np.ndarray, init: np.ndarray, *, iterations: int, smoothing: int = 1) -> np.ndarray:
    """Morphological Chan-Vese / active contours without edges (Márquez-Neila, Baumela & Álvarez
    2014), lambda1 = lambda2 = 1: each iteration moves the boundary pixels to the side (inside, mean
    c1; outside, mean c0) whose mean intensity they fit better, then smooths the contour
    ``smoothing`` times with the curvature operators.

    Unlike ``skimage.segmentation.morphological_chan_vese``, the boundary is found with the
    morphological gradient (3x3 cross dilation minus erosion) rather than central differences, which
    are zero on a 1-px-wide line: there skimage's contour stalls, leaving a one-pixel bridge across
    the very seams between touching particles that this stage exists to open.

    grey: (H, W) intensities; init: (H, W) bool initial inside. Returns (H, W) bool inside.
    """
    image = np.asarray(grey, np.float32)
    u = init.astype(np.uint8)
    for _ in range(iterations):
        inside = u > 0
        if inside.all() or not inside.any():
            break
        c1, c0 = float(image[inside].mean()), float(image[~inside].mean())
        boundary = cv2.dilate(u, _CROSS) != cv2.erode(u, _CROSS)
        fit = (image - c1) ** 2 - (image - c0) ** 2
        u = np.where(boundary & (fit < 0), 1, np.where(boundary & (fit > 0), 0, u)).astype(np.uint8)
        for _ in range(smoothing):
            u = _curvature_smoothing(u)
    return u > 0


def separate_chan_vese(
    grey: np.ndarray, mask: np.ndarray, *, chan_vese_iterations: int, chan_vese_smoothing: int, band_px: int, min_area_px: int
) -> np.ndarray:
    """The instance-separation stage: Chan-Vese level sets initialised from a foreground mask, then
    connected components.

    grey: (H, W) image intensities; mask: (H, W) bool (the CRF's foreground). The morphological
    Chan-Vese (ACWE) evolution fits one mean intensity inside and one outside, starting from ``mask``;
    it re-opens the darker (or brighter) seams between touching particles that the network and the
    CRF's smoothness bridged, and snaps outlines to intensity edges. It may move at most ``band_px``
    beyond ``mask``; holes it opens inside ``mask`` (a particle's shaded core) are refilled, seams that
    cut an object in two are kept. Returns (H, W) int labels (4-connected components, those below
    ``min_area_px`` dropped), 0 = background.
    """
    if not mask.any():
        return np.zeros(mask.shape, np.int32)
    level = mask.copy()
    if chan_vese_iterations:
        level = morphological_chan_vese(grey, mask, iterations=chan_vese_iterations, smoothing=chan_vese_smoothing)
    if band_px:
        band = cv2.dilate(mask.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1,) * 2)) > 0
        level &= band
    else:
        level &= mask
    level |= ndi.binary_fill_holes(level) & mask
    labels, _ = ndi.label(level)
    areas = np.bincount(labels.ravel())
    small = areas < min_area_px
    small[0] = False
    return np.where(small[labels], 0, labels).astype(np.int32)


def segment_dilated_unet_crf(image: np.ndarray, *, config: DilatedUNetCRFConfig = DilatedUNetCRFConfig()) -> Segmentation:
    """Segment particles with the dilated U-Net, a dense CRF and Chan-Vese separation.

    Steps, at the bundle's canvas: the network's two-class softmax; :func:`~.crf.dense_crf` on it
    (appearance kernel on the greyscale image); the CRF's foreground (marginal > 0.5) initialises
    :func:`separate_chan_vese`; labels are resized back to the image. The paper's VGG16 object
    classifier is not implemented (no class labels in EMPS).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB array (greyscale/RGBA converted).
    config : :class:`DilatedUNetCRFConfig`.

    Returns
    -------
    Segmentation with (H, W) uint16 labels, per-instance ``scores`` (mean CRF particle marginal),
    no uncertainty, method "dilated-unet-crf", and the settings and model in ``details``.

    Example
    -------
    >>> import numpy as np
    >>> segment_dilated_unet_crf(np.zeros((64, 64, 3), np.uint8)).labels.shape
    (64, 64)
    """
    image = as_rgb(image)
    bundle, network = load_learned(METHOD, config.model, config.device)
    size = int(bundle.config.get("input_size", 512))
    probabilities = class_probabilities(network, image, size)
    grey = as_grey(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    settings = inference_settings(config, bundle, DEFAULTS)
    crf = config.crf or DenseCRFConfig(**bundle.config.get("inference", {}).get("crf", {}))
    marginals = dense_crf(probabilities, grey, crf)
    labels = separate_chan_vese(grey, marginals[1] > 0.5, **settings)
    details = {**settings, "crf": dataclasses.asdict(crf), **bundle_details(bundle), "input_size": size}
    return to_segmentation(labels, marginals[1], image.shape[:2], method=METHOD, details=details)
