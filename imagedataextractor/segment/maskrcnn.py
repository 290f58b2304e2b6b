"""Mask R-CNN (He et al. 2017, torchvision) adapted to particles as in Monchot et al., "Deep
learning based instance segmentation of titanium dioxide particles in the form of agglomerates in
scanning electron microscopy", Nanomaterials 11, 968 (2021): small anchors (8-96 px, one size per
FPN level), many detections per image, a strict detection NMS (0.3), a minimum confidence of 0.5
and a mask head at twice torchvision's resolution (28x28 RoIAlign, 56x56 masks).

torchvision is an optional extra (``pip install -e ".[maskrcnn]"``); it is imported only inside
the functions here, so the rest of the package never needs it. Since no pretrained weights can be
downloaded, the backbone defaults to a small one (MobileNetV3-small, a few MB in fp16) that trains
from scratch on a CPU; training can start from a user's local ImageNet or COCO weights
(``ide train --method maskrcnn --init-weights FILE``).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError
from ..imageio import as_rgb
from ..models.registry import ModelBundle, load_weights, resolve, write_bundle
from .types import Segmentation

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Architecture tag of Mask R-CNN bundles (config.json "arch").
ARCHITECTURE = "maskrcnn-fpn-v1"
DEFAULT_MODEL = "maskrcnn-emps"
#: How to get torchvision: the one torch/torchvision pair known to load together here.
INSTALL_COMMAND = 'pip install torch==2.14.1 torchvision==0.29.1 && pip install -e ".[maskrcnn]"'
BACKBONES = ("mobilenet_v3_small", "mobilenet_v3_large", "resnet18", "resnet34", "resnet50")


def require_torchvision():
    """The torchvision module, or :class:`ModelError` saying how to install the extra."""
    try:
        import torchvision
    except Exception as exc:  # ImportError, or a torchvision built against another torch
        raise ModelError(f"method 'maskrcnn' needs the optional extra 'maskrcnn' (torchvision: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'not importable'}); install it with: {INSTALL_COMMAND}") from None
    return torchvision


@dataclass(frozen=True)
class MaskRCNNArch:
    """The network and its detection settings, stored in a bundle's config.json under "network".

    backbone: one of :data:`BACKBONES`; fpn_channels: width of the FPN and heads.
    anchor_sizes: anchor side per FPN level (strides 4, 8, 16, 32, 64), px at ``input_size``.
    input_size: images are scaled so their short side is this many px (long side at most twice).
    detections_per_image: most instances kept per image; nms_threshold: IoU above which the
        lower-scored of two detections is dropped; score_threshold: minimum confidence.
    mask_roi_size: RoIAlign size of the mask head; masks come out at twice this size.
    box_representation: width of the box head's two fully connected layers.
    """

    backbone: str = "mobilenet_v3_small"
    fpn_channels: int = 64
    anchor_sizes: tuple[int, ...] = (8, 16, 32, 64, 96)
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    input_size: int = 512
    detections_per_image: int = 1000
    nms_threshold: float = 0.3
    score_threshold: float = 0.5
    mask_roi_size: int = 28
    box_representation: int = 256

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ModelError(f"unknown Mask R-CNN backbone {self.backbone!r}; choose from {', '.join(BACKBONES)}")
        if len(self.anchor_sizes) != 5:
            raise ModelError(f"anchor_sizes needs one size per FPN level (5), got {self.anchor_sizes}")

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> MaskRCNNArch:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ModelError(f"unknown Mask R-CNN settings in config.json: {', '.join(sorted(unknown))}")
        converted: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**converted)


@dataclass(frozen=True)
class MaskRCNNConfig:
    """Settings of Mask R-CNN inference. model: bundle name or directory (default
    :data:`DEFAULT_MODEL`); score_threshold: None takes the bundle's (0.5)."""

    model: str | None = None
    score_threshold: float | None = None
    device: str = "cpu"


def _feature_levels(features: nn.Sequential) -> tuple[dict[str, str], list[int]]:
    """Return layers (for BackboneWithFPN) and channels of the last block at strides 4, 8, 16, 32
    of a MobileNetV3 feature extractor, found by running a small tensor through it."""
    import torch

    x = torch.zeros(1, 3, 64, 64)
    last: dict[int, tuple[str, int]] = {}
    features.eval()  # leave the batch-norm statistics untouched
    with torch.no_grad():
        for name, block in features.named_children():
            x = block(x)
            last[64 // x.shape[-1]] = (name, x.shape[1])
    features.train()
    chosen = [last[stride] for stride in (4, 8, 16, 32)]
    return {name: str(i) for i, (name, _) in enumerate(chosen)}, [channels for _, channels in chosen]


def _backbone(arch: MaskRCNNArch) -> nn.Module:
    """A feature pyramid (strides 4-32 plus a max-pooled level at 64) on the trunk of the named
    torchvision classifier, randomly initialised."""
    torchvision = require_torchvision()
    from torchvision.models.detection.backbone_utils import BackboneWithFPN

    classifier = getattr(torchvision.models, arch.backbone)(weights=None)
    if arch.backbone.startswith("resnet"):
        widths = [64, 128, 256, 512] if arch.backbone in ("resnet18", "resnet34") else [256, 512, 1024, 2048]
        layers = {f"layer{i + 1}": str(i) for i in range(4)}
        return BackboneWithFPN(classifier, layers, widths, arch.fpn_channels)
    layers, widths = _feature_levels(classifier.features)
    return BackboneWithFPN(classifier.features, layers, widths, arch.fpn_channels)


def imagenet_to_maskrcnn(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a torchvision ImageNet classifier's state_dict (resnet ``conv1.weight``, MobileNet
    ``features.0.0.weight``) to this model's backbone names (``backbone.body.*``); the classifier
    head's tensors get names the model does not have."""
    return {"backbone.body." + key.removeprefix("features."): value for key, value in state.items()}


def build_maskrcnn(arch: MaskRCNNArch = MaskRCNNArch()) -> nn.Module:
    """torchvision's MaskRCNN for one class (particle) with the settings of ``arch``, randomly
    initialised (see :func:`imagenet_to_maskrcnn` for a user's pretrained weights).

    In eval mode the model takes a list of (3, H, W) float tensors in [0, 1] and returns, per image,
    boxes (N, 4) in input px, scores (N,), labels and masks (N, 1, H, W).
    """
    require_torchvision()
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    levels = ["0", "1", "2", "3"]
    width = arch.fpn_channels
    anchors = AnchorGenerator(tuple((size,) for size in arch.anchor_sizes), (arch.aspect_ratios,) * len(arch.anchor_sizes))
    return MaskRCNN(
        _backbone(arch),
        num_classes=None,  # set by the two-class (background, particle) predictors below
        min_size=arch.input_size,
        max_size=2 * arch.input_size,
        rpn_anchor_generator=anchors,
        # enough proposals to leave room for detections_per_image particles after NMS
        rpn_pre_nms_top_n_test=2 * arch.detections_per_image,
        rpn_post_nms_top_n_test=2 * arch.detections_per_image,
        box_roi_pool=MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(width * 7 * 7, arch.box_representation),
        box_predictor=FastRCNNPredictor(arch.box_representation, 2),
        box_score_thresh=arch.score_threshold,
        box_nms_thresh=arch.nms_threshold,
        box_detections_per_img=arch.detections_per_image,
        mask_roi_pool=MultiScaleRoIAlign(levels, output_size=arch.mask_roi_size, sampling_ratio=2),
        mask_head=MaskRCNNHeads(width, [width] * 4, 1),
        # its 2x transposed convolution gives masks of 2 * mask_roi_size (56 px by default)
        mask_predictor=MaskRCNNPredictor(width, width, 2),
    )


def use_image_statistics(model: nn.Module) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
    """Make every batch norm of ``model`` normalise with the statistics of its input (at inference:
    of the one image) instead of its running averages, as in training, where it normalises each
    batch of crops with that batch's statistics. Trained from scratch for a few epochs, the running
    averages (MobileNetV3 updates them with momentum 0.01) lag far behind the weights: with them the
    shipped 4-epoch model's EMPS validation loss is 1.61 and hardly any score passes 0.5, with each
    image's own statistics 1.23. Returns the removed (running_mean, running_var) pairs, in order."""
    from torch import nn

    removed = []
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            removed.append((module.running_mean, module.running_var))
            module.running_mean = module.running_var = None
    return removed


def write_maskrcnn_bundle(state: dict[str, torch.Tensor], arch: MaskRCNNArch, out_dir: str | Path, config: dict[str, Any]) -> ModelBundle:
    """Save a Mask R-CNN state_dict (floating tensors in float16, half the file) and ``arch`` as a
    bundle; ``config`` adds name, version and provenance."""
    weights = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return write_bundle(weights, out_dir, {**config, "network": asdict(arch)}, arch=ARCHITECTURE)


@functools.lru_cache(maxsize=2)
def _load_model(weights_path: Path, sha256: str, mtime: float, network: str, device: str):
    import json

    arch = MaskRCNNArch.from_json(json.loads(network))
    model = load_weights(build_maskrcnn(arch), weights_path, sha256, device, what="Mask R-CNN of config.json")
    use_image_statistics(model)
    return model, arch


def load_maskrcnn(model: str | Path | None = None, device: str = "cpu") -> tuple[nn.Module, MaskRCNNArch, ModelBundle]:
    """The named bundle's Mask R-CNN in eval mode (loaded once per process and device, after
    checking the sha256), its settings and the bundle."""
    import json

    require_torchvision()
    bundle = resolve(model or DEFAULT_MODEL, arch=ARCHITECTURE)
    weights = bundle.weights_path
    network = json.dumps(bundle.config.get("network", {}), sort_keys=True)
    net, arch = _load_model(weights, str(bundle.config.get("sha256")), weights.stat().st_mtime, network, device)
    return net, arch, bundle


def paste_instances(boxes: np.ndarray, masks: np.ndarray, scores: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Turn detections into an instance map.

    boxes: (N, 4) x0, y0, x1, y1 in px of the output image; masks: (N, M, M) probabilities over
    each box; scores: (N,). Each mask is warped onto its box and thresholded at 0.5; where
    instances overlap the higher-scored one wins. Returns ((H, W) uint16 labels with ids 1..n,
    ordered by decreasing score, and their (n,) float32 scores); detections left with no pixel are
    dropped.
    """
    import cv2

    height, width = shape
    labels = np.zeros(shape, np.int32)
    order = np.argsort(-scores, kind="stable")
    size = masks.shape[-1]
    # paint lowest score first, so the highest-scored instance owns shared pixels
    for rank in order[::-1]:
        x0, y0, x1, y1 = boxes[rank]
        left, top = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        right, bottom = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
        if right <= left or bottom <= top:
            continue
        sx, sy = (x1 - x0) / size, (y1 - y0) / size
        # mask pixel centre (u + 0.5) / size spans the box; cv2 maps pixel centres to pixel centres
        warp = np.array([[sx, 0.0, x0 - left + 0.5 * sx - 0.5], [0.0, sy, y0 - top + 0.5 * sy - 0.5]], np.float32)
        patch = cv2.warpAffine(masks[rank].astype(np.float32), warp, (right - left, bottom - top), flags=cv2.INTER_LINEAR)
        labels[top:bottom, left:right][patch >= 0.5] = rank + 1
    present = np.zeros(len(scores) + 1, bool)
    present[np.unique(labels)] = True
    kept = [rank for rank in order if present[rank + 1]]
    lookup = np.zeros(len(scores) + 1, np.int32)
    lookup[np.array(kept, np.int64) + 1] = np.arange(1, len(kept) + 1)
    return lookup[labels].astype(np.uint16), scores[kept].astype(np.float32)


def segment_maskrcnn(image: np.ndarray, *, config: MaskRCNNConfig = MaskRCNNConfig()) -> Segmentation:
    """Segment particles with Mask R-CNN.

    image: (H, W, 3) uint8 RGB (greyscale/RGBA converted). Returns labels (H, W) uint16 at the
    input's size and per-instance confidences ``scores`` (indexed by id - 1); no uncertainty map.
    Raises :class:`ModelError` when torchvision (the ``maskrcnn`` extra) or the model is missing.
    """
    import torch

    image = as_rgb(image)
    model, arch, bundle = load_maskrcnn(config.model, config.device)
    threshold = arch.score_threshold if config.score_threshold is None else config.score_threshold
    tensor = torch.from_numpy(image.copy()).permute(2, 0, 1).float().div(255.0).to(config.device)  # copy: torch warns on read-only arrays
    model.roi_heads.score_thresh = threshold  # type: ignore[union-attr]  # torch types a submodule reached by attribute as Tensor | Module
    with torch.inference_mode():
        # the model's own steps minus its final pasting of every mask at full image size, which
        # would need N x H x W floats (700 MB for a 500-particle EMPS image)
        batch, _ = model.transform([tensor])  # type: ignore[operator]  # torch types a submodule reached by attribute as Tensor | Module
        features = model.backbone(batch.tensors)  # type: ignore[operator]  # torch types a submodule reached by attribute as Tensor | Module
        proposals, _ = model.rpn(batch, features)  # type: ignore[operator]  # torch types a submodule reached by attribute as Tensor | Module
        detections = model.roi_heads(features, proposals, batch.image_sizes)[0][0]  # type: ignore[operator]  # torch types a submodule reached by attribute as Tensor | Module
    scale = np.array([image.shape[1] / batch.image_sizes[0][1], image.shape[0] / batch.image_sizes[0][0]] * 2, np.float32)
    labels, scores = paste_instances(detections["boxes"].cpu().numpy() * scale, detections["masks"][:, 0].cpu().numpy(),
                                     detections["scores"].cpu().numpy(), image.shape[:2])
    details = {"model": bundle.name, "version": bundle.version, "score_threshold": threshold,
               "nms_threshold": arch.nms_threshold, "detections_per_image": arch.detections_per_image,
               "input_size": arch.input_size, "backbone": arch.backbone}
    return Segmentation(labels=labels, scores=scores, method="maskrcnn", details=details)
