"""Pixel embeddings shared by training and inference.

A pixel's embedding is tanh(offset) + its coordinates, coordinates being the pixel index times
:data:`COORD_STEP`: a 512-pixel canvas spans [0, 1] as in the original BPartIS, and a 256-pixel
training crop of it keeps the same spacing, so a model trained on crops clusters full images.
"""

from __future__ import annotations

import torch

CANVAS = 512
COORD_STEP = 1.0 / (CANVAS - 1)
#: Sigma channels are used as exp(SIGMA_SCALE * s).
SIGMA_SCALE = 10.0


def coordinate_map(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2, height, width) map of (x, y) pixel coordinates in embedding units."""
    ys = torch.arange(height, device=device, dtype=torch.float32) * COORD_STEP
    xs = torch.arange(width, device=device, dtype=torch.float32) * COORD_STEP
    return torch.stack([xs.view(1, -1).expand(height, width), ys.view(-1, 1).expand(height, width)])


def embed(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split raw outputs (5, H, W) into embeddings (2, H, W), raw sigmas (2, H, W), seed probabilities (H, W)."""
    height, width = raw.shape[-2:]
    embedding = torch.tanh(raw[0:2]) + coordinate_map(height, width, raw.device)
    return embedding, raw[2:4], torch.sigmoid(raw[4])
