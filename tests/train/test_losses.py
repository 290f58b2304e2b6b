"""The BPartIS loss: a perfect prediction scores lower than a wrong one; Lovasz hinge basics."""

import torch

from imagedataextractor.segment.embedding import coordinate_map
from imagedataextractor.train.losses import bpartis_loss, lovasz_hinge


def _instances(size=32):
    labels = torch.zeros(size, size, dtype=torch.int64)
    labels[4:14, 4:14] = 1
    labels[18:28, 16:30] = 2
    return labels


def _perfect_raw(labels):
    """Offsets pointing every pixel at its instance centre, tight sigma, seeds 1 on particles."""
    size = labels.shape[0]
    coords = coordinate_map(size, size)
    raw = torch.zeros(5, size, size)
    raw[2:4] = 1.0
    raw[4] = -12.0
    for k in (1, 2):
        mask = labels == k
        centre = coords[:, mask].mean(1, keepdim=True)
        raw[0:2, mask] = torch.atanh((centre - coords[:, mask]).clamp(-0.99, 0.99))
        raw[4, mask] = 12.0
    return raw


def test_perfect_prediction_scores_lower_than_wrong_ones():
    labels = _instances()
    perfect = bpartis_loss(_perfect_raw(labels)[None], labels[None])
    swapped = bpartis_loss(_perfect_raw(labels.flip(0).flip(1))[None], labels[None])
    blank = bpartis_loss(torch.zeros(1, 5, 32, 32), labels[None])
    assert perfect < 0.2 * swapped and perfect < 0.2 * blank


def test_loss_is_differentiable_and_handles_background_only():
    raw = torch.zeros(2, 5, 16, 16, requires_grad=True)
    labels = torch.zeros(2, 16, 16, dtype=torch.int64)
    labels[1, 2:8, 2:8] = 5
    loss = bpartis_loss(raw, labels)
    loss.backward()
    assert torch.isfinite(loss) and raw.grad is not None and raw.grad.abs().sum() > 0


def test_lovasz_hinge_zero_for_perfect_margin_and_positive_otherwise():
    labels = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    assert lovasz_hinge(torch.tensor([[2.0, 2.0, -2.0, -2.0]]), labels).item() == 0.0
    assert lovasz_hinge(torch.tensor([[-1.0, 1.0, 1.0, -1.0]]), labels).item() > 0.5
