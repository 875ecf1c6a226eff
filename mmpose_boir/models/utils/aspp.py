"""Atrous Spatial Pyramid Pooling: BoIR's shared "bottleneck" neck."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int,
                  dilation: int = 1) -> nn.Sequential:
    padding = 0 if kernel_size == 1 else dilation
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding,
                  dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU())


class _ImagePooling(nn.Sequential):
    """Global average pool -> 1x1 conv -> BN -> ReLU -> bilinear upsample.

    A training batch of one image has a single value per channel after the
    pooling, where BatchNorm cannot compute batch statistics (PyTorch
    raises); such a batch (e.g. the last, incomplete batch of an epoch) is
    normalised with the running statistics instead.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        pool, conv, bn, relu = self
        y = conv(pool(x))
        if self.training and y.shape[0] == 1:
            y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight,
                             bn.bias, False, 0.0, bn.eps)
        else:
            y = bn(y)
        return F.interpolate(
            relu(y), size=size, mode='bilinear', align_corners=False)


class ASPP(nn.Module):
    """ASPP as in DeepLabV3, without dropout (as the BoIR release).

    Branches: a 1x1 conv, one dilated 3x3 conv per atrous rate and image
    pooling, each ``conv (no bias) -> BN -> ReLU`` with ``channels`` outputs;
    their concatenation is projected by ``1x1 conv -> BN -> ReLU``.

    Args:
        in_channels: input channels C_in.
        channels: channels of each branch.
        out_channels: output channels C_out.
        atrous_rates: dilation of the 3x3 branches.

    Shapes: ``[B, C_in, H, W] -> [B, C_out, H, W]``.
    """

    def __init__(self, in_channels: int, channels: int = 128,
                 out_channels: int = 256,
                 atrous_rates: Sequence[int] = (12, 24, 36)) -> None:
        super().__init__()
        branches = [_conv_bn_relu(in_channels, channels, 1)]
        branches += [
            _conv_bn_relu(in_channels, channels, 3, rate)
            for rate in atrous_rates
        ]
        branches.append(_ImagePooling(in_channels, channels))
        self.convs = nn.ModuleList(branches)
        self.project = _conv_bn_relu(len(branches) * channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([conv(x) for conv in self.convs], 1))
