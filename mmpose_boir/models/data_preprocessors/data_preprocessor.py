"""A data preprocessor that also batches image pyramids (multi-scale test).

With :class:`~mmpose_boir.datasets.transforms.PackMultiScalePoseInputs`
each test sample's ``inputs`` is a list of ``[C, H, W]`` tensors (main scale
first); MMEngine's ``pseudo_collate`` turns a batch of those into one
sequence of per-image tensors per scale. ``PoseDataPreprocessor`` expects a
sequence of tensors, so this class runs it once per scale and returns the list
of normalised, padded ``[B, C, H, W]`` batches that
``BottomupPoseEstimator.predict`` takes when ``test_cfg.multiscale_test`` is
on. Every other input (training, single-scale test) goes straight to
``PoseDataPreprocessor``.
"""
from typing import Sequence

import torch
from mmpose.models.data_preprocessors import PoseDataPreprocessor
from mmpose.registry import MODELS


def _is_pyramid_batch(inputs) -> bool:
    return (isinstance(inputs, Sequence) and len(inputs) > 0
            and all(isinstance(x, Sequence) and len(x) > 0
                    and all(isinstance(t, torch.Tensor) for t in x)
                    for x in inputs))


@MODELS.register_module()
class BoIRDataPreprocessor(PoseDataPreprocessor):
    """``PoseDataPreprocessor`` that also takes image pyramids.

    The metainfo set on the data samples (``batch_input_shape``,
    ``pad_shape``) describes the main (first) scale.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if training or not _is_pyramid_batch(inputs):
            return super().forward(data, training)
        scales = [list(x) for x in inputs]
        batches = [None] * len(scales)
        out = None
        # the main scale last, so that its metainfo is the one that stays
        for i in reversed(range(len(scales))):
            out = super().forward(dict(data, inputs=scales[i]), training)
            batches[i] = out['inputs']
        return {'inputs': batches, 'data_samples': out['data_samples']}
