"""Multi-scale test through ``BottomupPoseEstimator.forward``.

MMPose 1.3's ``BasePoseEstimator.forward`` stacks a list of inputs into one
tensor before calling ``predict``. An image pyramid (``test_cfg.
multiscale_test`` with ``BottomupResize(aug_scales=[...])``) is such a list,
of ``[B, C, H, W]`` batches of different sizes, so the stacking fails (or,
for equal sizes, makes a 5-D tensor that ``predict`` rejects): MMPose's own
multi-scale test cannot run. :func:`forward_keeping_pyramid` hands the
pyramid to ``predict`` unchanged, says clearly when the pipeline and
``test_cfg`` disagree, and leaves every other call to MMPose.
"""
from typing import Callable

import torch


def _is_pyramid(inputs) -> bool:
    return (isinstance(inputs, list) and len(inputs) > 0
            and all(isinstance(x, torch.Tensor) and x.dim() == 4
                    for x in inputs))


def forward_keeping_pyramid(model, forward: Callable, inputs,
                            data_samples=None, mode: str = 'tensor'):
    """``model.forward`` that passes a multi-scale test pyramid through.

    Args:
        model: the pose estimator (a ``BottomupPoseEstimator``).
        forward: the parent class's bound ``forward``
            (``super().forward``), called for everything but a pyramid.
        inputs, data_samples, mode: as ``BasePoseEstimator.forward``; in
            predict mode ``inputs`` may be a list of ``[B, C, H_s, W_s]``
            batches, main scale first.

    Raises:
        ValueError: in predict mode, when ``test_cfg.multiscale_test`` is on
            but the test pipeline made no pyramid (``BottomupResize`` without
            ``aug_scales``), or the other way round.
    """
    if mode != 'predict':
        return forward(inputs, data_samples, mode)
    multiscale = model.test_cfg.get('multiscale_test', False)
    aug_scales = (data_samples[0].metainfo.get('aug_scales')
                  if data_samples else None)
    if multiscale and not aug_scales:
        raise ValueError(
            'model.test_cfg.multiscale_test is True but the test pipeline '
            'made no image pyramid: give BottomupResize aug_scales=[...] '
            '(the extra scales) and pack with PackMultiScalePoseInputs')
    if not multiscale and aug_scales:
        raise ValueError(
            f'the test pipeline made an image pyramid (aug_scales='
            f'{list(aug_scales)}) but model.test_cfg.multiscale_test is '
            'False: set it to True, or remove aug_scales from BottomupResize')
    if multiscale and _is_pyramid(inputs):
        if model.metainfo is not None:
            for data_sample in data_samples:
                data_sample.set_metainfo(model.metainfo)
        return model.predict(inputs, data_samples)
    return forward(inputs, data_samples, mode)
