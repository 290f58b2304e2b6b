"""The BPartIS loss: a perfect prediction scores lower than a wrong one; Lovasz hinge basics; the
sparse implementation against the dense formula."""

import torch

from imagedataextractor.segment.embedding import SIGMA_SCALE, coordinate_map, embed
from imagedataextractor.train.losses import PHI_FLOOR, LossWeights, bpartis_loss, instance_hinge, lovasz_hinge


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


def _dense_reference_loss(raw, labels, weights=LossWeights()):
    """The loss of the module docstring, every (instance, pixel) pair taken: the oracle for the
    sparse implementation. Returns the loss and phi (K, H, W)."""
    size = labels.shape[-1]
    embedding, sigma, seed = embed(raw)
    coords = coordinate_map(size, size)
    ids = [int(k) for k in labels.unique() if k > 0]
    members = torch.stack([labels == k for k in ids]).float()  # (K, H, W)
    counts = members.sum((1, 2))
    centres = (coords[:, None] * members).sum((2, 3)) / counts  # (2, K)
    sigma_means = (sigma[:, None] * members).sum((2, 3)) / counts
    bandwidth = torch.exp(SIGMA_SCALE * sigma_means)
    phi = torch.exp(-((embedding[:, None] - centres[..., None, None]).pow(2) * bandwidth[..., None, None]).sum(0))
    instance = lovasz_hinge(2 * phi.reshape(len(ids), -1) - 1, members.reshape(len(ids), -1)).mean()
    smooth = (((sigma[:, None] - sigma_means.detach()[..., None, None]).pow(2).sum(0) * members).sum((1, 2)) / (2 * counts)).mean()
    own_phi = (phi.detach() * members).sum(0)
    seed_sum = (seed.pow(2) * (labels == 0)).sum() + weights.foreground_seed * ((seed - own_phi).pow(2) * (labels > 0)).sum()
    return weights.instance * instance + weights.smoothness * smooth + weights.seed * seed_sum / labels.numel(), phi.detach()


def _blob_raw(labels, generator):
    """Offsets roughly towards each instance's centre plus noise: phi near 0 far from the instances,
    as on a trained model, so the sparse loss leaves pixels out."""
    raw = _perfect_raw(labels) + 0.3 * torch.randn(5, *labels.shape, generator=generator)
    raw[2:4] = 0.2 * torch.randn(2, *labels.shape, generator=generator) + 0.6
    return raw


def test_instance_hinge_with_every_pair_equals_the_dense_hinge():
    generator = torch.Generator().manual_seed(0)
    phi = torch.rand(4, 50, generator=generator)
    member = torch.rand(4, 50, generator=generator) > 0.7
    rows = torch.arange(4).repeat_interleave(50)
    sparse = instance_hinge(phi.reshape(-1), member.reshape(-1), rows, 4)
    torch.testing.assert_close(sparse, lovasz_hinge(2 * phi - 1, member.float()))


def test_sparse_loss_matches_the_dense_loss_and_its_gradient():
    generator = torch.Generator().manual_seed(1)
    labels = _instances()
    raw = _blob_raw(labels, generator).requires_grad_(True)
    reference, phi = _dense_reference_loss(raw, labels)
    (reference_grad,) = torch.autograd.grad(reference, raw)
    loss = bpartis_loss(raw[None], labels[None])
    (grad,) = torch.autograd.grad(loss, raw)
    # Left-out pairs (phi <= PHI_FLOOR) change each instance's hinge by at most ~4 PHI_FLOOR.
    assert abs(loss.item() - reference.item()) <= 4 * PHI_FLOOR
    torch.testing.assert_close(grad, reference_grad, atol=1e-4, rtol=1e-3)
    exact = bpartis_loss(raw[None], labels[None], phi_floor=None)
    torch.testing.assert_close(exact, reference)
    # The case is not trivial: most pairs are left out, and the loss is far from 0.
    outside = torch.stack([labels != k for k in (1, 2)])
    assert ((phi <= PHI_FLOOR) & outside).float().mean() > 0.5
    assert reference.item() > 0.05


def test_sparse_loss_equals_the_dense_loss_when_no_pair_is_left_out():
    labels = _instances()
    raw = torch.zeros(5, 32, 32, requires_grad=True)  # phi = exp(-|e - mu|^2) > 0.1 everywhere
    torch.testing.assert_close(bpartis_loss(raw[None], labels[None]), _dense_reference_loss(raw, labels)[0])
