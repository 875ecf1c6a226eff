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
    """The channel attention: ``atn(p_n)`` ``[N, C]`` weighs the channels of
    the decoupled features for instance n (parameter ``p_n``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.atn = _linear_ln(in_channels, out_channels)


class SpatialAttention(nn.Module):
    """The spatial attention: ``atn(p_n)`` ``[N, C]`` weighs the channels
    whose sum, with the offsets to the instance center, gives the spatial
    mask (:meth:`mask`)."""

    coord_scale = 32.0

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.atn = _linear_ln(in_channels, out_channels)
        self.conv = nn.Conv2d(3, 1, 5, 1, 2)
        self.norm = nn.InstanceNorm2d(1)

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
    ``[N, 2C, H, W]`` concatenation that the release builds:

    ``fuse(...) = (W1 diag(ca_n)) g_b + m_n * (W2 g_b) + bias``

    per image, on its features in place: ``W2 g_b`` once, the first term
    one batched matrix product ``[n, C, C] x [C, HW]``, the spatial
    attention's channel sum ``<g_b, sa_n>`` a ``[n, C] x [C, HW]`` product.
    This is the form of training and evaluation (:meth:`forward`).

    :meth:`switch_to_deploy` (MMPose's deploy switch, as RTMO's head; an
    estimator's ``switch_to_deploy()`` calls it, and so does
    :class:`~mmpose_boir.deploy.BoIRDeployModel`) selects the inference
    form :meth:`forward_deploy`: the same function, without autograd, in
    fewer passes over the fused features, with static shapes for export.

    Args:
        in_channels: channels of the backbone features and of the instance
            parameters (480 for HRNet-W32, 720 for W48).
        num_keypoints: K.
        channels: channels of the decoupled features (64 for W32, 96 for
            W48 in BoIR).

    Shapes: feats ``[B, C_in, H, W]``, params ``[N, C_in]``, coords
    ``[N, 2]`` (x, y), img_ids ``[N]`` -> logits ``[N, K, H, W]``.
    """

    #: set by :meth:`switch_to_deploy`
    deploy = False
    #: the most bytes of fused features the deploy form makes at a time
    #: (below glibc's largest mmap threshold, 32 MiB, so that the allocator
    #: reuses the buffer instead of faulting in fresh pages for each)
    chunk_bytes = 30 << 20

    def __init__(self, in_channels: int, num_keypoints: int,
                 channels: int = 64) -> None:
        super().__init__()
        self.conv_down = nn.Conv2d(in_channels, channels, 1)
        self.channel_attention = ChannelAttention(in_channels, channels)
        self.spatial_attention = SpatialAttention(in_channels, channels)
        self.fuse_attention = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 1), nn.InstanceNorm2d(channels))
        self.heatmap_conv = nn.Conv2d(channels, num_keypoints, 1)

    def switch_to_deploy(self, test_cfg: dict = None) -> None:
        """From now on :meth:`forward` is :meth:`forward_deploy` (for
        inference only; not undone). ``test_cfg`` is unused (the signature
        of MMPose's deploy switches)."""
        self.deploy = True

    def forward(self, feats: Tensor, params: Tensor, coords: Tensor,
                img_ids: Tensor) -> Tensor:
        if self.deploy:
            if self.training:
                raise RuntimeError(
                    'InstanceKeypointHead was switched to deploy (inference '
                    'only): build a new model to train')
            return self.forward_deploy(feats, params, coords, img_ids)
        g = self.conv_down(feats).flatten(2)  # [B, C, HW]
        H, W = feats.shape[-2:]
        N = len(params)
        if N == 0:
            return g.new_zeros((0, self.heatmap_conv.out_channels, H, W))
        # instances grouped by image, each image's features used in place
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
        """Logits ``[n, K, HW]`` of n instances of one image, ``g [C, HW]``.

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

    # ------------------------------------------------------- deploy form
    def forward_deploy(self, feats: Tensor, params: Tensor, coords: Tensor,
                       img_ids: Tensor) -> Tensor:
        """:meth:`forward`'s function for inference (no autograd through
        it), with the instances grouped by image in increasing order (as
        the codec's decoding gives them).

        Per image, a few instances at a time (:attr:`chunk_bytes`): the
        spatial attention's 5x5 conv runs on the channel sum only (its
        offset channels are linear in the center: their share is
        :meth:`_offset_conv_maps`, once per call); the InstanceNorm's mean
        of the fused features is computed in closed form (``A_n mean(g) +
        (W2 g) m_n / HW``) and subtracted while ``m_n * (W2 g)`` is formed,
        ``A_n g`` then added in place; ``relu(IN(f)) = rstd * relu(f -
        mean)`` (``rstd > 0``), so ``rstd`` is folded into a per-instance
        ``heatmap_conv`` weight. The image blocks are read from ``img_ids``
        as Python numbers: a traced graph keeps the example's blocks (the
        deployed model's padded decoding always gives each image the same
        number of rows).

        Raises:
            ValueError: ``img_ids`` not grouped by image in increasing
                order, or not in ``[0, B)``.
        """
        g = self.conv_down(feats).flatten(2)  # [B, C, HW]
        H, W = feats.shape[-2:]
        ids = img_ids.tolist()
        if ids != sorted(ids) or (ids and not 0 <= ids[0] <= ids[-1] < len(g)):
            raise ValueError(
                'InstanceKeypointHead.forward_deploy: img_ids must be grouped '
                f'by image in increasing order, in [0, {len(g)}); got {ids}')
        if not ids:
            return g.new_zeros((0, self.heatmap_conv.out_channels, H, W))
        offsets = self._offset_conv_maps(H, W, g.dtype, g.device)
        C, HW = g.shape[1:]
        w2 = self.fuse_attention[0].weight.reshape(C, 2 * C)[:, C:]
        # a few instances at a time (see chunk_bytes)
        step = max(1, self.chunk_bytes // (C * HW * g.element_size()))
        outs, lo = [], 0
        for b in range(len(g)):
            image = (g[b], torch.matmul(w2, g[b]), g[b].mean(1))
            hi = lo + ids.count(b)
            for i in range(lo, hi, step):
                j = min(i + step, hi)
                outs.append(self._decouple_deploy(
                    image, params[i:j], coords[i:j], offsets, H, W))
            lo = hi
        out = outs[0] if len(outs) == 1 else torch.cat(outs)
        return out.reshape(len(ids), -1, H, W)

    def _decouple_deploy(self, image: tuple, params: Tensor, coords: Tensor,
                         offsets: Tensor, H: int, W: int) -> Tensor:
        """Logits ``[n, K, HW]`` of n instances of one image, ``image`` =
        ``(g [C, HW]`` (any strides), ``W2 g``, ``mean(g)`` over HW); see
        :meth:`forward_deploy`."""
        g, g2, g_mean = image
        C, HW = g.shape
        n = len(params)
        w1 = self.fuse_attention[0].weight.reshape(C, 2 * C)[:, :C]
        ca = self.channel_attention.atn(params)  # [n, C]
        sa = self.spatial_attention.atn(params)  # [n, C]
        mask = self._mask_deploy(torch.matmul(sa, g), coords, offsets, H, W)
        a = (w1[None] * ca[:, None, :]).reshape(n * C, C)  # W1 diag(ca_n)
        # the mean over HW of A_n g + m_n * (W2 g), per instance and channel
        mean = torch.matmul(a, g_mean).reshape(n, C) + torch.matmul(
            mask, g2.t()) / HW
        # the centered fused features: m_n * (W2 g) - mean, then + A_n g
        fused = torch.addcmul(mean.neg()[:, :, None], mask[:, None, :],
                              g2[None]).view(n * C, HW).addmm_(a, g)
        fused = fused.view(n, C, HW)
        rstd = (torch.linalg.vector_norm(fused, dim=2).square() / HW +
                self.fuse_attention[1].eps).rsqrt()
        heatmap = self.heatmap_conv
        weight = heatmap.weight.reshape(1, -1, C) * rstd[:, None, :]
        return torch.baddbmm(heatmap.bias[None, :, None], weight,
                             fused.relu_())

    def _offset_conv_maps(self, H: int, W: int, dtype: torch.dtype,
                          device: torch.device) -> Tensor:
        """``[4, HW]``: the spatial attention's 5x5 conv on its two offset
        channels, split as ``U_x, V_x, U_y, V_y`` with ``U = conv(1 / s)``
        and ``V = conv(pos / s)`` (zero padding as the conv's), so that on
        the offsets of center ``c`` it is ``c_x U_x - V_x + c_y U_y - V_y``.
        They depend on the map size only."""
        sa = self.spatial_attention
        ys = torch.arange(H, device=device, dtype=dtype)[:, None].expand(H, W)
        xs = torch.arange(W, device=device, dtype=dtype)[None, :].expand(H, W)
        ones = torch.ones((H, W), device=device, dtype=dtype)
        maps = torch.stack((ones, xs, ones, ys))[None] / sa.coord_scale
        w = sa.conv.weight  # [1, 3, 5, 5]
        return F.conv2d(maps, w[0, [1, 1, 2, 2], None],
                        padding=sa.conv.padding, groups=4)[0].reshape(4, H * W)

    def _mask_deploy(self, fsum: Tensor, coords: Tensor, offsets: Tensor,
                     H: int, W: int) -> Tensor:
        """:meth:`SpatialAttention.mask` as ``[n, HW]`` from the channel
        sums ``fsum [n, HW]``: the 5x5 conv on ``fsum`` alone, as a
        depthwise conv over the instances (``[1, n, H, W]``, n groups; much
        faster on CPU than n images of one channel), plus the offsets'
        share from ``offsets`` (:meth:`_offset_conv_maps`)."""
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
