"""What the training loop needs to know about each trainable method: its network, loss, default
learning rate, augmentations, how to start from given weights, and how to ship the result.

``bpartis``: the ERFNet spatial-embedding network and its loss (Yildirim & Cole 2021).
``unet`` / ``dilated-unet-crf``: the learned baselines' U-Nets, trained on particle vs background with
(binary) cross-entropy and Adam at lr 1e-4, with rotation, elastic distortion and zoom augmentation.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError, SettingsError
from ..models.registry import ModelBundle, write_bundle
from .bundle import training_summary

log = logging.getLogger(__name__)

#: Loss weight of the pixels where two particles touch (Ronneberger et al. weight separation borders
#: so that the network learns to keep touching particles apart; here a constant on a 2-px band).
SEPARATION_WEIGHT = 5.0


@dataclass(frozen=True)
class TrainTask:
    """A trainable method. ``build()`` gives a freshly initialised network; ``loss(outputs, labels)``
    takes the network's (B, C, H, W) float32 outputs and (B, H, W) int64 instance maps;
    ``initialise(network, source)`` loads starting weights; ``export(state, out_dir, name)`` writes a
    training checkpoint's weights as a model bundle; ``augmentation`` holds extra
    :class:`~imagedataextractor.train.data.AugmentedCrops` arguments."""

    method: str
    build: Callable[[], nn.Module]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    initialise: Callable[[nn.Module, str], None]
    export: Callable[[dict, Path, str], ModelBundle]
    lr: float
    augmentation: dict = field(default_factory=dict)


def separation_targets(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Particle targets and per-pixel loss weights from (B, H, W) int instance maps.

    Target 1 on particles, 0 on background and on the pixels of a particle that have another
    particle among their 8 neighbours (so touching particles stay apart); weight
    :data:`SEPARATION_WEIGHT` on those pixels, 1 elsewhere. Returns two (B, H, W) float tensors.
    """
    ids = labels.float().unsqueeze(1)
    particle = labels > 0
    beyond = float(labels.max()) + 1.0
    highest = F.max_pool2d(ids, 3, stride=1, padding=1)[:, 0]
    lowest = -F.max_pool2d(-torch.where(particle.unsqueeze(1), ids, torch.full_like(ids, beyond)), 3, stride=1, padding=1)[:, 0]
    border = particle & ((highest != ids[:, 0]) | (lowest != ids[:, 0]))
    target = (particle & ~border).float()
    return target, 1.0 + (SEPARATION_WEIGHT - 1.0) * border.float()


def foreground_loss(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Weighted particle-vs-background loss: binary cross-entropy on a (B, 1, H, W) logit, or
    cross-entropy on (B, 2, H, W) softmax logits; targets and weights from :func:`separation_targets`."""
    target, weight = separation_targets(labels)
    if outputs.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(outputs[:, 0], target, weight=weight)
    return (F.cross_entropy(outputs, target.long(), reduction="none") * weight).mean()


def load_partial_weights(network: nn.Module, state: dict[str, torch.Tensor], source: str) -> int:
    """Copy every tensor of ``state`` whose name and shape match ``network``'s (e.g. pretrained encoder
    weights); the rest keep their fresh initialisation. Returns how many tensors were copied; raises
    :class:`ModelError` naming ``source`` when none match."""
    own = network.state_dict()
    matched = {k: v for k, v in state.items() if k in own and torch.is_tensor(v) and v.shape == own[k].shape}
    if not matched:
        raise ModelError(f"{source}: no tensor matches the network by name and shape (expected names like {next(iter(own))!r})")
    network.load_state_dict(matched, strict=False)
    log.info("initialised %d of %d tensors from %s", len(matched), len(own), source)
    return len(matched)


def read_state_dict(source: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict in file ``source``: a plain state_dict, or one under a "model" / "state_dict"
    key (a training checkpoint). Loaded with ``weights_only=True``."""
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign pickles
        raise ModelError(f"{source}: cannot read weights ({type(exc).__name__}: {exc})") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelError(f"{source}: not a state_dict")
    return state


def _bpartis_task() -> TrainTask:
    from ..models import resolve
    from ..segment.erfnet import BPartISNet, load_network
    from .bundle import export_bpartis
    from .losses import bpartis_loss

    def build() -> nn.Module:
        network = BPartISNet()
        network.init_output()
        return network

    def initialise(network: nn.Module, source: str) -> None:
        network.load_state_dict(load_network(resolve(source)).state_dict())

    return TrainTask("bpartis", build, bpartis_loss, initialise, export_bpartis, lr=3e-4)


def _learned_task(method: str) -> TrainTask:
    from ..models import resolve
    from ..segment.learned import NETWORKS

    spec = NETWORKS[method]

    def initialise(network: nn.Module, source: str) -> None:
        path = Path(source)
        if path.is_file():
            load_partial_weights(network, read_state_dict(path), source)
        else:
            bundle = resolve(source, arch=spec.arch)
            load_partial_weights(network, read_state_dict(bundle.weights_path), str(bundle.path))

    def export(state: dict, out_dir: Path, name: str) -> ModelBundle:
        # fp16 halves the bundle (a few MB); the network loads it back into float32.
        weights = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
        trained = state["config"]
        config = {
            "name": name,
            "version": f"epoch{state['epoch']}-{datetime.date.today():%Y%m%d}",
            "method": method,
            "input_size": trained["canvas"],
            "network": spec.network,
            "training": training_summary(state),
        }
        return write_bundle(weights, out_dir, config, arch=spec.arch)

    return TrainTask(method, spec.build, foreground_loss, initialise, export, lr=1e-4,
                     augmentation={"rotate": True, "distort_px": 8.0})


#: Methods ``ide train --method`` accepts.
TRAINABLE = ("bpartis", "unet", "dilated-unet-crf")


def training_task(method: str) -> TrainTask:
    """The :class:`TrainTask` of ``method`` (one of :data:`TRAINABLE`)."""
    if method == "bpartis":
        return _bpartis_task()
    if method in TRAINABLE:
        return _learned_task(method)
    raise SettingsError(f"method: cannot train {method!r}; choose from {', '.join(TRAINABLE)}")
