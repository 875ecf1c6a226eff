"""The deployed BoIR network as one exportable ``nn.Module``.

:class:`BoIRDeployModel` runs, on one image that is already warped to the
network's input size, everything that the
deployed BoIR computes:

``normalise -> HRNet -> concat -> ASPP neck -> center head -> top-k centers
(fixed maximum, padded) -> instance keypoint head -> heatmap decoding``

with flip test when the config asks for it. All steps are tensor operations
(no Python loop over instances, no data-dependent shapes), so the module
traces to ONNX (see ``tools/export_onnx.py``). Its outputs have a fixed
number ``M = max_instances`` of rows; ``valid`` says which rows are
detections (center score above the threshold). For the valid rows the
results equal :meth:`BoIRHead.predict`'s before the mapping back to the
original image, which :func:`keypoints_to_image` does.

What stays outside the graph: reading and warping the image
(:func:`preprocess`), mapping keypoints back to the image and the pose NMS
that the evaluator applies.
"""
import copy
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from ..models.heads.runtime_cfg import PEOPLE_SCORE_THR, people_score_thr

OUTPUT_NAMES = ('keypoints', 'keypoint_scores', 'scores', 'valid')


class BoIRDeployModel(nn.Module):
    """Backbone, neck, center head, top-k and instance head of a BoIR model.

    Args:
        model: a built BoIR estimator (with or without auxiliary heads;
            they are not used). It is switched to deploy (MMPose's
            ``switch_to_deploy()``: the instance keypoint head's inference
            form, which the exported graph computes).
        max_instances: fixed number of output rows M (default: the model's
            ``test_cfg.max_instances``, 30).
        score_thr: a row is ``valid`` when its center score is above
            it (default: ``PEOPLE_SCORE_THR``, 0.1, as ``tools/demo.py``, or
            the model's own people threshold, ``test_cfg.score_thr``, when
            that is higher; the configs' 0.01 is every candidate).
        flip_test: average with the mirrored image (default:
            ``test_cfg.flip_test``).
        flip_indices: keypoint flip pairs, the dataset's (required with
            ``flip_test``; :func:`build_deploy_model` reads them from the
            config's dataset metainfo).
        blur_kernel_size: smoothing kernel (default ``test_cfg``, 3).
        normalize: include the data preprocessor's channel order swap and
            mean/std normalisation in the graph (input: the warped image as
            read by OpenCV, float32 0-255). With False, the input is the
            already normalised tensor.

    Input: ``image`` ``[1, 3, H, W]`` float32. Outputs (see
    :data:`OUTPUT_NAMES`): ``keypoints`` ``[M, K, 2]`` (x, y) in input
    pixels, ``keypoint_scores`` ``[M, K]`` (heatmap value x center score),
    ``scores`` ``[M]`` center scores in descending order, ``valid`` ``[M]``
    bool.
    """

    def __init__(self,
                 model: nn.Module,
                 max_instances: Optional[int] = None,
                 score_thr: Optional[float] = None,
                 flip_test: Optional[bool] = None,
                 flip_indices: Optional[Sequence[int]] = None,
                 blur_kernel_size: Optional[int] = None,
                 normalize: bool = True) -> None:
        super().__init__()
        test_cfg = dict(getattr(model, 'test_cfg', None) or {})
        model.switch_to_deploy()
        self.backbone = model.backbone
        self.neck = model.neck if getattr(model, 'with_neck', False) else None
        self.head = model.head
        self.max_instances = int(max_instances if max_instances is not None
                                 else test_cfg.get('max_instances', 30))
        if score_thr is None:
            score_thr = max(PEOPLE_SCORE_THR, people_score_thr(test_cfg))
        self.score_thr = float(score_thr)
        self.flip_test = bool(flip_test if flip_test is not None else
                              test_cfg.get('flip_test', False))
        self.blur_kernel_size = int(
            blur_kernel_size if blur_kernel_size is not None else
            test_cfg.get('blur_kernel_size', 3))
        K = self.head.num_keypoints
        if flip_indices is None and self.flip_test:
            raise ValueError(
                f'flip_indices are needed for flip test ({K} keypoints): '
                "pass the dataset's (build_deploy_model reads them from the "
                "config's dataset metainfo)")
        self.register_buffer(
            'flip_indices',
            torch.as_tensor(list(flip_indices or range(K)), dtype=torch.long),
            persistent=False)

        self.normalize = normalize
        pre = getattr(model, 'data_preprocessor', None)
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)
        self.swap_channels = bool(getattr(pre, '_channel_conversion', False))
        self.register_buffer(
            'mean', (mean.detach().clone().reshape(1, -1, 1, 1)
                     if mean is not None else torch.zeros(1, 3, 1, 1)),
            persistent=False)
        self.register_buffer(
            'std', (std.detach().clone().reshape(1, -1, 1, 1)
                    if std is not None else torch.ones(1, 3, 1, 1)),
            persistent=False)

    # ------------------------------------------------------------ network
    def features(self, inputs: Tensor) -> Tensor:
        """Concatenated backbone features ``[B, C, h, w]`` of ``inputs``."""
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats if isinstance(feats, Tensor) else feats[-1]

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        x = image.float()
        if self.normalize:
            if self.swap_channels:
                x = x.flip(1)
            x = (x - self.mean) / self.std
        if self.flip_test:
            x = torch.cat((x, x.flip(-1)))
        feats = self.features(x)
        if self.flip_test:
            feats = torch.cat((feats[:1], feats[1:].flip(-1)))
        out = self.head.predict_tensors(
            [feats], 1, (image.shape[-1], image.shape[-2]),
            dict(flip_test=self.flip_test, max_instances=self.max_instances,
                 score_thr=self.score_thr,
                 blur_kernel_size=self.blur_kernel_size),
            self.flip_indices, padded=True)
        return (out['keypoints'], out['keypoint_scores'], out['scores'],
                out['valid'])


def build_deploy_model(config, checkpoint: Optional[str] = None,
                       device: str = 'cpu', cfg_options: Optional[dict] = None,
                       **kwargs) -> BoIRDeployModel:
    """Build the deployed BoIR from a config (path or ``Config``) and an
    optional checkpoint; ``kwargs`` go to :class:`BoIRDeployModel`.

    The auxiliary heads are not built (``with_aux_heads=False``) and the
    backbone's ImageNet ``init_cfg`` is dropped (the checkpoint replaces it).
    """
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    cfg = copy.deepcopy(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.model.head.with_aux_heads = False
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    if kwargs.get('flip_indices') is None:
        kwargs['flip_indices'] = _flip_indices_from_config(cfg)
    model.eval()
    return BoIRDeployModel(model, **kwargs).to(device).eval()


def _flip_indices_from_config(cfg) -> Optional[list]:
    """The test dataset's flip indices (MMPose's dataset metainfo)."""
    from mmpose.apis.inference import dataset_meta_from_config
    meta = dataset_meta_from_config(cfg, 'test')
    return list(meta['flip_indices']) if meta else None


# ------------------------------------------------------------------- host
def preprocess(img: np.ndarray, input_size: Tuple[int, int] = (512, 512),
               size_factor: int = 64,
               resize_mode: str = 'fit') -> Tuple[np.ndarray, Dict]:
    """Warp an image (H x W x 3, as read by OpenCV) to the network input.

    Uses :class:`BoIRBottomupResize` (the test pipeline's resize, with the
    release's whole-pixel image center). ``resize_mode='fit'`` gives exactly
    ``input_size`` (what a fixed-shape ONNX model needs); ``'expand'`` is
    the test pipeline's mode (short side to the input size, so the shape
    follows the image's aspect ratio).

    Returns ``(tensor [1, 3, h, w] float32, meta)`` with ``meta`` holding
    ``input_size``, ``input_center`` and ``input_scale`` for
    :func:`keypoints_to_image`.
    """
    from mmpose_boir.datasets.transforms import BoIRBottomupResize
    resize = BoIRBottomupResize(input_size=input_size, size_factor=size_factor,
                            resize_mode=resize_mode)
    results = resize(
        dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2]))
    warped = results['img']
    tensor = np.ascontiguousarray(
        warped.transpose(2, 0, 1)[None].astype(np.float32))
    meta = dict(input_size=np.asarray(results['input_size'], np.float32),
                input_center=np.asarray(results['input_center'], np.float32),
                input_scale=np.asarray(results['input_scale'], np.float32))
    return tensor, meta


def keypoints_to_image(keypoints: np.ndarray, meta: Dict) -> np.ndarray:
    """Map keypoints from input pixels back to the original image (as
    MMPose's ``BottomupPoseEstimator.add_pred_to_datasample``)."""
    size, center, scale = (meta['input_size'], meta['input_center'],
                           meta['input_scale'])
    return keypoints / size * scale + center - 0.5 * scale
