"""U-Net (Ronneberger et al. 2015) and its dilated-bottleneck variant (Batatia's MOF method)."""

from __future__ import annotations

import torch
from torch import nn

from ...errors import SettingsError


def _conv_bn_relu(in_channels: int, out_channels: int, dilation: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class DoubleConv(nn.Sequential):
    """Two 3x3 conv + batch norm + ReLU layers, the U-Net's building block."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(*_conv_bn_relu(in_channels, out_channels), *_conv_bn_relu(out_channels, out_channels))


class UNet(nn.Module):
    """U-Net: ``levels`` encoder blocks of widths ``width * 2**i`` with 2x2 max pooling between them,
    a bottleneck at 1/2**levels resolution, and a mirrored decoder of 2x2 up-convolutions and skip
    concatenations; a 1x1 head gives ``classes`` logits per pixel.

    ``atrous``: dilation rates of a chain of 3x3 atrous convolutions after the bottleneck block, each
    fed the previous one's output, their outputs summed with the bottleneck's (the MOF method's
    dilated bottleneck, rates (4, 16, 32)); () for the plain U-Net. The bottleneck keeps the last
    encoder width (no doubling) so that the networks stay a few MB.

    Input (B, 3, H, W) in [0, 1] with H and W divisible by 2**levels; output (B, classes, H, W) logits.
    """

    def __init__(self, *, width: int = 16, levels: int = 4, atrous: tuple[int, ...] = (), classes: int = 1) -> None:
        super().__init__()
        if width < 1 or levels < 1 or classes < 1:
            raise SettingsError(f"width, levels and classes must be >= 1, got {width}, {levels}, {classes}")
        widths = [width * 2**i for i in range(levels)]
        self.levels = levels
        self.encoder = nn.ModuleList(DoubleConv(c_in, c_out) for c_in, c_out in zip([3, *widths[:-1]], widths))
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[-1], widths[-1])
        self.atrous = nn.ModuleList(nn.Sequential(*_conv_bn_relu(widths[-1], widths[-1], rate)) for rate in atrous)
        ups, decoders = [], []
        for below, here in zip([widths[-1], *widths[:0:-1]], widths[::-1]):
            ups.append(nn.ConvTranspose2d(below, here, 2, stride=2))
            decoders.append(DoubleConv(2 * here, here))
        self.ups, self.decoder = nn.ModuleList(ups), nn.ModuleList(decoders)
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        total, chained = x, x
        for conv in self.atrous:
            chained = conv(chained)
            total = total + chained
        x = total
        for up, block, skip in zip(self.ups, self.decoder, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)
