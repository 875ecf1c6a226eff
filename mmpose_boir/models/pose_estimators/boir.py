"""The BoIR bottom-up pose estimator."""
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS


@MODELS.register_module()
class BoIR(BottomupPoseEstimator):
    """BoIR: Box-supervised Instance Representation (Jeong et al., BMVC 2023).

    ``HRNet -> FeatureMapProcessor(concat=True) -> BoIRHead``. MMPose's
    :class:`BottomupPoseEstimator` already does what BoIR needs (flip test
    by a second pass on the mirrored input, multi-scale inputs, mapping
    keypoints back to the image), so this class only names the model;
    everything BoIR-specific lives in :class:`BoIRHead`.
    """
