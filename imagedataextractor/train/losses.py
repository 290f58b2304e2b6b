"""The BPartIS / spatial-embedding loss (Neven et al. 2019; Yildirim & Cole 2021), batched over instances.

For each ground-truth instance k with pixel set S_k: centre mu_k = mean coordinate of S_k, bandwidth
sigma_k = mean sigma over S_k, phi_k(x) = exp(-sum((e(x) - mu_k)^2 * exp(10 sigma_k))). The loss is
  w_instance * mean_k LovaszHinge(2 phi_k - 1, S_k)
+ w_smooth   * mean_k mean_{S_k} (sigma - sigma_k)^2
+ w_seed     * [sum_bg seed^2 + fg_weight * sum_k sum_{S_k} (seed - phi_k)^2] / (H W)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..segment.embedding import SIGMA_SCALE, coordinate_map, embed

#: Instances per chunk when building the (K, H*W) phi matrix, to bound memory.
INSTANCE_CHUNK = 48


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


def _image_loss(raw: torch.Tensor, instances: torch.Tensor, weights: LossWeights) -> torch.Tensor:
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
    for start in range(0, n_instances, INSTANCE_CHUNK):
        stop = min(start + INSTANCE_CHUNK, n_instances)
        diff = embedding.unsqueeze(1) - centres[:, start:stop].unsqueeze(2)  # (2, k, P)
        phi = torch.exp(-(diff.pow(2) * bandwidth[:, start:stop].unsqueeze(2)).sum(0))  # (k, P)
        member = (instance_index.unsqueeze(0) == torch.arange(start, stop, device=raw.device).unsqueeze(1)).float()
        instance_loss = instance_loss + lovasz_hinge(2 * phi - 1, member).sum()
        own_phi = (phi.detach() * member).sum(0)  # phi of each pixel's own instance, 0 elsewhere
        in_chunk = member.sum(0) > 0
        fg_seed_loss = fg_seed_loss + (seed[in_chunk] - own_phi[in_chunk]).pow(2).sum()
    seed_loss = (seed_loss + weights.foreground_seed * fg_seed_loss) / (height * width)
    return (
        weights.instance * instance_loss / n_instances
        + weights.smoothness * smooth_loss
        + weights.seed * seed_loss
    )


def bpartis_loss(raw: torch.Tensor, instances: torch.Tensor, weights: LossWeights = LossWeights()) -> torch.Tensor:
    """Mean loss over a batch. raw: (N, 5, H, W) network outputs; instances: (N, H, W) integer maps, 0 = background."""
    return torch.stack([_image_loss(raw[i], instances[i], weights) for i in range(raw.shape[0])]).mean()
