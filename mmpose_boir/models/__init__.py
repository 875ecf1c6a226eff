from .data_preprocessors import BoIRDataPreprocessor
from .heads import BoIRHead, InstanceKeypointHead
from .losses import BboxMaskLoss, CIoULoss
from .pose_estimators import BoIR

__all__ = [
    'BoIR', 'BoIRDataPreprocessor', 'BoIRHead', 'InstanceKeypointHead',
    'BboxMaskLoss', 'CIoULoss'
]
