"""CID's Global Feature Decoupling (GFD) module as BoIR uses it.

Differences from MMPose's ``GFDModule`` (``cid_head.py``), following the
BoIR release (spec section 1): each attention's ``Linear`` is followed by a
``LayerNorm``; the spatial attention normalises its mask with an
``InstanceNorm2d`` instead of a sigmoid and measures relative coordinates
from integer cell positions; the fused features pass an ``InstanceNorm2d``
before the ReLU.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _linear_ln(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_channels, out_channels), nn.LayerNorm(out_channels))


class ChannelAttention(nn.Module):
    """Modulates each instance's feature map channel-wise by its parameter.

    Shapes: feats ``[N, C, H, W]``, params ``[N, C_in]`` -> ``[N, C, H, W]``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.atn = _linear_ln(in_channels, out_channels)

    def forward(self, feats: Tensor, params: Tensor) -> Tensor:
        return feats * self.atn(params)[:, :, None, None]


class SpatialAttention(nn.Module):
    """Spatial mask from the modulated features and the offsets to the center.

    Shapes: feats ``[N, C, H, W]``, params ``[N, C_in]``, coords ``[N, 2]``
    (x, y cells) -> ``[N, C, H, W]``.
    """

    coord_scale = 32.0

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.atn = _linear_ln(in_channels, out_channels)
        self.conv = nn.Conv2d(3, 1, 5, 1, 2)
        self.norm = nn.InstanceNorm2d(1)

    def forward(self, feats: Tensor, params: Tensor, coords: Tensor) -> Tensor:
        N, _, H, W = feats.shape
        modulated = feats * self.atn(params)[:, :, None, None]
        fsum = modulated.sum(dim=1, keepdim=True)
        ys = torch.arange(H, device=feats.device, dtype=feats.dtype)
        xs = torch.arange(W, device=feats.device, dtype=feats.dtype)
        coords = coords.to(feats.dtype)
        rel_x = (coords[:, 0, None, None] - xs[None, None, :]).expand(N, H, W)
        rel_y = (coords[:, 1, None, None] - ys[None, :, None]).expand(N, H, W)
        rel = torch.stack((rel_x, rel_y), dim=1) / self.coord_scale
        mask = self.norm(self.conv(torch.cat((fsum, rel), dim=1)))
        return feats * mask


class InstanceKeypointHead(nn.Module):
    """Instance-wise keypoint heatmaps from backbone features (CID's GFD).

    Args:
        in_channels: channels of the backbone features and of the instance
            parameters (480 for HRNet-W32, 720 for W48).
        num_keypoints: K.
        channels: channels of the decoupled features (64 in BoIR).

    Shapes: feats ``[B, C_in, H, W]``, params ``[N, C_in]``, coords
    ``[N, 2]`` (x, y), img_ids ``[N]`` -> logits ``[N, K, H, W]``.
    """

    def __init__(self, in_channels: int, num_keypoints: int,
                 channels: int = 64) -> None:
        super().__init__()
        self.conv_down = nn.Conv2d(in_channels, channels, 1)
        self.channel_attention = ChannelAttention(in_channels, channels)
        self.spatial_attention = SpatialAttention(in_channels, channels)
        self.fuse_attention = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 1), nn.InstanceNorm2d(channels))
        self.heatmap_conv = nn.Conv2d(channels, num_keypoints, 1)

    def forward(self, feats: Tensor, params: Tensor, coords: Tensor,
                img_ids: Tensor) -> Tensor:
        global_feats = self.conv_down(feats)[img_ids]
        fused = torch.cat((self.channel_attention(global_feats, params),
                           self.spatial_attention(global_feats, params,
                                                  coords)), dim=1)
        fused = F.relu(self.fuse_attention(fused))
        return self.heatmap_conv(fused)
