"""ERFNet with two decoders, the network behind BPartIS.

Topology from Romera et al. (ERFNet, 2017) as used by Yildirim & Cole (BPartIS, 2021): one encoder,
one decoder giving 2 offset + 2 sigma channels and one giving 1 seed channel. Only the encoder's
factorised residual blocks carry dropout, so everything before the first of them (the ``stem``) is
the same for every Monte Carlo dropout sample and can be computed once.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..models.registry import ModelBundle, load_weights
from .uncertainty import logit_entropy

BN_EPS = 1e-3


def elu(x: torch.Tensor) -> torch.Tensor:
    """ERFNet's activation, in place: its inputs are fresh conv/BN/sum outputs that backward does
    not need."""
    return F.elu(x, inplace=True)


class Downsampler(nn.Module):
    """Halve the resolution: a stride-2 3x3 conv concatenated with a 2x2 max-pool, then BN + ELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return elu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class FactorisedResidual(nn.Module):
    """ERFNet's "non-bottleneck-1d" block: two (3x1, 1x3) conv pairs, the second dilated, residual."""

    def __init__(self, channels: int, dropout: float, dilation: int) -> None:
        super().__init__()
        self.conv_v1 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0))
        self.conv_h1 = nn.Conv2d(channels, channels, (1, 3), padding=(0, 1))
        self.bn1 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.conv_v2 = nn.Conv2d(channels, channels, (3, 1), padding=(dilation, 0), dilation=(dilation, 1))
        self.conv_h2 = nn.Conv2d(channels, channels, (1, 3), padding=(0, dilation), dilation=(1, dilation))
        self.bn2 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch up to (not including) its dropout."""
        y = elu(self.bn1(self.conv_h1(elu(self.conv_v1(x)))))
        return self.bn2(self.conv_h2(elu(self.conv_v2(y))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return elu(self.dropout(self.residual(x)) + x)

    def fuse_batch_norm(self) -> None:
        """Fold the (eval-mode) batch norms into the convolutions before them; inference only."""
        self.conv_h1, self.bn1 = fuse_conv_bn_eval(self.conv_h1, self.bn1), nn.Identity()  # type: ignore[assignment]  # batch norm folded into the convolution: an Identity takes its place
        self.conv_h2, self.bn2 = fuse_conv_bn_eval(self.conv_h2, self.bn2), nn.Identity()  # type: ignore[assignment]  # batch norm folded into the convolution: an Identity takes its place


class Upsampler(nn.Module):
    """Double the resolution: bilinear x2, 3x3 conv, BN, ELU (no transposed convolutions)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return elu(self.bn(self.conv(x)))

    def fuse_batch_norm(self) -> None:
        """Fold the (eval-mode) batch norm into the convolution; inference only."""
        self.conv, self.bn = fuse_conv_bn_eval(self.conv, self.bn), nn.Identity()  # type: ignore[assignment]  # batch norm folded into the convolution: an Identity takes its place


class Encoder(nn.Module):
    """Input (N, 3, H, W) -> features (N, 128, H/8, W/8)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(Downsampler(3, 16), Downsampler(16, 64))
        blocks: list[nn.Module] = [FactorisedResidual(64, 0.03, 1) for _ in range(5)]
        blocks.append(Downsampler(64, 128))
        for _ in range(2):
            blocks += [FactorisedResidual(128, 0.3, d) for d in (2, 4, 8, 16)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))


class Decoder(nn.Module):
    """Features (N, 128, H/8, W/8) -> (N, out_channels, H, W)."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            Upsampler(128, 64),
            FactorisedResidual(64, 0.0, 1),
            FactorisedResidual(64, 0.0, 1),
            Upsampler(64, 16),
            FactorisedResidual(16, 0.0, 1),
            FactorisedResidual(16, 0.0, 1),
        )
        self.head = nn.Conv2d(16, out_channels, 3, padding=1)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """The final bilinear x2 and 3x3 conv, (N, 16, H/2, W/2) -> (N, out_channels, H, W).

        Both are linear, so the mean of the projections of several samples equals the projection
        of their mean features.
        """
        return self.head(F.interpolate(features, scale_factor=2, mode="bilinear", align_corners=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.layers(x))


class Stem(NamedTuple):
    """What no dropout reaches, computed once per image: the encoder's input to its first residual
    block (N, 64, H/4, W/4) and that block's residual branch before its dropout (same shape)."""

    features: torch.Tensor
    residual: torch.Tensor

    def expand(self, count: int) -> Stem:
        """The same stem viewed as a batch of ``count`` (no copy)."""
        return Stem(*(t.expand(count, -1, -1, -1) for t in self))


class BPartISNet(nn.Module):
    """ERFNet encoder with an embedding decoder and a seed decoder.

    ``forward`` maps an image batch (N, 3, H, W), values in [0, 1], H and W multiples of 8, to raw
    outputs (N, 5, H, W): channels 0-1 offsets (tanh is applied later), 2-3 sigmas (used as
    exp(10 s)), 4 the seed logit.
    """

    N_OUTPUTS = 5

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.embedding_decoder = Decoder(4)
        self.seed_decoder = Decoder(1)

    def init_output(self) -> None:
        """Start offsets at zero and sigmas at 1 (exp(10) bandwidth), as the original training did."""
        with torch.no_grad():
            head = self.embedding_decoder.head
            head.weight.zero_()
            head.bias[0:2].fill_(0.0)  # type: ignore[index]  # the head's bias exists (built with bias=True)
            head.bias[2:4].fill_(1.0)  # type: ignore[index]  # the head's bias exists (built with bias=True)

    def stem(self, x: torch.Tensor) -> Stem:
        """The part of the network that no dropout reaches, from (N, 3, H, W) images."""
        features = self.encoder.stem(x)
        return Stem(features, self.encoder.blocks[0].residual(features))  # type: ignore[operator]  # torch types a submodule reached by attribute as Tensor | Module

    def encode(self, stem: Stem) -> torch.Tensor:
        """The encoder from :meth:`stem`'s output on: (N, 128, H/8, W/8)."""
        first = self.encoder.blocks[0]
        return self.encoder.blocks[1:](elu(first.dropout(stem.residual) + stem.features))  # type: ignore[operator]  # torch types a submodule reached by attribute as Tensor | Module

    def seed_statistics(self, encoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The seed decoder on :meth:`encode`'s output for a batch of MC samples, reduced over the
        batch: the sums of the seed logits, of the seed probabilities, of their binary entropies
        (nats) and of the foreground indicator (seed probability > 0.5), each (H, W) float32."""
        return self.seed_statistics_of_logits(self.seed_decoder(encoded)[:, 0].float())

    @staticmethod
    def seed_statistics_of_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`seed_statistics` from the seed logits (N, H, W) float32 of N samples."""
        return logits.sum(0), torch.sigmoid(logits).sum(0), logit_entropy(logits).sum(0), (logits > 0).sum(0, dtype=torch.float32)

    def from_stem(self, stem: Stem) -> torch.Tensor:
        """The rest of the network, from :meth:`stem`'s output to raw outputs (N, 5, H, W)."""
        encoded = self.encode(stem)
        return torch.cat([self.embedding_decoder(encoded), self.seed_decoder(encoded)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_stem(self.stem(x))

    def for_inference(self, dtype: torch.dtype = torch.float32) -> BPartISNet:
        """A copy for inference: batch norms folded into the convolutions, weights in ``dtype`` and
        channels_last memory (oneDNN's fast CPU layout). Dropout still works (for MC sampling)."""
        network = copy.deepcopy(self).eval()
        for module in network.modules():
            if isinstance(module, (FactorisedResidual, Upsampler)):
                module.fuse_batch_norm()
        return network.to(dtype=dtype, memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack Module.to(memory_format=...), which exists


@functools.lru_cache(maxsize=4)
def _load_network(weights_path: Path, sha256: str, mtime: float, device: str):
    return load_weights(BPartISNet(), weights_path, sha256, device, what="BPartIS network",
                        hint="; checkpoints of the original code need 'ide models import'")


def load_network(bundle: ModelBundle, device: str = "cpu"):
    """The bundle's :class:`BPartISNet` in eval mode, loaded once
    per process and device (cached), after checking the sha256."""
    weights = bundle.weights_path
    return _load_network(weights, str(bundle.config.get("sha256")), weights.stat().st_mtime, device)
