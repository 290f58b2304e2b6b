"""Settings of the segmentation stage, without importing torch: the runner validates and hashes
them before (and whether or not) a network runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .precision import PRECISION_CHOICES

#: BPartIS in the paper's three modes, by method name: the settings each name implies.
BPARTIS_MODES: dict[str, dict[str, Any]] = {
    "bpartis": {"mode": "bayesian", "filter_uncertain": True},
    "bpartis-bayesian": {"mode": "bayesian", "filter_uncertain": False},
    "bpartis-discriminative": {"mode": "discriminative", "filter_uncertain": False},
}
#: Every segmentation method name: BPartIS modes, classical baselines, learned baselines, Mask R-CNN
#: (:func:`imagedataextractor.segment.segment` dispatches on them).
METHODS = (*BPARTIS_MODES, "ide1", "gmm", "watershed", "unet", "dilated-unet-crf", "maskrcnn")
#: The methods that run a network: on a cluster they go to GPU workers when there are any.
LEARNED_METHODS = (*BPARTIS_MODES, "unet", "dilated-unet-crf", "maskrcnn")
#: BPartIS inference precisions ("auto" is resolved from the CPU by :func:`.precision.resolve_precision`).
PRECISION_NAMES = PRECISION_CHOICES


@dataclass(frozen=True)
class BPartISConfig:
    """Settings of BPartIS inference. ``None`` takes the model bundle's default.

    mode: "bayesian" (MC dropout, T samples) or "discriminative" (one pass, dropout off).
    n_samples: T, Monte Carlo samples (Bayesian mode).
    tu: uncertainty threshold (nats); instances whose mean mutual information is not below it are
        removed. ``filter_uncertain=False`` keeps them (the paper's "Bayesian" row).
    keep_border: keep particles touching the image border (removed by default: they are cut off).
    seed: seed of the dropout masks; results are reproducible for a given seed and batch_size
        (masks are drawn per batch, so another batch_size gives other, equally valid, samples).
    batch_size: MC samples per forward batch; small batches stay in cache (3 was fastest on a
        2-core CPU, 10 was 1.4x slower).
    precision: one of :data:`PRECISION_NAMES`: "bf16" (bfloat16 weights and activations, about 1.6x
        faster on CPUs with AVX512-BF16 or AMX; every reduction over samples stays float32), "fp32",
        or "auto" (the default): bf16 on CPUs with native bf16 arithmetic, else fp32 (see
        :func:`~imagedataextractor.segment.precision.resolve_precision`); the precision used is in
        the result's ``details["precision"]``.
    compile: run the per-sample part of the network compiled by ``torch.compile`` (see
        :func:`compile_sampling`): the same dropout masks, outputs equal up to rounding, faster
        after about 12 s of compiling once per process (needs a C++ compiler; without one, a
        warning and the eager network).
    flips: Bayesian mode: spread the T samples over the image and its three flips (test-time
        augmentation at the same number of passes; see :func:`mc_outputs`).
    """

    model: str | None = None
    mode: Literal["bayesian", "discriminative"] = "bayesian"
    n_samples: int | None = None
    tu: float | None = None
    filter_uncertain: bool = True
    keep_border: bool = False
    seed: int = 0
    batch_size: int = 3
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    compile: bool = False
    device: str = "cpu"
    flips: bool | None = None
