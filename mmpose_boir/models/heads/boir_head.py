"""BoIRHead: the ASPP neck, the dense heads and CID's instance keypoint head."""
from typing import Dict, Sequence, Tuple

import torch
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import MODELS
from mmpose.utils.typing import (ConfigType, Features, OptConfigType,
                                 OptSampleList, Predictions)
from torch import Tensor

from ..utils import ASPP, ResidualHead, sigmoid_clamped
from .aux_heads import (BoxRegressionHead, MultiPersonHeatmapHead,
                        PixelEmbeddingHead, heatmap_loss, init_release)
from .instance_keypoint_head import InstanceKeypointHead
# AUX_HEADS (the training-only sub-modules) and KEYPOINT_LAYERS (the
# parameters whose shape depends on K) are named once, in loading.py
from .loading import (AUX_HEADS, AUX_MODULES,  # noqa: F401
                      KEYPOINT_LAYERS, RENAMED_MODULES,
                      check_keypoints_trained, fit_checkpoint,
                      forgive_missing_aux_heads)
from .runtime_cfg import (TEST_CFG, TRAIN_CFG, check_runtime_cfg,
                          people_score_thr)
from .targets import collect_heatmaps, collect_instance_boxes


@MODELS.register_module()
class BoIRHead(BaseHead):
    """BoIR's head (Jeong et al., BMVC 2023), on concatenated HRNet features.

    ``feats -> ASPP neck -> {center head, keypoint head*, embedding head*,
    bbox head*}`` and ``feats -> instance keypoint head`` (CID's GFD with
    LayerNorm). Heads marked * are auxiliary: used by :meth:`loss` only,
    never computed by :meth:`predict`, and not built at all when
    ``with_aux_heads=False`` (the deployed model; their weights in a loaded
    checkpoint are then dropped silently).

    The auxiliary heads are the box-supervision parts that
    :class:`BoxSupervisionHead` attaches to other models (``aux_heads.py``),
    each with its loss: ``multi_heatmap_head`` a
    :class:`MultiPersonHeatmapHead`
    (K channels; the center head's channel is appended for its focal loss),
    ``embedding_head`` a :class:`PixelEmbeddingHead` (Bbox Mask Loss),
    ``bbox_head`` a :class:`BoxRegressionHead` (CIoU). Within each, the
    state-dict keys follow the release's layout (``multi_heatmap_head.0.*``,
    ``multi_heatmap_head.1.*``, ...); checkpoints that call the first
    ``keypoint_head`` load too (``loading.RENAMED_MODULES``).

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
        with_aux_heads: build the auxiliary heads (``False``: the deployed
            head, which cannot compute the losses).
        aux_heads: which auxiliary heads to build (the paper's ablation
            switches, configs/boir/ablation/): any of ``'multi_heatmap_head'``,
            ``'embedding_head'`` (and its Bbox Mask Loss), ``'bbox_head'``.
            Without the keypoint head the center head is trained by the same
            focal loss on the center channel alone.
        aux_neck: put the auxiliary heads on a second ASPP of their own
            (training only, ``aux_neck.*``) instead of the center head's.
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
                 aux_heads: Sequence[str] = AUX_HEADS,
                 aux_neck: bool = False,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg)
        if bbox_head_init not in ('release', 'normal'):
            raise ValueError(f'bbox_head_init must be release or normal, '
                             f'got {bbox_head_init!r}')
        if bbox_anchor_order not in ('yx', 'xy'):
            raise ValueError(f"bbox_anchor_order must be 'yx' or 'xy', got "
                             f'{bbox_anchor_order!r}')
        unknown = [n for n in aux_heads if n not in AUX_HEADS]
        if unknown or isinstance(aux_heads, str):
            renamed = [f'{n!r} is now {RENAMED_MODULES[n]!r}'
                       for n in unknown if n in RENAMED_MODULES]
            raise ValueError(
                f'BoIRHead: aux_heads must name some of {AUX_HEADS}, '
                f'got {aux_heads!r}' +
                (f' ({", ".join(renamed)})' if renamed else ''))
        self.loss_per_image = loss_per_image
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints
        self.with_aux_heads = with_aux_heads
        self.decoder = _build_codec(decoder)

        self.neck = ASPP(in_channels, aspp_channels, neck_channels,
                         atrous_rates)
        self.center_head = ResidualHead(neck_channels, head_channels, 1)
        # the auxiliary modules exist only when built (absent attributes,
        # as the deployed head has always had them)
        if with_aux_heads:
            if aux_neck:
                self.aux_neck = ASPP(in_channels, aspp_channels,
                                     neck_channels, atrous_rates)
            if 'multi_heatmap_head' in aux_heads:
                self.multi_heatmap_head = MultiPersonHeatmapHead(
                    neck_channels, num_keypoints, head_channels,
                    loss=multi_heatmap_loss)
            if 'embedding_head' in aux_heads:
                self.embedding_head = PixelEmbeddingHead(
                    neck_channels, head_channels, embedding_channels,
                    loss=bbox_mask_loss)
            if 'bbox_head' in aux_heads:
                self.bbox_head = BoxRegressionHead(
                    neck_channels, head_channels, loss=bbox_loss,
                    anchor_order=bbox_anchor_order, init=bbox_head_init)
        self.instance_head = InstanceKeypointHead(in_channels, num_keypoints,
                                                  gfd_channels)
        self._init_heads(prior_prob)

        # the center heatmap's loss when no keypoint head carries it
        if self._aux('multi_heatmap_head') is None:
            self.center_heatmap_loss = MODELS.build(multi_heatmap_loss)
        self.instance_heatmap_loss = MODELS.build(instance_heatmap_loss)
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

    def _aux(self, name: str):
        """The auxiliary module ``name`` (see :data:`AUX_MODULES`), or
        ``None`` when it is not built."""
        return getattr(self, name, None)

    @property
    def multi_heatmap_loss(self):
        """The multi-person heatmap loss (``multi_heatmap_loss``)."""
        if self._aux('multi_heatmap_head') is not None:
            return self.multi_heatmap_head.loss_module
        return self.center_heatmap_loss

    @property
    def bbox_mask_loss(self):
        """The Bbox Mask Loss (``bbox_mask_loss``), or ``None``."""
        return getattr(self._aux('embedding_head'), 'loss_module', None)

    @property
    def bbox_loss(self):
        """The box loss (``bbox_loss``), or ``None``."""
        return getattr(self._aux('bbox_head'), 'loss_module', None)

    @property
    def bbox_anchor_order(self):
        """The bbox head's ``anchor_order`` (``bbox_anchor_order``), or
        ``None``."""
        return getattr(self._aux('bbox_head'), 'anchor_order', None)

    # ------------------------------------------------------------------ init
    def _init_heads(self, prior_prob: float) -> None:
        """The release's initialisation (:func:`init_release`, module by
        module in their order), then the bbox head's own
        (``bbox_head_init``)."""
        for _, child in self.named_children():
            init_release(child, prior_prob)
        if self._aux('bbox_head') is not None:
            self.bbox_head.init_box()

    # --------------------------------------------------------------- forward
    def forward(self, feats: Features, with_aux: bool = True) -> Dict[str,
                                                                    Tensor]:
        """The dense outputs of the concatenated features ``feats[-1]``.

        Returns a dict of logits ``[B, C, H, W]``: ``center`` (C = 1), and,
        with ``with_aux``, those of the auxiliary heads that are built:
        ``keypoints`` (C = K), ``embeddings`` (C = D) and ``bbox`` (C = 4:
        the distances l, t, r, b from each cell to its person's box).
        """
        x = _last(feats)
        neck = self.neck(x)
        out = dict(center=self.center_head(neck))
        if with_aux and self.with_aux_heads:
            aux_neck = self._aux('aux_neck')
            aux = neck if aux_neck is None else aux_neck(x)
            for key, name in (('keypoints', 'multi_heatmap_head'),
                              ('embeddings', 'embedding_head'),
                              ('bbox', 'bbox_head')):
                if self._aux(name) is not None:
                    out[key] = getattr(self, name)(aux)
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
        candidates: at most ``max_instances`` center peaks whose score is
        above ``test_cfg.score_thr`` (:func:`people_score_thr`; the configs'
        0.01 is the release's, every candidate that the evaluation scores).
        MMPose's inferencer sets ``score_thr`` to its ``bbox_thr`` (default
        0.3) for models of type ``BottomupPoseEstimator``, as for RTMO. See
        :meth:`predict_tensors` for the computation.
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
        for b in range(B):
            sel = out['img_ids'] == b
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
            test_cfg: ``flip_test``, ``max_instances``, ``score_thr``
                (:func:`people_score_thr`), ``blur_kernel_size``.
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
            people_score_thr(test_cfg), kernel, padded=padded)
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
        """The BoIR losses, each logged by name (see docs/method.md):
        ``loss_multi_heatmap``, ``loss_instance_heatmap``, and with their
        auxiliary heads ``loss_bbox_mask`` and ``loss_bbox``.

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
        heatmaps, heatmap_mask = collect_heatmaps(batch_data_samples,
                                                  x.device, dtype)
        boxes = collect_instance_boxes(batch_data_samples,
                                       tuple(x.shape[-2:][::-1]), x.device)
        targets = _collect_targets(batch_data_samples, self.num_keypoints,
                                   x.device, dtype)
        dense = self.forward(x)

        coords, img_ids = boxes.coords, boxes.img_ids
        if self._aux('multi_heatmap_head') is not None:
            losses = dict(loss_multi_heatmap=self.multi_heatmap_head.loss(
                torch.cat((dense['keypoints'], dense['center']), dim=1),
                heatmaps, heatmap_mask))
        else:  # the center channel alone
            losses = dict(loss_multi_heatmap=heatmap_loss(
                self.center_heatmap_loss, dense['center'], heatmaps[:, -1:],
                heatmap_mask))
        if self._aux('embedding_head') is not None:
            losses['loss_bbox_mask'] = self.embedding_head.loss(
                dense['embeddings'], boxes.per_image())
        if self._aux('bbox_head') is not None:
            losses['loss_bbox'] = self.bbox_head.loss(dense['bbox'], coords,
                                                      img_ids, boxes.boxes)

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
    """Stack each instance's encoded targets (see BoIRDecoupledHeatmap):
    ``instance_heatmaps [N, K, H, W]`` and ``keypoint_weights [N, K]``
    (float32 values, as the data pipeline makes them) in ``dtype``. The
    multi-person heatmaps and the boxes: :func:`collect_heatmaps` and
    :func:`collect_instance_boxes`, which check the samples first."""
    inst_hms, weights = [], []
    for d in samples:
        n = len(d.gt_instance_labels.instance_coords)
        hm = d.gt_fields.instance_heatmaps
        inst_hms.append(hm.reshape(n, num_keypoints, *hm.shape[-2:]))
        weights.append(torch.as_tensor(
            d.gt_instance_labels.keypoint_weights).reshape(n, num_keypoints))

    def values(t: Tensor) -> Tensor:
        return t.to(device).float().to(dtype)

    return dict(instance_heatmaps=values(torch.cat(inst_hms)),
                keypoint_weights=values(torch.cat(weights)))


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
