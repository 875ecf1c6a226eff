"""The BoIR bottom-up pose estimator."""
import torch
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS

# the head's loading error, importable from here as before
from ..heads.loading import CheckpointMismatchError  # noqa: F401


@MODELS.register_module()
class BoIR(BottomupPoseEstimator):
    """BoIR: Box-supervised Instance Representation (Jeong et al., BMVC 2023).

    ``HRNet -> FeatureMapProcessor(concat=True) -> BoIRHead`` in MMPose's
    :class:`BottomupPoseEstimator`, which already does what BoIR needs
    (flip test by a second pass on the mirrored input, mapping keypoints
    back to the image). Everything BoIR-specific lives in :class:`BoIRHead`
    (the loading policy and the ``test_cfg`` / ``train_cfg`` checks
    included), so the paper configs use ``BottomupPoseEstimator`` itself,
    which MMPose's inferencer recognises as a bottom-up model (its
    ``bbox_thr``; see docs/api.md). This class adds what MMPose 1.3's
    estimator cannot do: a multi-scale test pyramid
    (``test_cfg.multiscale_test`` with ``BottomupResize(aug_scales=[...])``,
    :class:`PackMultiScalePoseInputs` and :class:`BoIRDataPreprocessor`)
    reaching ``predict``.
    """

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """``BottomupPoseEstimator.forward``; in predict mode with
        ``multiscale_test`` ``inputs`` may be a list of ``[B, C, H_s, W_s]``
        batches, one per scale, main scale first.

        MMPose 1.3's ``forward`` stacks a list of inputs into one tensor, so
        its own multi-scale test cannot run: a pyramid goes to ``predict``
        unchanged here instead.

        Raises:
            ValueError: in predict mode, when ``test_cfg.multiscale_test``
                and the test pipeline's ``aug_scales`` disagree.
        """
        if mode != 'predict':
            return super().forward(inputs, data_samples, mode)
        multiscale = self.test_cfg.get('multiscale_test', False)
        aug_scales = (data_samples[0].metainfo.get('aug_scales')
                      if data_samples else None)
        if multiscale and not aug_scales:
            raise ValueError(
                'model.test_cfg.multiscale_test is True but the test '
                'pipeline made no image pyramid: give BottomupResize '
                'aug_scales=[...] (the extra scales) and pack with '
                'PackMultiScalePoseInputs')
        if not multiscale and aug_scales:
            raise ValueError(
                f'the test pipeline made an image pyramid (aug_scales='
                f'{list(aug_scales)}) but model.test_cfg.multiscale_test is '
                'False: set it to True, or remove aug_scales from '
                'BottomupResize')
        is_pyramid = (isinstance(inputs, list) and len(inputs) > 0
                      and all(isinstance(x, torch.Tensor) and x.dim() == 4
                              for x in inputs))
        if not (multiscale and is_pyramid):
            return super().forward(inputs, data_samples, mode)
        if self.metainfo is not None:
            for data_sample in data_samples:
                data_sample.set_metainfo(self.metainfo)
        return self.predict(inputs, data_samples)
