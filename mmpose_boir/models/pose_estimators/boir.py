"""The BoIR bottom-up pose estimator."""
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS

from .multiscale import forward_keeping_pyramid


@MODELS.register_module()
class BoIR(BottomupPoseEstimator):
    """BoIR: Box-supervised Instance Representation (Jeong et al., BMVC 2023).

    ``HRNet -> FeatureMapProcessor(concat=True) -> BoIRHead``. MMPose's
    :class:`BottomupPoseEstimator` already does what BoIR needs (flip test
    by a second pass on the mirrored input, mapping keypoints back to the
    image), so this class only names the model and lets a multi-scale test
    pyramid (``test_cfg.multiscale_test`` with ``BottomupResize(aug_scales=
    [...])``, :class:`PackMultiScalePoseInputs` and
    :class:`BoIRDataPreprocessor`) reach ``predict``; everything
    BoIR-specific lives in :class:`BoIRHead`.
    """

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """``BottomupPoseEstimator.forward``; in predict mode with
        ``multiscale_test`` ``inputs`` may be a list of ``[B, C, H_s, W_s]``
        batches, one per scale, main scale first."""
        return forward_keeping_pyramid(self, super().forward, inputs,
                                       data_samples, mode)
