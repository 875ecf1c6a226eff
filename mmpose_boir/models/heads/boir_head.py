"""BoIRHead: the ASPP neck, the dense heads and CID's instance keypoint head."""
import math
from typing import Dict, Sequence, Tuple

import torch
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import MODELS
from mmpose.utils.typing import (ConfigType, Features, OptConfigType,
                                 OptSampleList, Predictions)
from torch import Tensor, nn

from ..utils import ASPP, ResidualHead, sigmoid_clamped
from .instance_keypoint_head import InstanceKeypointHead
# AUX_HEADS (the training-only sub-modules) and KEYPOINT_LAYERS (the
# parameters whose shape depends on K) are named once, in loading.py
from .loading import (AUX_HEADS, KEYPOINT_LAYERS,  # noqa: F401
                      check_keypoints_trained, fit_checkpoint,
                      forgive_missing_aux_heads)
from .runtime_cfg import TEST_CFG, TRAIN_CFG, check_runtime_cfg


@MODELS.register_module()
class BoIRHead(BaseHead):
    """BoIR's head (Jeong et al., BMVC 2023), on concatenated HRNet features.

    ``feats -> ASPP neck -> {center head, keypoint head*, embedding head*,
    bbox head*}`` and ``feats -> instance keypoint head`` (CID's GFD with
    LayerNorm). Heads marked * are auxiliary: used by :meth:`loss` only,
    never computed by :meth:`predict`, and not built at all when
    ``with_aux_heads=False`` (the deployed model; their weights in a loaded
    checkpoint are then dropped silently).

    Loading: the head's own ``load_state_dict`` hooks (``loading.py``), in
    any estimator, refuse a checkpoint that does not fit (another model or
    width, an unconverted release checkpoint) and, for a checkpoint with
    another keypoint count, drop its keypoint layers for fine-tuning: until
    :meth:`loss` has run, prediction refuses them. ``test_cfg`` (given by
    the estimator) and ``train_cfg`` are checked against ``runtime_cfg.py``:
    an unknown key or a value of the wrong kind is a ``ValueError``.

    Args:
        in_channels: channels of the backbone features (480 W32, 720 W48).
        num_keypoints: K.
        neck_channels: ASPP output channels (256).
        aspp_channels: channels of each ASPP branch (128).
        atrous_rates: ASPP dilations.
        head_channels: channels inside each dense head (128).
        embedding_channels: D of the pixel embedding (128).
        gfd_channels: channels of the instance keypoint head (64).
        prior_prob: prior of the heatmap biases (0.01).
        with_aux_heads: build the three auxiliary heads.
        bbox_head_init: ``'release'`` (all conv weights 0, biases 1, as the
            release does) or ``'normal'`` (like the other heads, bias 1).
        multi_heatmap_loss / instance_heatmap_loss / bbox_mask_loss /
            bbox_loss: loss configs.
        loss_per_image: divide each loss by the number of images in the
            batch, as the release's trainer does (True); False keeps the
            batch totals (each loss is then normalised only inside itself:
            focal losses by positive pixels, the Bbox Mask Loss by
            instances, CIoU by cells).
        bbox_anchor_order: how the box head's distances are turned into a
            box at each cell. ``'yx'`` (the release): the cell is passed as
            ``(y, x)`` to the distance-to-box conversion, so the box is
            ``(y - l, x - t, l + r, t + b)``; ``'xy'`` (opt-in): the
            geometric ``(x - l, y - t, l + r, t + b)``.
        decoder: the codec config (a :class:`BoIRDecoupledHeatmap`, the
            encoder's); its instance's ``decode_centers`` and
            ``decode_keypoints`` decode the heatmaps. ``None``:
            :data:`DEFAULT_DECODER`.
        init_cfg: MMEngine init config (the heads initialise themselves).
    """

    def __init__(self,
                 in_channels: int = 480,
                 num_keypoints: int = 17,
                 neck_channels: int = 256,
                 aspp_channels: int = 128,
                 atrous_rates: Sequence[int] = (12, 24, 36),
                 head_channels: int = 128,
                 embedding_channels: int = 128,
                 gfd_channels: int = 64,
                 prior_prob: float = 0.01,
                 with_aux_heads: bool = True,
                 bbox_head_init: str = 'release',
                 multi_heatmap_loss: ConfigType = dict(
                     type='FocalHeatmapLoss', loss_weight=1.0),
                 instance_heatmap_loss: ConfigType = dict(
                     type='FocalHeatmapLoss', loss_weight=4.0),
                 bbox_mask_loss: ConfigType = dict(
                     type='BboxMaskLoss', loss_weight=0.25),
                 bbox_loss: ConfigType = dict(
                     type='CIoULoss', loss_weight=0.25),
                 loss_per_image: bool = True,
                 bbox_anchor_order: str = 'yx',
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg)
        if bbox_head_init not in ('release', 'normal'):
            raise ValueError(f'bbox_head_init must be release or normal, '
                             f'got {bbox_head_init!r}')
        if bbox_anchor_order not in ('yx', 'xy'):
            raise ValueError(f"bbox_anchor_order must be 'yx' or 'xy', got "
                             f'{bbox_anchor_order!r}')
        self.loss_per_image = loss_per_image
        self.bbox_anchor_order = bbox_anchor_order
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints
        self.with_aux_heads = with_aux_heads
        self.decoder = _build_codec(decoder)

        self.neck = ASPP(in_channels, aspp_channels, neck_channels,
                         atrous_rates)
        self.center_head = ResidualHead(neck_channels, head_channels, 1)
        if with_aux_heads:
            self.keypoint_head = ResidualHead(neck_channels, head_channels,
                                              num_keypoints)
            self.embedding_head = ResidualHead(neck_channels, head_channels,
                                               embedding_channels)
            self.bbox_head = ResidualHead(neck_channels, head_channels, 4)
        self.instance_head = InstanceKeypointHead(in_channels, num_keypoints,
                                                  gfd_channels)
        self._init_heads(prior_prob, bbox_head_init)

        self.multi_heatmap_loss = MODELS.build(multi_heatmap_loss)
        self.instance_heatmap_loss = MODELS.build(instance_heatmap_loss)
        if with_aux_heads:
            self.bbox_mask_loss = MODELS.build(bbox_mask_loss)
            self.bbox_loss = MODELS.build(bbox_loss)
        # see loading.py: K of a checkpoint whose keypoint layers were
        # dropped and not trained since; the prefix of a load without
        # auxiliary heads, between the two hooks
        self._checkpoint_keypoints = None
        self._aux_missing_at = None
        self.register_load_state_dict_pre_hook(fit_checkpoint)
        self.register_load_state_dict_post_hook(forgive_missing_aux_heads)

    @property
    def test_cfg(self) -> dict:
        """The estimator's ``test_cfg``, which MMPose's estimators copy
        here when they are built; checked when set (see runtime_cfg.py)."""
        return self.__dict__.get('_test_cfg', {})

    @test_cfg.setter
    def test_cfg(self, cfg: dict) -> None:
        check_runtime_cfg(cfg, TEST_CFG, 'model.test_cfg')
        self.__dict__['_test_cfg'] = cfg

    # ------------------------------------------------------------------ init
    def _init_heads(self, prior_prob: float, bbox_head_init: str) -> None:
        """The release's initialisation: every conv and linear weight
        N(0, 0.001), conv biases at the prior ``-log((1 - p) / p)``, linear
        biases 0; the bbox head as ``bbox_head_init`` says."""
        bias = -math.log((1 - prior_prob) / prior_prob)
        for name, child in self.named_children():
            for m in child.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, std=0.001)
                    if m.bias is not None:
                        nn.init.constant_(m.bias, bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=0.001)
                    nn.init.constant_(m.bias, 0)
        if self.with_aux_heads:
            for m in self.bbox_head.modules():
                if isinstance(m, nn.Conv2d):
                    if bbox_head_init == 'release':
                        nn.init.constant_(m.weight, 0.0)
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 1.0)

    # --------------------------------------------------------------- forward
    def forward(self, feats: Features, with_aux: bool = True) -> Dict[str,
                                                                    Tensor]:
        """The dense outputs of the concatenated features ``feats[-1]``.

        Returns a dict of logits ``[B, C, H, W]``: ``center`` (C = 1), and,
        when the auxiliary heads are built and ``with_aux``, ``keypoints``
        (C = K), ``embeddings`` (C = D) and ``bbox`` (C = 4: the distances
        l, t, r, b from each cell to its person's box).
        """
        neck = self.neck(_last(feats))
        out = dict(center=self.center_head(neck))
        if with_aux and self.with_aux_heads:
            out.update(keypoints=self.keypoint_head(neck),
                       embeddings=self.embedding_head(neck),
                       bbox=self.bbox_head(neck))
        return out

    def instance_params(self, feats: Tensor, coords: Tensor,
                        img_ids: Tensor) -> Tensor:
        """Backbone feature vectors at the instance centers.

        Shapes: feats ``[B, C, H, W]``, coords ``[N, 2]`` (x, y), img_ids
        ``[N]`` -> ``[N, C]``.
        """
        return feats[img_ids, :, coords[:, 1], coords[:, 0]]

    # --------------------------------------------------------------- predict
    def predict(self,
                feats: Features,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Predictions:
        """Poses of a batch, as MMPose's heads return them.

        ``feats`` is a tuple of feature maps, or with ``flip_test`` a pair
        ``[feats, feats_of_flipped_input]``; with ``multiscale_test`` a list
        of those, one per scale (the first is the main scale). Flip indices
        come from the data samples' metainfo (the dataset's).

        Returns a list (one per image) of ``InstanceData`` with
        ``keypoints`` (n, K, 2) in input pixels, ``keypoint_scores`` (n, K),
        ``bbox_scores`` (n,) (the center scores) and ``bboxes`` (n, 4)
        (x1, y1, x2, y2 in input pixels: the extent of the person's
        keypoints whose score is at least ``test_cfg.bbox_keypoint_thr``,
        default 0.1, or of all its keypoints when none is; see
        :func:`keypoint_extent_boxes`). The people returned are the decoded
        candidates (``max_instances`` above ``score_threshold``) whose center
        score is above ``test_cfg.score_thr``; ``None`` (the configs) keeps
        every candidate, which the evaluator scores, as the release's
        evaluation does. MMPose's inferencer sets ``score_thr`` to its
        ``bbox_thr`` (default 0.3) for models of type
        ``BottomupPoseEstimator``, as for RTMO. See :meth:`predict_tensors`
        for the computation.
        """
        check_runtime_cfg(test_cfg, TEST_CFG, 'model.test_cfg')
        flip_test = test_cfg.get('flip_test', False)
        multiscale = test_cfg.get('multiscale_test', False)
        B = len(batch_data_samples)
        flip_indices = None
        if flip_test:
            flip_indices = batch_data_samples[0].metainfo.get('flip_indices')
            if flip_indices is None:
                raise ValueError(
                    'BoIRHead: test_cfg.flip_test needs the dataset\'s '
                    '`flip_indices` in the data samples\' metainfo')
        levels = []
        for f in (feats if multiscale else [feats]):
            if flip_test:
                levels.append(torch.cat((_last(f[0]), _last(f[1]).flip(-1))))
            else:
                levels.append(_last(f))
        input_size = batch_data_samples[0].metainfo['input_size']
        out = self.predict_tensors(levels, B, input_size, test_cfg,
                                   flip_indices)

        preds = []
        out = {k: v.cpu() for k, v in out.items()}
        bboxes = keypoint_extent_boxes(
            out['keypoints'], out['keypoint_scores'],
            test_cfg.get('bbox_keypoint_thr', BBOX_KEYPOINT_THR))
        score_thr = test_cfg.get('score_thr')
        for b in range(B):
            sel = out['img_ids'] == b
            if score_thr is not None:
                sel &= out['scores'] > score_thr
            preds.append(InstanceData(
                keypoints=out['keypoints'][sel].numpy(),
                keypoint_scores=out['keypoint_scores'][sel].numpy(),
                bbox_scores=out['scores'][sel].numpy(),
                bboxes=bboxes[sel].numpy()))
        if test_cfg.get('output_heatmaps', False):
            from mmengine.structures import PixelData
            fields = [PixelData(heatmaps=out['center'][b:b + 1])
                      for b in range(B)]
            return preds, fields
        return preds

    def predict_tensors(self,
                        levels: Sequence[Tensor],
                        batch_size: int,
                        input_size: Tuple[int, int],
                        test_cfg: ConfigType = {},
                        flip_indices: Sequence[int] = None,
                        padded: bool = False) -> Dict[str, Tensor]:
        """The one decoding path: predict, export, benchmark, visualisation.

        As the release: center maps (averaged over the flip and the scales),
        the codec's :meth:`~BoIRDecoupledHeatmap.decode_centers`, backbone
        features at each center (and at the same cell of the flipped
        features) into the instance keypoint head, flipped heatmaps averaged
        through ``flip_indices``, the codec's
        :meth:`~BoIRDecoupledHeatmap.decode_keypoints`, keypoint scores
        times the center score. The decoding is the head's codec's
        (``self.decoder``, built from the ``decoder`` config).

        Args:
            levels: per scale (main scale first), the features
                ``[B, C, h, w]``, or with flip test ``[2B, C, h, w]`` whose
                second half are the mirrored input's features already
                flipped back.
            batch_size: B.
            input_size: (w, h) of the main scale's input.
            test_cfg: ``flip_test``, ``max_instances``, ``score_threshold``,
                ``blur_kernel_size``.
            flip_indices: keypoint flip pairs (needed with flip test).
            padded: fixed-size output (``max_instances`` rows per image and
                a ``valid`` mask) for export.

        Returns:
            dict with ``keypoints [N, K, 2]`` (x, y input pixels),
            ``keypoint_scores [N, K]``, ``scores [N]`` (center scores),
            ``img_ids [N]``, ``center [B, H, W]`` (the averaged center map),
            and with ``padded`` ``valid [N]``.

        Raises:
            KeypointCountMismatchError: the keypoint layers were dropped
                when a checkpoint with another keypoint count was loaded
                and have not been trained since (see loading.py).
        """
        check_keypoints_trained(self)
        flip_test = test_cfg.get('flip_test', False)
        kernel = test_cfg.get('blur_kernel_size', 3)
        B = batch_size
        for x in levels:
            if len(x) != (2 * B if flip_test else B):
                raise ValueError(
                    f'BoIRHead.predict_tensors: features of {len(x)} images '
                    f'for a batch of {B}'
                    f'{" with flip test" if flip_test else ""}')
        if flip_test and flip_indices is None:
            raise ValueError('BoIRHead: flip test needs flip_indices')
        centers = []
        for x in levels:
            center = sigmoid_clamped(self.forward(x, with_aux=False)
                                     ['center'])[:, 0]
            if flip_test:
                center = (center[:B] + center[B:]) / 2
            centers.append(center)
        H, W = centers[0].shape[-2:]
        center = torch.stack([_resize(c, (H, W)) for c in centers]).mean(0)

        decoded = self.decoder.decode_centers(
            center, test_cfg.get('max_instances', 30),
            test_cfg.get('score_threshold', 0.01), kernel, padded=padded)
        scores, coords, img_ids = decoded[:3]

        heatmaps = None
        for x in levels:
            h, w = x.shape[-2:]
            lvl_coords = _rescale_coords(coords, (W, H), (w, h))
            hm = _resize(self._instance_heatmaps(
                x, lvl_coords, img_ids, B, flip_test, flip_indices), (H, W))
            heatmaps = hm if heatmaps is None else heatmaps + hm
        if len(levels) > 1:
            heatmaps = heatmaps / len(levels)
        keypoints, keypoint_scores = self.decoder.decode_keypoints(
            heatmaps, kernel)
        stride = torch.tensor([input_size[0] / W, input_size[1] / H],
                              dtype=keypoints.dtype, device=keypoints.device)
        out = dict(keypoints=keypoints * stride,
                   keypoint_scores=keypoint_scores * scores[:, None],
                   scores=scores, img_ids=img_ids, center=center)
        if padded:
            out['valid'] = decoded[3]
        return out

    def _instance_heatmaps(self, x: Tensor, coords: Tensor, img_ids: Tensor,
                           batch_size: int, flip_test: bool,
                           flip_indices: Sequence[int]) -> Tensor:
        """Instance heatmaps ``[N, K, h, w]`` at one scale, flip-averaged.

        ``x`` is ``[B, C, h, w]``, or ``[2B, C, h, w]`` with the flipped
        image's features (already flipped back) in the second half.
        """
        if flip_test:
            coords = torch.cat((coords, coords))
            img_ids = torch.cat((img_ids, img_ids + batch_size))
        params = self.instance_params(x, coords, img_ids)
        # the deploy form's logits are not for autograd: in place, fewer
        # fresh maps
        hm = sigmoid_clamped(self.instance_head(x, params, coords, img_ids),
                             inplace=self.instance_head.deploy)
        if flip_test:
            n = len(hm) // 2
            index = torch.as_tensor(flip_indices, dtype=torch.long,
                                    device=hm.device)
            # (a + b) / 2, in place (x / 2 == x * 0.5 exactly)
            hm = hm[:n].add_(hm[n:].index_select(1, index)).mul_(0.5)
        return hm

    # ------------------------------------------------------------------ loss
    def loss(self,
             feats: Features,
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """The four BoIR losses, each logged by name (see docs/method.md).

        Training the head also trains keypoint layers dropped at load (a
        checkpoint with another keypoint count): prediction accepts them
        from here on."""
        if not self.with_aux_heads:
            raise RuntimeError('BoIRHead(with_aux_heads=False) is a deployed '
                               'head and cannot compute training losses')
        check_runtime_cfg(train_cfg, TRAIN_CFG, 'model.train_cfg')
        self._checkpoint_keypoints = None
        x = _last(feats)
        B = len(x)
        # the targets in float32, or in float64 for a model widened to it
        # (as the release's batch in its float64 run); the predicted maps
        # enter the losses in float32, as the release casts them
        dtype = torch.promote_types(x.dtype, torch.float32)
        targets = _collect_targets(batch_data_samples, self.num_keypoints,
                                   x.device, dtype)
        dense = self.forward(x)
        multi_logits = torch.cat((dense['keypoints'], dense['center']), dim=1)

        coords, img_ids = targets['coords'], targets['img_ids']
        with torch.autocast(device_type=x.device.type, enabled=False):
            losses = {
                'loss_multi_heatmap':
                self.multi_heatmap_loss(
                    sigmoid_clamped(multi_logits), targets['heatmaps'], None,
                    targets['heatmap_mask'])
            }
            boxes = targets['boxes']
            losses['loss_bbox_mask'] = self.bbox_mask_loss(
                dense['embeddings'].float(),
                [boxes[img_ids == b] for b in range(B)])
            losses['loss_bbox'] = self._box_loss(dense['bbox'].float(),
                                                 coords, img_ids, boxes)

        max_instances = train_cfg.get('max_train_instances', -1)
        if 0 < max_instances < len(img_ids):
            keep = torch.randperm(len(img_ids), device=x.device)[:max_instances]
            coords, img_ids = coords[keep], img_ids[keep]
            inst_heatmaps = targets['instance_heatmaps'][keep]
            inst_weights = targets['keypoint_weights'][keep]
        else:
            inst_heatmaps = targets['instance_heatmaps']
            inst_weights = targets['keypoint_weights']
        if len(img_ids):
            params = self.instance_params(x, coords, img_ids)
            logits = self.instance_head(x, params, coords, img_ids)
            with torch.autocast(device_type=x.device.type, enabled=False):
                losses['loss_instance_heatmap'] = self.instance_heatmap_loss(
                    sigmoid_clamped(logits), inst_heatmaps, inst_weights)
        else:
            # keep every parameter in the graph (DDP) with a zero loss
            losses['loss_instance_heatmap'] = sum(
                p.sum() for p in self.instance_head.parameters()) * 0.0
        if self.loss_per_image:
            losses = {k: v / B for k, v in losses.items()}
        return losses

    def _box_loss(self, box_dist: Tensor, coords: Tensor, img_ids: Tensor,
                  boxes: Tensor) -> Tensor:
        """CIoU of the boxes predicted at the 3x3 cells around each center.

        Shapes: box_dist ``[B, 4, H, W]`` (l, t, r, b), coords ``[N, 2]``,
        img_ids ``[N]``, boxes ``[N, 4]`` (x, y, w, h).
        """
        if len(img_ids) == 0:
            return box_dist.sum() * 0.0
        H, W = box_dist.shape[-2:]
        offsets = torch.tensor([(dx, dy) for dy in (-1, 0, 1)
                                for dx in (-1, 0, 1)], device=coords.device)
        cells = coords[:, None, :] + offsets[None]  # [N, 9, 2]
        inside = ((cells[..., 0] >= 0) & (cells[..., 0] < W) &
                  (cells[..., 1] >= 0) & (cells[..., 1] < H))
        cells, ids = cells[inside], img_ids[:, None].expand(-1, 9)[inside]
        target = boxes[:, None].expand(-1, 9, -1)[inside]
        ltrb = box_dist[ids, :, cells[:, 1], cells[:, 0]]
        anchor = cells.to(ltrb.dtype)
        if self.bbox_anchor_order == 'yx':
            anchor = anchor.flip(-1)
        pred = torch.cat((anchor - ltrb[:, :2], ltrb[:, :2] + ltrb[:, 2:]),
                         dim=1)
        return self.bbox_loss(pred, target)


#: the codec a head decodes with when its config names none: the release's
#: W32 COCO sizes (decoding reads only ``peak_rounding``; ``decode`` also
#: ``scale_factor``)
DEFAULT_DECODER = dict(type='BoIRDecoupledHeatmap', input_size=(512, 512),
                       heatmap_size=(128, 128))


def _build_codec(cfg: OptConfigType):
    """The head's codec (``decoder``, or :data:`DEFAULT_DECODER`)."""
    from mmpose.registry import KEYPOINT_CODECS
    codec = KEYPOINT_CODECS.build(DEFAULT_DECODER if cfg is None else cfg)
    for name in ('decode_centers', 'decode_keypoints'):
        if not callable(getattr(codec, name, None)):
            raise TypeError(
                f'BoIRHead: decoder {type(codec).__name__} has no {name}(); '
                "use type='BoIRDecoupledHeatmap' (or a codec derived from it)")
    return codec


def _last(feats: Features) -> Tensor:
    """The (single, concatenated) feature map: ``feats[-1]`` of a tuple."""
    return feats if isinstance(feats, Tensor) else feats[-1]


def _resize(maps: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinearly resize ``[..., h, w]`` maps to ``size`` = (H, W)."""
    if tuple(maps.shape[-2:]) == tuple(size) or maps.numel() == 0:
        return maps
    shape = maps.shape
    out = torch.nn.functional.interpolate(
        maps.reshape(-1, 1, *shape[-2:]), size=size, mode='bilinear',
        align_corners=False)
    return out.reshape(*shape[:-2], *size)


def _rescale_coords(coords: Tensor, src: Tuple[int, int],
                    dst: Tuple[int, int]) -> Tensor:
    """Map (x, y) cells from a ``src`` (W, H) map onto a ``dst`` (w, h) map."""
    if tuple(src) == tuple(dst):
        return coords
    scale = torch.tensor([dst[0] / src[0], dst[1] / src[1]],
                         device=coords.device)
    upper = torch.tensor([dst[0] - 1, dst[1] - 1], device=coords.device)
    out = ((coords.float() + 0.5) * scale - 0.5).round().long()
    return torch.minimum(out.clamp(min=0), upper)


def _collect_targets(samples: OptSampleList, num_keypoints: int,
                     device: torch.device,
                     dtype: torch.dtype = torch.float32) -> Dict[str, Tensor]:
    """Stack the encoded targets of a batch (see BoIRDecoupledHeatmap):
    the heatmaps, mask and keypoint weights (float32 values, as the data
    pipeline makes them) in ``dtype``, the boxes in float32 (the box losses
    compute in float32)."""
    heatmaps, masks, coords, ids, inst_hms, weights, boxes = ([] for _ in
                                                               range(7))
    for i, d in enumerate(samples):
        labels = d.gt_instance_labels
        if 'instance_boxes' not in labels:
            raise KeyError(
                f'{d.metainfo.get("img_path", "sample %d" % i)}: no '
                '`instance_boxes` in gt_instance_labels; add '
                'BoxEmbeddingSampling after GenerateTarget in the pipeline')
        n = len(labels.instance_coords)
        if len(labels.instance_boxes) != n:
            raise ValueError(
                f'{d.metainfo.get("img_path", "sample %d" % i)}: '
                f'{len(labels.instance_boxes)} boxes for {n} instances')
        heatmaps.append(d.gt_fields.heatmaps)
        if 'heatmap_mask' in d.gt_fields:
            masks.append(d.gt_fields.heatmap_mask)
        coords.append(torch.as_tensor(labels.instance_coords).reshape(-1, 2))
        ids.append(torch.full((n, ), i, dtype=torch.long))
        hm = d.gt_fields.instance_heatmaps
        inst_hms.append(hm.reshape(n, num_keypoints, *hm.shape[-2:]))
        weights.append(torch.as_tensor(labels.keypoint_weights).reshape(
            n, num_keypoints))
        boxes.append(torch.as_tensor(labels.instance_boxes).reshape(n, 4))

    def values(t: Tensor) -> Tensor:
        return t.to(device).float().to(dtype)

    return dict(
        heatmaps=values(torch.stack(heatmaps)),
        heatmap_mask=(values(torch.stack(masks))
                      if len(masks) == len(samples) else None),
        coords=torch.cat(coords).long().to(device),
        img_ids=torch.cat(ids).to(device),
        instance_heatmaps=values(torch.cat(inst_hms)),
        keypoint_weights=values(torch.cat(weights)),
        boxes=torch.cat(boxes).to(device).float())


#: default ``test_cfg.bbox_keypoint_thr``: keypoint scores are the heatmap
#: value times the center score, so 0.1 is e.g. a 0.3 heatmap peak of a
#: person found with center score 0.33; the keypoints of a clearly detected
#: person are well above it, those of occluded or absent joints below.
BBOX_KEYPOINT_THR = 0.1


def keypoint_extent_boxes(keypoints: Tensor, keypoint_scores: Tensor,
                          thr: float = BBOX_KEYPOINT_THR) -> Tensor:
    """Each person's box: the extent of its confident keypoints.

    Shapes: keypoints ``[N, K, 2]``, keypoint_scores ``[N, K]`` ->
    ``[N, 4]`` (x1, y1, x2, y2, same units as ``keypoints``). A keypoint is
    confident when its score is ``>= thr``; a person without any confident
    keypoint gets the extent of all its keypoints.
    """
    if keypoints.numel() == 0:
        return keypoints.new_zeros((keypoints.shape[0], 4))
    keep = keypoint_scores >= thr
    keep = torch.where(keep.any(-1, keepdim=True), keep,
                       torch.ones_like(keep))[..., None]
    inf = torch.finfo(keypoints.dtype).max
    lo = torch.where(keep, keypoints, keypoints.new_tensor(inf)).amin(1)
    hi = torch.where(keep, keypoints, keypoints.new_tensor(-inf)).amax(1)
    return torch.cat((lo, hi), -1)
