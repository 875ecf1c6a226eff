"""The small prediction head BoIR puts on the neck for every dense output."""
from mmpose.models.backbones.resnet import BasicBlock
from torch import nn


class ResidualHead(nn.Sequential):
    """ResNet BasicBlock (with a 1x1 conv + BN shortcut) then a 3x3 conv.

    Shapes: ``[B, in_channels, H, W] -> [B, out_channels, H, W]``.
    """

    def __init__(self, in_channels: int, channels: int,
                 out_channels: int) -> None:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels))
        super().__init__(
            BasicBlock(in_channels, channels, downsample=downsample),
            nn.Conv2d(channels, out_channels, 3, padding=1, bias=True))
