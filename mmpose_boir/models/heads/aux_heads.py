"""BoIR's training-only dense heads, each with its loss: the parts of the box
supervision (:class:`BoxSupervisionHead`) and of :class:`BoIRHead`.

Each part is BoIR's small head (:class:`ResidualHead`: a ResNet BasicBlock,
then a 3x3 conv to the output channels; its state-dict keys ``0.*`` and
``1.*``) on a neck's output, plus the loss that trains it, built from
config (``loss_module``, no parameters). ``forward`` gives the raw map,
``loss`` the weighted loss of a map against its targets, outside autocast,
the map cast to float32 as the release casts its maps (half precision under
AMP, and float64 in a float64 model, alike).

The parts leave their weights as PyTorch initialises them (or as their
``init_cfg`` says, at ``init_weights``); the heads that compose them give
them the release's initialisation with :func:`init_release`.
"""
import math
from typing import Sequence

import torch
from mmengine.model import Sequential
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from torch import Tensor, nn

from ..utils import ResidualHead, sigmoid_clamped


def init_release(module: nn.Module, prior_prob: float = 0.01) -> None:
    """The release's initialisation of BoIR's heads: every conv and linear
    weight N(0, 0.001), conv biases at the prior ``-log((1 - p) / p)``,
    linear biases 0 (BatchNorm keeps PyTorch's)."""
    bias = -math.log((1 - prior_prob) / prior_prob)
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.001)
            nn.init.constant_(m.bias, 0)


class _DenseAuxHead(Sequential):
    """A :class:`ResidualHead` (same layers, same keys) with a loss."""

    def __init__(self, in_channels: int, channels: int, out_channels: int,
                 loss: ConfigType, init_cfg: OptConfigType = None) -> None:
        super().__init__(*ResidualHead(in_channels, channels, out_channels),
                         init_cfg=init_cfg)
        self.out_channels = out_channels
        self.loss_module = MODELS.build(loss)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, in_channels, H, W] -> [B, out_channels, H, W]``."""
        return self[1](self[0](x))


@MODELS.register_module()
class PixelEmbeddingHead(_DenseAuxHead):
    """A pixel embedding trained by the Bbox Mask Loss.

    Args:
        in_channels: channels of the neck output.
        channels: channels inside the head (128 in BoIR).
        embedding_channels: D (128 in BoIR).
        loss: the loss config (``BboxMaskLoss``: the embedding map and each
            image's boxes).
        init_cfg: MMEngine init config.
    """

    def __init__(self, in_channels: int, channels: int = 128,
                 embedding_channels: int = 128,
                 loss: ConfigType = dict(type='BboxMaskLoss',
                                         loss_weight=0.25),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(in_channels, channels, embedding_channels, loss,
                         init_cfg)

    def loss(self, embeddings: Tensor, boxes: Sequence[Tensor]) -> Tensor:
        """Shapes: embeddings ``[B, D, H, W]`` (raw, from :meth:`forward`),
        boxes B tensors ``[n_b, 4]`` (x, y, w, h in map cells) -> scalar."""
        with torch.autocast(embeddings.device.type, enabled=False):
            return self.loss_module(embeddings.float(), boxes)


@MODELS.register_module()
class BoxRegressionHead(_DenseAuxHead):
    """Per-cell box regression: the distances (l, t, r, b) from the cell to
    its person's box sides, trained by CIoU at the 3x3 cells around each
    instance center.

    Args:
        in_channels: channels of the neck output.
        channels: channels inside the head (128 in BoIR).
        loss: the loss config (``CIoULoss`` on (x, y, w, h) boxes).
        anchor_order: how the distances become a box at a cell (x, y):
            ``'xy'`` the geometric ``(x - l, y - t, l + r, t + b)``;
            ``'yx'`` (BoIR's release) passes the cell as (y, x), so the box
            is ``(y - l, x - t, l + r, t + b)``.
        init: what :meth:`init_box` does: ``'release'`` (BoIR's release:
            every conv weight 0, biases 1) or ``'normal'`` (the release's
            init of the other heads, biases 1).
        init_cfg: MMEngine init config.
    """

    def __init__(self, in_channels: int, channels: int = 128,
                 loss: ConfigType = dict(type='CIoULoss', loss_weight=0.25),
                 anchor_order: str = 'xy', init: str = 'normal',
                 init_cfg: OptConfigType = None) -> None:
        if anchor_order not in ('yx', 'xy'):
            raise ValueError(f"anchor_order must be 'yx' or 'xy', got "
                             f'{anchor_order!r}')
        if init not in ('release', 'normal'):
            raise ValueError(
                f"init must be 'release' or 'normal', got {init!r}")
        super().__init__(in_channels, channels, 4, loss, init_cfg)
        self.anchor_order = anchor_order
        self.init = init

    def init_box(self) -> None:
        """The box head's own initialisation (``init``), after
        :func:`init_release`: biases 1 (and weights 0 for ``'release'``)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if self.init == 'release':
                    nn.init.constant_(m.weight, 0.0)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 1.0)

    def loss(self, box_dist: Tensor, coords: Tensor, img_ids: Tensor,
             boxes: Tensor) -> Tensor:
        """CIoU of the boxes predicted at the 3x3 cells around each center
        (those inside the map) with the instance's box, averaged by the
        loss.

        Shapes: box_dist ``[B, 4, H, W]`` (l, t, r, b, from
        :meth:`forward`), coords ``[N, 2]`` (x, y cells), img_ids ``[N]``,
        boxes ``[N, 4]`` (x, y, w, h) -> scalar (0, in the graph, for N = 0).
        """
        with torch.autocast(box_dist.device.type, enabled=False):
            box_dist = box_dist.float()
            if len(img_ids) == 0:
                return box_dist.sum() * 0.0
            H, W = box_dist.shape[-2:]
            offsets = torch.tensor([(dx, dy) for dy in (-1, 0, 1)
                                    for dx in (-1, 0, 1)],
                                   device=coords.device)
            cells = coords[:, None, :] + offsets[None]  # [N, 9, 2]
            inside = ((cells[..., 0] >= 0) & (cells[..., 0] < W) &
                      (cells[..., 1] >= 0) & (cells[..., 1] < H))
            cells, ids = cells[inside], img_ids[:, None].expand(-1, 9)[inside]
            target = boxes[:, None].expand(-1, 9, -1)[inside]
            ltrb = box_dist[ids, :, cells[:, 1], cells[:, 0]]
            anchor = cells.to(ltrb.dtype)
            if self.anchor_order == 'yx':
                anchor = anchor.flip(-1)
            pred = torch.cat(
                (anchor - ltrb[:, :2], ltrb[:, :2] + ltrb[:, 2:]), dim=1)
            return self.loss_module(pred, target)


@MODELS.register_module()
class MultiPersonHeatmapHead(_DenseAuxHead):
    """Multi-person heatmaps (every person's keypoints in one map per
    keypoint), trained by a focal loss on the clamped sigmoid.

    Args:
        in_channels: channels of the neck output.
        out_channels: the heatmap channels it predicts: K + 1 to predict
            the whole target of the codecs of BoIR and CID (K keypoints and
            the center), K in BoIR (its center head adds the center).
        channels: channels inside the head (128 in BoIR).
        loss: the loss config (``FocalHeatmapLoss``).
        init_cfg: MMEngine init config.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 channels: int = 128,
                 loss: ConfigType = dict(type='FocalHeatmapLoss',
                                         loss_weight=1.0),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(in_channels, channels, out_channels, loss, init_cfg)

    def loss(self, logits: Tensor, heatmaps: Tensor,
             mask: Tensor = None) -> Tensor:
        """Shapes: logits ``[B, C, H, W]`` (:meth:`forward`'s, possibly with
        more channels appended by the host head), heatmaps ``[B, C, H, W]``,
        mask ``[B, 1 or C, H, W]`` (1 = counted) or ``None`` -> scalar."""
        if logits.shape[1] != heatmaps.shape[1]:
            raise ValueError(
                f'MultiPersonHeatmapHead: {logits.shape[1]} heatmap channels '
                f'predicted for a target of {heatmaps.shape[1]} (the codec '
                'encodes K keypoints and the center: out_channels = K + 1)')
        return heatmap_loss(self.loss_module, logits, heatmaps, mask)


def heatmap_loss(loss_module: nn.Module, logits: Tensor, heatmaps: Tensor,
                 mask: Tensor = None) -> Tensor:
    """``loss_module`` (a heatmap loss such as ``FocalHeatmapLoss``) on the
    clamped sigmoid of ``logits`` (float32, see :func:`sigmoid_clamped`),
    outside autocast: :meth:`MultiPersonHeatmapHead.loss`, and the center
    heatmap's loss of a head without that part."""
    with torch.autocast(logits.device.type, enabled=False):
        pred = sigmoid_clamped(logits)
        return loss_module(pred, heatmaps, None, mask)
