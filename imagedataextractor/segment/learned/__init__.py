"""Learned segmentation baselines for the method comparison, trained with ``ide train --method NAME``.

Every method has the signature ``segment_<name>(image, *, config=<Name>Config()) -> Segmentation``
with ``image`` an (H, W, 3) uint8 RGB array, and loads its model bundle (``config.model``; default
the shipped ``<name>-emps``) once per process. :data:`LEARNED` maps method names to them and
:data:`LEARNED_CONFIGS` to their config classes.
"""

from __future__ import annotations

from collections.abc import Callable

from ..types import Segmentation
from ._model import NETWORKS, NetworkSpec, load_learned
from .crf import DenseCRFConfig, dense_crf
from .dilated_unet_crf import DilatedUNetCRFConfig, segment_dilated_unet_crf, separate_chan_vese
from .networks import UNet
from .unet import UNetConfig, segment_unet, separate_instances

LEARNED: dict[str, Callable[..., Segmentation]] = {
    "unet": segment_unet,
    "dilated-unet-crf": segment_dilated_unet_crf,
}
LEARNED_CONFIGS: dict[str, type] = {"unet": UNetConfig, "dilated-unet-crf": DilatedUNetCRFConfig}

__all__ = [
    "LEARNED",
    "LEARNED_CONFIGS",
    "NETWORKS",
    "DenseCRFConfig",
    "DilatedUNetCRFConfig",
    "NetworkSpec",
    "UNet",
    "UNetConfig",
    "dense_crf",
    "load_learned",
    "segment_dilated_unet_crf",
    "segment_unet",
    "separate_chan_vese",
    "separate_instances",
]
