from .heads import BoIRHead, InstanceKeypointHead
from .losses import BboxMaskLoss, CIoULoss
from .pose_estimators import BoIR

__all__ = [
    'BoIR', 'BoIRHead', 'InstanceKeypointHead', 'BboxMaskLoss', 'CIoULoss'
]
