"""The BPartIS / spatial-embedding loss (Neven et al. 2019; Yildirim & Cole 2021), batched over instances.

For each ground-truth instance k with pixel set S_k: centre mu_k = mean coordinate of S_k, bandwidth
sigma_k = mean sigma over S_k, phi_k(x) = exp(-sum((e(x) - mu_k)^2 * exp(10 sigma_k))). The loss is
  w_instance * mean_k LovaszHinge(2 phi_k - 1, S_k)
+ w_smooth   * mean_k mean_{S_k} (sigma - sigma_k)^2
+ w_seed     * [sum_bg seed^2 + fg_weight * sum_k sum_{S_k} (seed - phi_k)^2] / (H W)

Each instance's hinge is taken over its own pixels and the others with phi_k > :data:`PHI_FLOOR`
only (within about 4e-4 of the whole image's; ``phi_floor=None`` takes every pixel), which on a
trained model makes the loss several times faster (``benchmarks/loss_speed.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..segment.embedding import SIGMA_SCALE, coordinate_map, embed

#: Instances per chunk when finding the (instance, pixel) pairs of the loss, to bound memory.
INSTANCE_CHUNK = 48
#: Pixels outside an instance with phi at most this are left out of its Lovasz hinge (see
#: :func:`_relevant_pairs`).
PHI_FLOOR = 1e-4


@dataclass(frozen=True)
class LossWeights:
    instance: float = 1.0
    seed: float = 1.0
    smoothness: float = 10.0
    foreground_seed: float = 10.0


def lovasz_hinge(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Lovasz hinge loss (Berman et al. 2018) for each row: logits, labels (K, P) -> (K,)."""
    signs = 2.0 * labels - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, order = torch.sort(errors, dim=1, descending=True)
    labels_sorted = torch.gather(labels, 1, order)
    positives = labels_sorted.sum(1, keepdim=True)
    intersection = positives - labels_sorted.cumsum(1)
    union = positives + (1.0 - labels_sorted).cumsum(1)
    jaccard = 1.0 - intersection / union
    gradient = torch.cat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], 1)
    return (F.relu(errors_sorted) * gradient).sum(1)


def instance_hinge(phi: torch.Tensor, member: torch.Tensor, rows: torch.Tensor, n_instances: int) -> torch.Tensor:
    """Lovasz hinge of the logits 2 phi - 1 for each instance, over a sparse set of its pixels.

    phi, member: (N,) phi and membership (bool) of N (instance, pixel) pairs; rows: (N,) their
    instance indices in 0..n_instances-1, non-decreasing. Returns (n_instances,). Equals
    :func:`lovasz_hinge` of the dense (n_instances, pixels) rows when every pair is listed; pairs
    left out (see :func:`_relevant_pairs`) only drop their hinge errors from the sum.
    """
    lengths = torch.bincount(rows, minlength=n_instances)
    starts = torch.cumsum(lengths, 0) - lengths
    positions = torch.arange(rows.numel(), device=phi.device) - starts[rows]
    shape = (n_instances, max(int(lengths.max()), 1) if rows.numel() else 1)
    # Padding: label 0 with logit -2, hinge error -1, sorts after every real pixel and adds nothing.
    logits = phi.new_full(shape, -2.0).index_put((rows, positions), 2 * phi - 1)
    labels = phi.new_zeros(shape).index_put((rows, positions), member.to(phi.dtype))
    return lovasz_hinge(logits, labels)


def _relevant_pairs(
    embedding: torch.Tensor, centres: torch.Tensor, bandwidth: torch.Tensor, instance_index: torch.Tensor,
    phi_floor: float | None,
) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """The (instance, pixel) pairs of the instance loss, chunk by chunk of :data:`INSTANCE_CHUNK`
    instances: (start, stop, rows, cols) with rows in 0..stop-start-1 (instance start + row)
    non-decreasing and cols pixel indices. The pairs: each instance's own pixels and every other
    pixel whose phi exceeds ``phi_floor`` (every pixel when it is None).

    A pair left out has hinge error 2 phi <= 2 phi_floor, below every other pair's of its instance
    except members' as good as perfect, so it sorts at the end; since an instance's Jaccard weights
    sum to at most 1, leaving them out changes its loss by at most about 4 phi_floor. The loss then
    sorts and differentiates each instance's neighbourhood, a few thousand pixels on a trained
    model, instead of the whole image (262144 pixels at 512 x 512). Runs without autograd.
    """
    # phi > floor  <=>  sum_d bandwidth_d (e_d - centre_d)^2 < -ln(floor), a quadratic form that
    # one matrix product evaluates for every pair: [bw_x, -2 bw_x c_x, bw_y, -2 bw_y c_y, bw.c^2] . [e_x^2, e_x, e_y^2, e_y, 1],
    # in float64 because its terms cancel.
    embedding, centres, bandwidth = embedding.double(), centres.double(), bandwidth.double()
    features = torch.cat([embedding.pow(2)[:1], embedding[:1], embedding.pow(2)[1:], embedding[1:], torch.ones_like(embedding[:1])])
    quadratic = torch.stack([bandwidth[0], -2 * bandwidth[0] * centres[0], bandwidth[1], -2 * bandwidth[1] * centres[1],
                           (bandwidth * centres.pow(2)).sum(0)], 1)  # (K, 5)
    limit = math.inf if phi_floor is None else -math.log(phi_floor)
    foreground = torch.nonzero(instance_index >= 0).squeeze(1)
    foreground_instance = instance_index[foreground]
    for start in range(0, centres.shape[1], INSTANCE_CHUNK):
        stop = min(start + INSTANCE_CHUNK, centres.shape[1])
        with torch.no_grad():
            distance = quadratic[start:stop] @ features  # (k, P): -ln phi
            in_chunk = (foreground_instance >= start) & (foreground_instance < stop)
            distance[foreground_instance[in_chunk] - start, foreground[in_chunk]] = -1.0  # members always take part
            rows, cols = torch.nonzero(distance <= limit, as_tuple=True)
        yield start, stop, rows, cols


def _image_loss(raw: torch.Tensor, instances: torch.Tensor, weights: LossWeights, phi_floor: float | None) -> torch.Tensor:
    height, width = raw.shape[-2:]
    embedding, sigma, seed = embed(raw)
    embedding, sigma, seed = embedding.reshape(2, -1), sigma.reshape(2, -1), seed.reshape(-1)
    labels = instances.reshape(-1).long()
    ids, labels = torch.unique(labels, return_inverse=True)  # contiguous: 0 = background if present
    has_background = bool(ids[0] == 0)
    n_instances = len(ids) - int(has_background)
    background = labels == 0 if has_background else torch.zeros_like(labels, dtype=torch.bool)
    seed_loss = seed[background].pow(2).sum()
    if n_instances == 0:
        return weights.seed * seed_loss / (height * width) + raw.sum() * 0
    instance_index = labels - int(has_background)  # -1 for background
    foreground = instance_index >= 0
    fg_index = instance_index[foreground]

    coords = coordinate_map(height, width, raw.device).reshape(2, -1)
    counts = torch.bincount(fg_index, minlength=n_instances).float()
    centres = torch.zeros(2, n_instances, device=raw.device).index_add_(1, fg_index, coords[:, foreground]) / counts
    sigma_means = torch.zeros(2, n_instances, device=raw.device).index_add_(1, fg_index, sigma[:, foreground]) / counts
    smooth = (sigma[:, foreground] - sigma_means.detach()[:, fg_index]).pow(2).sum(0)
    smooth_loss = (torch.zeros(n_instances, device=raw.device).index_add_(0, fg_index, smooth) / (2 * counts)).mean()

    bandwidth = torch.exp(SIGMA_SCALE * sigma_means)  # (2, K)
    instance_loss = raw.new_zeros(())
    fg_seed_loss = raw.new_zeros(())
    for start, stop, rows, cols in _relevant_pairs(embedding.detach(), centres, bandwidth.detach(), instance_index, phi_floor):
        instances_of_pairs = rows + start
        phi = torch.exp(-((embedding[:, cols] - centres[:, instances_of_pairs]).pow(2) * bandwidth[:, instances_of_pairs]).sum(0))
        member = instance_index[cols] == instances_of_pairs
        instance_loss = instance_loss + instance_hinge(phi, member, rows, stop - start).sum()
        # Every foreground pixel is a member of exactly one pair: its seed is pulled to its own phi.
        fg_seed_loss = fg_seed_loss + (seed[cols[member]] - phi[member].detach()).pow(2).sum()
    seed_loss = (seed_loss + weights.foreground_seed * fg_seed_loss) / (height * width)
    return (
        weights.instance * instance_loss / n_instances
        + weights.smoothness * smooth_loss
        + weights.seed * seed_loss
    )


def bpartis_loss(
    raw: torch.Tensor, instances: torch.Tensor, weights: LossWeights = LossWeights(), *, phi_floor: float | None = PHI_FLOOR
) -> torch.Tensor:
    """Mean loss over a batch. raw: (N, 5, H, W) network outputs; instances: (N, H, W) integer maps,
    0 = background. ``phi_floor``: pixels outside an instance with phi at most this are left out
    of its Lovasz hinge (see :func:`_relevant_pairs`); None takes every pixel (the exact formula,
    many times slower on a trained model)."""
    return torch.stack([_image_loss(raw[i], instances[i], weights, phi_floor) for i in range(raw.shape[0])]).mean()
