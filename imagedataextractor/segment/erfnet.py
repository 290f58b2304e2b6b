"""ERFNet with two decoders, the network behind BPartIS.

Topology from Romera et al. (ERFNet, 2017) as used by Yildirim & Cole (BPartIS, 2021): one encoder,
one decoder giving 2 offset + 2 sigma channels and one giving 1 seed channel. Only the encoder's
factorised residual blocks carry dropout, so everything before the first of them (the ``stem``) is
the same for every Monte Carlo dropout sample and can be computed once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3


class Downsampler(nn.Module):
    """Halve the resolution: a stride-2 3x3 conv concatenated with a 2x2 max-pool, then BN + ELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.elu(self.bn1(self.conv_h1(F.elu(self.conv_v1(x)))))
        y = self.bn2(self.conv_h2(F.elu(self.conv_v2(y))))
        return F.elu(self.dropout(y) + x)


class Upsampler(nn.Module):
    """Double the resolution: bilinear x2, 3x3 conv, BN, ELU (no transposed convolutions)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.elu(self.bn(self.conv(x)))


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.layers(x), scale_factor=2, mode="bilinear", align_corners=False)
        return self.head(x)


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
            head.bias[0:2].fill_(0.0)
            head.bias[2:4].fill_(1.0)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """The part of the network that no dropout reaches: (N, 3, H, W) -> (N, 64, H/4, W/4)."""
        return self.encoder.stem(x)

    def from_stem(self, features: torch.Tensor) -> torch.Tensor:
        """The rest of the network, from :meth:`stem`'s output to raw outputs (N, 5, H, W)."""
        encoded = self.encoder.blocks(features)
        return torch.cat([self.embedding_decoder(encoded), self.seed_decoder(encoded)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_stem(self.stem(x))
