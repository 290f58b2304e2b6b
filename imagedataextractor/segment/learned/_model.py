"""The learned baselines' networks as model bundles: specification, loading (once, cached), inference."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...models.registry import ModelBundle, load_weights, resolve
from .networks import UNet


@dataclass(frozen=True)
class NetworkSpec:
    """A learned method's network: bundle architecture tag, default bundle name, and the
    :class:`~.networks.UNet` arguments (``classes`` 1: sigmoid + BCE; 2: softmax + cross-entropy)."""

    arch: str
    default_model: str
    network: dict = field(default_factory=dict)

    def build(self, network: dict | None = None) -> UNet:
        """A freshly initialised network (from ``network`` if given, e.g. a bundle's, else the spec's)."""
        kwargs = {**self.network, **(network or {})}
        return UNet(width=int(kwargs["width"]), levels=int(kwargs["levels"]), atrous=tuple(int(r) for r in kwargs["atrous"]),
                    classes=int(kwargs["classes"]))


#: Method name -> its network. Base width 16 and 4 levels keep training feasible on a CPU.
NETWORKS = {
    "unet": NetworkSpec("unet-v1", "unet-emps", {"width": 16, "levels": 4, "atrous": [], "classes": 1}),
    "dilated-unet-crf": NetworkSpec("dilated-unet-v1", "dilated-unet-crf-emps",
                                    {"width": 16, "levels": 4, "atrous": [4, 16, 32], "classes": 2}),
}


@functools.lru_cache(maxsize=4)
def _load(weights_path: Path, sha256: str, mtime: float, method: str, network_json: str, device: str) -> UNet:
    network = NETWORKS[method].build(json.loads(network_json))
    return load_weights(network, weights_path, sha256, device, what=f"{method} network")


def load_learned(method: str, model: str | Path | None = None, device: str = "cpu") -> tuple[ModelBundle, UNet]:
    """The bundle ``model`` (name or directory; default the method's shipped one) and its network in
    eval mode, loaded once per process (cached) after checking the sha256 and architecture."""
    spec = NETWORKS[method]
    bundle = resolve(model or spec.default_model, arch=spec.arch)
    network = json.dumps(bundle.config.get("network", spec.network), sort_keys=True)
    weights = bundle.weights_path
    return bundle, _load(weights, str(bundle.config.get("sha256")), weights.stat().st_mtime, method, network, device)


def class_probabilities(network: UNet, image: np.ndarray, size: int) -> np.ndarray:
    """Per-pixel class probabilities of ``network`` on an (H, W, 3) uint8 RGB image resized
    (bicubic) to size x size: (2, size, size) float32, channel 1 = particle. A one-logit network's
    sigmoid p is returned as (1 - p, p)."""
    import torch

    from ..predict import to_input

    device = next(network.parameters()).device
    with torch.inference_mode():
        logits = network(to_input(image, size).to(device))[0].float()
        if logits.shape[0] == 1:
            p = torch.sigmoid(logits[0])
            probs = torch.stack([1.0 - p, p])
        else:
            probs = torch.softmax(logits, dim=0)
    return probs.cpu().numpy().astype(np.float32)


def inference_settings(config: object, bundle: ModelBundle, defaults: dict) -> dict:
    """The settings named in ``defaults``: from ``config`` where not None, else from the bundle's
    config.json ``inference`` block, else ``defaults``."""
    stored = bundle.config.get("inference", {})
    return {key: value if (value := getattr(config, key)) is not None else stored.get(key, fallback)
            for key, fallback in defaults.items()}


def bundle_details(bundle: ModelBundle) -> dict:
    """The bundle's identity and its relative systematic error of sizes (``systematic_rel_sd``, 0
    when the bundle has no estimate) for a result's ``details``."""
    return {"model": bundle.name, "model_version": bundle.version, "model_sha256": bundle.config.get("sha256"),
            "systematic_rel_sd": float(bundle.config.get("systematic_rel_sd", 0.0))}


def to_segmentation(labels: np.ndarray, foreground: np.ndarray, shape: tuple[int, int], *, method: str, details: dict):
    """Instance labels found at the network's canvas -> :class:`Segmentation` at the image's ``shape``.

    labels: (S, S) int, 0 = background; foreground: (S, S) particle probability, whose mean over an
    instance is its score. Labels are resized with nearest neighbour and renumbered 1..n.
    """
    from PIL import Image

    from ..baselines.common import make_segmentation

    labels = np.asarray(labels, np.int32)
    n = int(labels.max())
    sums = np.bincount(labels.ravel(), weights=foreground.ravel(), minlength=n + 1)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    scores = (sums[1:] / np.maximum(areas[1:], 1)).astype(np.float32)
    if labels.shape != tuple(shape):
        labels = np.asarray(Image.fromarray(labels).resize((shape[1], shape[0]), Image.Resampling.NEAREST))
    return make_segmentation(labels, scores=scores, method=method, details=details)
