"""Embeddings -> instance labels, the greedy seed clustering of BPartIS (after Neven et al. 2019).

Repeatedly take the unclustered foreground pixel with the highest seed score (stop below the seed
threshold), use its embedding as an instance centre and its sigma as the bandwidth, and make every
foreground pixel with phi > 0.5 a proposal; keep the proposal as an instance when it has at least
``min_size`` pixels and most of it is still unclustered; mark it clustered either way. Each step is
one vectorised pass over the foreground pixels whose embedding can lie within the bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .embedding import SIGMA_SCALE, embed


@dataclass(frozen=True)
class Clusters:
    """labels: (H, W) int64 instance map, 0 = background; scores: (n,) seed score of each instance."""

    labels: torch.Tensor
    scores: torch.Tensor


def cluster_embeddings(
    embedding: torch.Tensor,
    sigma: torch.Tensor,
    seed: torch.Tensor,
    *,
    seed_threshold: float = 0.5,
    min_size: int = 128,
) -> Clusters:
    """Cluster pixel embeddings (2, H, W), raw sigmas (2, H, W) and seed probabilities (H, W).

    ``min_size`` is in pixels of the given maps.
    """
    height, width = seed.shape
    labels = torch.zeros(height * width, dtype=torch.int64, device=seed.device)
    scores: list[float] = []
    foreground = (seed > seed_threshold).reshape(-1)
    n_foreground = int(foreground.sum())
    if n_foreground <= min_size:
        return Clusters(labels.view(height, width), torch.zeros(0))
    # Foreground pixels sorted by their embedding's x: phi > 0.5 needs (x - cx)^2 * bandwidth_x
    # < ln 2, so each step only looks at the pixels within that x window (found by binary search)
    # instead of all of them; the result is the same, crowded images cluster ~10x faster.
    pixel_index = torch.nonzero(foreground).squeeze(1)
    points = embedding.reshape(2, -1)[:, foreground]
    order = torch.argsort(points[0])
    pixel_index, points = pixel_index[order], points[:, order].contiguous()
    bandwidths = torch.exp(SIGMA_SCALE * sigma.reshape(2, -1)[:, foreground])[:, order]
    xs = points[0].contiguous()
    # Clustered pixels get -1 so argmax never picks them again.
    candidate_scores = seed.reshape(-1)[foreground][order].clone()
    unclustered = torch.ones(n_foreground, dtype=torch.bool, device=seed.device)
    local_labels = torch.zeros(n_foreground, dtype=torch.int64, device=seed.device)
    remaining = n_foreground
    while remaining > min_size:
        top = candidate_scores.max()
        score = float(top)
        if score < seed_threshold:
            break
        # Saturated seeds tie: take the first pixel in image order, as an unsorted argmax would.
        tied = torch.nonzero(candidate_scores == top).squeeze(1)
        best = int(tied[torch.argmin(pixel_index[tied])])
        centre, bandwidth = points[:, best : best + 1], bandwidths[:, best : best + 1]
        reach = (_LN2 / float(bandwidth[0])) ** 0.5 * 1.001 + 1e-6  # margin for rounding
        start = int(torch.searchsorted(xs, float(centre[0]) - reach, side="left"))
        stop = int(torch.searchsorted(xs, float(centre[0]) + reach, side="right"))
        window = slice(start, stop)
        phi = torch.exp(-((points[:, window] - centre).pow(2) * bandwidth).sum(0))
        proposal = phi > 0.5
        proposal[best - start] = True
        size = int(proposal.sum())
        fresh = unclustered[window] & proposal
        if size > min_size and int(fresh.sum()) > 0.5 * size:
            scores.append(score)
            local_labels[window][proposal] = len(scores)
        remaining -= int(fresh.sum())
        unclustered[window] &= ~proposal
        candidate_scores[window][proposal] = -1.0
    labels[pixel_index] = local_labels
    return Clusters(labels.view(height, width), torch.tensor(scores))


_LN2 = 0.6931471805599453


def cluster_outputs(raw: torch.Tensor, *, seed_threshold: float = 0.5, min_size: int = 128) -> Clusters:
    """Cluster raw network outputs (5, H, W) (offsets, sigmas, seed logit)."""
    embedding, sigma, seed = embed(raw)
    return cluster_embeddings(embedding, sigma, seed, seed_threshold=seed_threshold, min_size=min_size)
