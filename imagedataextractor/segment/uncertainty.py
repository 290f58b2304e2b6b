"""Epistemic uncertainty from Monte Carlo dropout samples, and the per-instance uncertainty filter."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_EPS = 1e-6
#: The logit of 1 - _EPS: logits clamped to +-this are probabilities clamped to [_EPS, 1 - _EPS].
_LOGIT_LIMIT = math.log((1.0 - _EPS) / _EPS)


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of Bernoulli probabilities, elementwise; p clamped to [1e-6, 1 - 1e-6]."""
    p = p.clamp(_EPS, 1.0 - _EPS)
    return -(p * torch.log(p) + (1.0 - p) * torch.log1p(-p))


def logit_entropy(logits: torch.Tensor) -> torch.Tensor:
    """:func:`binary_entropy` of ``sigmoid(logits)``, elementwise, computed from the logits as
    softplus(l) - l * sigmoid(l): fewer passes over the data (it runs on every MC sample's
    512 x 512 seed map) and no log of a rounded probability."""
    logits = logits.clamp(-_LOGIT_LIMIT, _LOGIT_LIMIT)
    return F.softplus(logits) - logits * torch.sigmoid(logits)


def mutual_information(samples: torch.Tensor) -> torch.Tensor:
    """BALD mutual information from seed probabilities of T samples (T, ...) -> (...).

    Entropy of the mean probability minus the mean of the per-sample entropies: zero when all
    samples agree, up to log 2 when they disagree completely.
    """
    return binary_entropy(samples.mean(0)) - binary_entropy(samples).mean(0)


def instance_uncertainty(labels: torch.Tensor, uncertainty: torch.Tensor) -> torch.Tensor:
    """Mean uncertainty of each instance: labels (H, W) ids 0..n, 0 = background -> (n,)."""
    n = int(labels.max()) if labels.numel() else 0
    flat = labels.reshape(-1)
    sums = torch.zeros(n + 1, dtype=torch.float64).index_add_(0, flat, uncertainty.reshape(-1).double())
    counts = torch.bincount(flat, minlength=n + 1).clamp(min=1)
    return (sums / counts)[1:].float()


def filter_uncertain(labels: torch.Tensor, uncertainty: torch.Tensor, tu: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove instances whose mean uncertainty is not below ``tu``; relabel the rest 1..m in order.

    Returns (labels (H, W), kept (n,) bool mask over the input ids 1..n).
    """
    kept = instance_uncertainty(labels, uncertainty) < tu
    return keep_instances(labels, kept), kept


def keep_instances(labels: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """``labels`` (H, W) ids 0..n with the instances where ``kept`` (n,) bool is False made
    background and the rest relabelled 1..m in order."""
    new_ids = torch.zeros(len(kept) + 1, dtype=labels.dtype)
    new_ids[1:][kept] = torch.arange(1, int(kept.sum()) + 1, dtype=labels.dtype)
    return new_ids[labels]
