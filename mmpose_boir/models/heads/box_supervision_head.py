"""BoxSupervisionHead: BoIR's box supervision for any bottom-up model."""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from mmpose.utils.typing import (ConfigType, Features, OptConfigType,
                                 OptSampleList)
from torch import Tensor

from ..utils import ASPP
from .aux_heads import init_release
from .targets import collect_heatmaps, collect_instance_boxes

#: The parts, in the order they are built and their losses named.
PARTS = ('heatmap_head', 'embedding_head', 'bbox_head')
#: The name of each part's loss (the names BoIRHead logs).
LOSS_NAMES = dict(heatmap_head='loss_multi_heatmap',
                  embedding_head='loss_bbox_mask', bbox_head='loss_bbox')


@MODELS.register_module()
class BoxSupervisionHead(BaseModule):
    """Training-only heads that supervise a bottom-up model with boxes.

    ``feats[in_index] -> bottleneck neck (ASPP) -> {heatmap_head,
    embedding_head, bbox_head}``, each optional (``None`` switches it off)
    and trained by its own loss with its own weight:

    - ``embedding_head`` (:class:`PixelEmbeddingHead`): a pixel embedding
      trained by the Bbox Mask Loss on each image's boxes;
    - ``bbox_head`` (:class:`BoxRegressionHead`): per-cell box distances
      trained by CIoU at the 3x3 cells around each instance center;
    - ``heatmap_head`` (:class:`MultiPersonHeatmapHead`): the codec's
      multi-person heatmaps (``gt_fields.heatmaps``), focal loss.

    Their gradient reaches the features the model's own head uses: that is
    the supervision. It has :meth:`loss` only (MMPose's head contract for
    training): nothing of it runs at inference. Attach it to a model with
    :class:`AuxBottomupPoseEstimator`'s ``aux_head``.

    Targets: boxes from :func:`collect_instance_boxes` (``GenerateInstanceBoxes``
    after ``GenerateTarget`` in the pipeline, or a codec that packs
    ``bboxes`` such as RTMO's), heatmaps from :func:`collect_heatmaps`.

    Args:
        in_channels: channels of ``feats[in_index]``.
        in_index: which feature map of the tuple the neck takes.
        neck_channels: ASPP output channels (256 in BoIR); ``None``: no neck,
            the parts sit on the features.
        aspp_channels: channels of each ASPP branch (128).
        atrous_rates: ASPP dilations ((12, 24, 36) at stride 4; keep the
            rate times the stride for other strides).
        head_channels: channels inside each part (128).
        heatmap_head / embedding_head / bbox_head: the parts' configs
            (``in_channels`` and ``channels`` are filled in), or ``None``.
        loss_per_image: divide each loss by the number of images, as BoIR's
            release trainer (False: each loss is normalised only inside
            itself).
        prior_prob: prior of the conv biases at initialisation (0.01).
        init_cfg: MMEngine init config (applied by ``init_weights``; the
            heads are already initialised as the release's, see
            :func:`init_release`).
    """

    def __init__(self,
                 in_channels: int,
                 in_index: int = -1,
                 neck_channels: Optional[int] = 256,
                 aspp_channels: int = 128,
                 atrous_rates: Sequence[int] = (12, 24, 36),
                 head_channels: int = 128,
                 heatmap_head: OptConfigType = None,
                 embedding_head: OptConfigType = dict(
                     type='PixelEmbeddingHead', embedding_channels=128,
                     loss=dict(type='BboxMaskLoss', loss_weight=0.25)),
                 bbox_head: OptConfigType = dict(
                     type='BoxRegressionHead',
                     loss=dict(type='CIoULoss', loss_weight=0.25)),
                 loss_per_image: bool = False,
                 prior_prob: float = 0.01,
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg)
        cfgs = dict(heatmap_head=heatmap_head, embedding_head=embedding_head,
                    bbox_head=bbox_head)
        if not any(cfgs.values()):
            raise ValueError('BoxSupervisionHead: every part is switched '
                             'off (heatmap_head, embedding_head and '
                             'bbox_head are None)')
        self.in_index = in_index
        self.loss_per_image = loss_per_image
        self.neck = None
        if neck_channels is not None:
            self.neck = ASPP(in_channels, aspp_channels, neck_channels,
                             atrous_rates)
            in_channels = neck_channels
        for name in PARTS:
            cfg = cfgs[name]
            if cfg:
                cfg = dict(cfg)
                cfg.setdefault('channels', head_channels)
                self.add_module(name, MODELS.build(
                    dict(cfg, in_channels=in_channels)))
            else:
                setattr(self, name, None)
        init_release(self, prior_prob)
        if self.bbox_head is not None:
            self.bbox_head.init_box()

    @property
    def parts(self) -> Dict[str, torch.nn.Module]:
        """The parts switched on, by name."""
        return {n: getattr(self, n) for n in PARTS
                if getattr(self, n) is not None}

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        """The raw maps ``[B, C, H, W]`` of the parts switched on, by part
        name."""
        x = feats if isinstance(feats, Tensor) else feats[self.in_index]
        if self.neck is not None:
            x = self.neck(x)
        return {name: part(x) for name, part in self.parts.items()}

    def loss(self,
             feats: Features,
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> Dict[str, Tensor]:
        """The losses of the parts switched on: ``loss_multi_heatmap``,
        ``loss_bbox_mask`` and ``loss_bbox`` (BoIR's names)."""
        maps = self.forward(feats)
        some = next(iter(maps.values()))
        H, W = some.shape[-2:]
        B = len(some)
        # targets as BoIRHead's: heatmaps in float32, or float64 for a
        # float64 model; boxes in float32 (the maps enter the losses in
        # float32, see aux_heads.py)
        dtype = torch.promote_types(some.dtype, torch.float32)
        losses = {}
        if self.heatmap_head is not None:
            heatmaps, mask = collect_heatmaps(batch_data_samples, some.device,
                                              dtype)
            losses[LOSS_NAMES['heatmap_head']] = self.heatmap_head.loss(
                maps['heatmap_head'], heatmaps, mask)
        if self.embedding_head is not None or self.bbox_head is not None:
            boxes = collect_instance_boxes(batch_data_samples, (W, H),
                                           some.device)
            if self.embedding_head is not None:
                losses[LOSS_NAMES['embedding_head']] = \
                    self.embedding_head.loss(maps['embedding_head'],
                                             boxes.per_image())
            if self.bbox_head is not None:
                losses[LOSS_NAMES['bbox_head']] = self.bbox_head.loss(
                    maps['bbox_head'], boxes.coords, boxes.img_ids,
                    boxes.boxes)
        if self.loss_per_image:
            losses = {k: v / B for k, v in losses.items()}
        return losses
