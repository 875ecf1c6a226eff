"""CID's Global Feature Decoupling (GFD) module as BoIR uses it.

Differences from MMPose's ``GFDModule`` (``cid_head.py``), following the
BoIR release: each attention's ``Linear`` is followed by a
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
        modulated = feats * self.atn(params)[:, :, None, None]
        return feats * self.mask(modulated.sum(dim=1, keepdim=True), coords)

    def mask(self, fsum: Tensor, coords: Tensor) -> Tensor:
        """The mask ``[N, 1, H, W]`` from the channel sums ``fsum``
        ``[N, 1, H, W]`` of the modulated features and the offsets of every
        cell to the instance centers ``coords`` ``[N, 2]`` (x, y)."""
        N, _, H, W = fsum.shape
        ys = torch.arange(H, device=fsum.device, dtype=fsum.dtype)
        xs = torch.arange(W, device=fsum.device, dtype=fsum.dtype)
        coords = coords.to(fsum.dtype)
        rel_x = (coords[:, 0, None, None] - xs[None, None, :]).expand(N, H, W)
        rel_y = (coords[:, 1, None, None] - ys[None, :, None]).expand(N, H, W)
        rel = torch.stack((rel_x, rel_y), dim=1) / self.coord_scale
        return self.norm(self.conv(torch.cat((fsum, rel), dim=1)))


class InstanceKeypointHead(nn.Module):
    """Instance-wise keypoint heatmaps from backbone features (CID's GFD).

    Computes, for each instance ``n`` of image ``b`` with parameter ``p_n``
    (the backbone feature vector at its center), on the image's decoupled
    features ``g_b = conv_down(feats_b)`` (C channels):

    ``heatmap_conv(relu(IN(fuse(cat(g_b * ca_n, g_b * m_n)))))``

    with ``ca_n = channel_attention.atn(p_n)`` and the spatial mask ``m_n =
    IN(conv(cat(<g_b, sa_n>, offsets to the center)))``, ``sa_n =
    spatial_attention.atn(p_n)``. The 1x1 ``fuse`` conv ``[W1 | W2]`` is
    linear, so it is evaluated factorised instead of on the per-instance
    ``[N, 2C, H, W]`` concatenation:

    ``fuse(...) = (W1 diag(ca_n)) g_b + m_n * (W2 g_b) + bias``

    where ``W2 g_b`` is computed once per image, the first term is one
    batched matrix product ``[N, C, C] x [N, C, HW]``, and the spatial
    attention's channel sum ``<g_b, sa_n>`` is a ``[1, C] x [C, HW]``
    product, with no ``[N, C, H, W]`` modulated copy. The parameters (and
    the state dict) are those of the direct form, which
    :class:`ChannelAttention` and :class:`SpatialAttention` still compute
    on their own.

    Args:
        in_channels: channels of the backbone features and of the instance
            parameters (480 for HRNet-W32, 720 for W48).
        num_keypoints: K.
        channels: channels of the decoupled features (64 for W32, 96 for
            W48 in BoIR).

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
        g = self.conv_down(feats).flatten(2)  # [B, C, HW]
        H, W = feats.shape[-2:]
        N = len(params)
        if N == 0:
            return g.new_zeros((0, self.heatmap_conv.out_channels, H, W))
        if torch.onnx.is_in_onnx_export():
            # static shapes for the exported graph: one copy of the
            # features per instance instead of the grouping below
            return self._decouple(g.index_select(0, img_ids), params, coords,
                                  H, W).reshape(N, -1, H, W)
        if (not torch.is_grad_enabled()
                and g.dtype == params.dtype == torch.float32
                and not torch.is_autocast_enabled(g.device.type)):
            return self._forward_inference(g, params, coords, img_ids, H, W)
        # instances grouped by image, so that each image's features are
        # used in place, without a per-instance copy
        sels, outs = [], []
        for b in range(len(g)):
            sel = torch.nonzero(img_ids == b).reshape(-1)
            if sel.numel():
                sels.append(sel)
                outs.append(self._decouple(g[b], params[sel], coords[sel], H,
                                           W))
        order = torch.cat(sels)
        out = torch.cat(outs)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(N, device=order.device)
        return out.index_select(0, inverse).reshape(N, -1, H, W)

    def _decouple(self, g: Tensor, params: Tensor, coords: Tensor, H: int,
                  W: int) -> Tensor:
        """Logits ``[n, K, HW]`` of n instances of one image, ``g [C, HW]``
        (or of any images, ``g [n, C, HW]`` per instance).

        The fuse conv's bias is not added: the InstanceNorm that follows
        removes any per-channel constant, so its gradient is 0 in the direct
        form too. It stays in the graph (times 0) so that every parameter
        gets a gradient, as DistributedDataParallel requires.
        """
        C = g.shape[-2]
        n = len(params)
        fuse = self.fuse_attention[0].weight.reshape(C, 2 * C)
        ca = self.channel_attention.atn(params)  # [n, C]
        sa = self.spatial_attention.atn(params)  # [n, C]
        # <g, sa_n> over channels, without the modulated copy of g
        fsum = torch.matmul(sa[:, None, :], g).reshape(n, 1, H, W)
        mask = self.spatial_attention.mask(fsum, coords)
        # (W1 diag(ca_n)) g + m_n * (W2 g)
        fused = torch.matmul(fuse[None, :, :C] * ca[:, None, :], g)
        fused = fused.addcmul_(mask.reshape(n, 1, H * W),
                               torch.matmul(fuse[:, C:], g))
        fused = self.fuse_attention[1](fused.reshape(n, C, H, W))
        fused = F.relu(fused, inplace=True).reshape(n, C, H * W)
        heatmap = self.heatmap_conv
        out = torch.matmul(heatmap.weight.reshape(-1, C), fused)
        bias = heatmap.bias + 0 * self.fuse_attention[0].bias.sum()
        return out + bias[None, :, None]

    def _forward_inference(self, g: Tensor, params: Tensor, coords: Tensor,
                           img_ids: Tensor, H: int, W: int) -> Tensor:
        """:meth:`forward` without autograd (prediction; float32, no
        autocast): the same function in fewer passes over the
        ``[n, C, H, W]`` fused features.

        Per image, into one preallocated ``[N, K, HW]`` output (no
        concatenation or reordering copy when the instances come grouped
        by image, as the codec orders them):

        * the spatial mask as :meth:`_mask_inference` (no ``[n, 3, H, W]``
          input to the 5x5 conv);
        * the fused features' per-channel mean, which the InstanceNorm
          removes, in closed form (``A_n mean(g) + (W2 g) m_n / HW``),
          subtracted in the same pass that adds ``m_n * (W2 g)``, and
          ``A_n g`` accumulated in place onto it;
        * ``relu(IN(f)) = rstd * relu(f - mean)`` (``rstd > 0``), so the
          ``rstd`` scaling is folded into a per-instance ``heatmap_conv``
          weight and the logits are one batched product with the bias,
          without a normalised copy or a transposed copy.
        """
        N, K = len(params), self.heatmap_conv.out_channels
        out = g.new_empty((N, K, H * W))
        offsets = self._offset_conv_maps(H, W, g.dtype, g.device)
        counts = torch.bincount(img_ids, minlength=len(g))
        # one buffer for the fused features of every image (fewer fresh
        # pages to fault in than one allocation per image)
        work = g.new_empty(int(counts.max()) * g.shape[1] * H * W)
        for b in range(len(g)):
            sel = torch.nonzero(img_ids == b).reshape(-1)
            n = sel.numel()
            if n == 0:
                continue
            lo = int(sel[0])
            if int(sel[-1]) - lo + 1 == n:  # a contiguous block of rows
                self._decouple_inference(g[b], params[lo:lo + n],
                                         coords[lo:lo + n], H, W, offsets,
                                         out[lo:lo + n], work)
            else:
                part = g.new_empty((n, K, H * W))
                self._decouple_inference(g[b], params[sel], coords[sel], H,
                                         W, offsets, part, work)
                out.index_copy_(0, sel, part)
        return out.reshape(N, K, H, W)

    def _decouple_inference(self, g: Tensor, params: Tensor, coords: Tensor,
                            H: int, W: int, offsets: Tensor, out: Tensor,
                            work: Tensor) -> None:
        """The logits of n instances of one image (``g [C, HW]``, any
        strides) written into ``out [n, K, HW]``, with the flat buffer
        ``work`` (at least ``n * C * HW``) for the fused features and the
        maps of :meth:`_offset_conv_maps`; see :meth:`_forward_inference`."""
        C, HW = g.shape
        n = len(params)
        fuse = self.fuse_attention[0].weight.reshape(C, 2 * C)
        ca = self.channel_attention.atn(params)  # [n, C]
        sa = self.spatial_attention.atn(params)  # [n, C]
        mask = self._mask_inference(torch.matmul(sa, g), coords, offsets, H,
                                    W)
        g2 = torch.matmul(fuse[:, C:], g)  # W2 g, [C, HW]
        a = fuse[None, :, :C] * ca[:, None, :]  # W1 diag(ca_n), [n, C, C]
        # the mean over HW of A_n g + m_n * (W2 g), per instance and channel
        mean = torch.matmul(a, g.mean(1)) + torch.matmul(mask, g2.t()) / HW
        # the centered fused features: m_n * (W2 g) - mean, then + A_n g
        fused = work[:n * C * HW].view(n, C, HW)
        torch.addcmul(mean.neg()[:, :, None], mask[:, None, :], g2[None],
                      out=fused)
        fused.view(n * C, HW).addmm_(a.reshape(n * C, C), g)
        var = torch.linalg.vector_norm(fused, dim=2).square_() / HW
        rstd = (var + self.fuse_attention[1].eps).rsqrt_()
        fused.relu_()
        heatmap = self.heatmap_conv
        weight = heatmap.weight.reshape(1, -1, C) * rstd[:, None, :]
        torch.baddbmm(heatmap.bias[None, :, None].expand(n, -1, HW), weight,
                      fused, out=out)

    def _offset_conv_maps(self, H: int, W: int, dtype: torch.dtype,
                          device: torch.device) -> Tensor:
        """``[4, HW]``: the spatial attention's 5x5 conv on its two offset
        channels, split as ``U_x, V_x, U_y, V_y`` with ``U = conv(1 / s)``
        and ``V = conv(pos / s)`` (zero padding as the conv's), so that on
        the offsets of center ``c`` it is ``c_x U_x - V_x + c_y U_y - V_y``.
        They depend on the map size only: once per forward."""
        sa = self.spatial_attention
        ys = torch.arange(H, device=device, dtype=dtype)[:, None].expand(H, W)
        xs = torch.arange(W, device=device, dtype=dtype)[None, :].expand(H, W)
        ones = torch.ones((H, W), device=device, dtype=dtype)
        maps = torch.stack((ones, xs, ones, ys))[None] / sa.coord_scale
        w = sa.conv.weight  # [1, 3, 5, 5]
        return F.conv2d(maps, w[0, [1, 1, 2, 2], None],
                        padding=sa.conv.padding, groups=4)[0].reshape(4, H * W)

    def _mask_inference(self, fsum: Tensor, coords: Tensor, offsets: Tensor,
                        H: int, W: int) -> Tensor:
        """:meth:`SpatialAttention.mask` as ``[n, HW]`` from the channel
        sums ``fsum [n, HW]``.

        The 5x5 conv is linear and the offset channels are linear in the
        center, so its share of the offsets comes from ``offsets`` (see
        :meth:`_offset_conv_maps`) and the conv itself runs on the one
        channel ``fsum`` only, as a depthwise conv over the instances
        (``[1, n, H, W]``, n groups; much faster on CPU than ``n`` images
        of one channel).
        """
        sa = self.spatial_attention
        n = len(fsum)
        w = sa.conv.weight  # [1, 3, 5, 5]
        coords = coords.to(fsum.dtype)
        pre = F.conv2d(fsum.reshape(1, n, H, W), w[:, :1].expand(n, 1, -1, -1),
                       sa.conv.bias.expand(n), padding=sa.conv.padding,
                       groups=n).reshape(n, H * W)
        pre = pre - (offsets[1] + offsets[3]) + coords[:, :1] * offsets[0] + \
            coords[:, 1:] * offsets[2]
        return sa.norm(pre.reshape(n, 1, H, W)).reshape(n, H * W)
