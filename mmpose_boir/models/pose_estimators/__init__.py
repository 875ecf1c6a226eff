from .aux_bottomup import AuxBottomupPoseEstimator
from .boir import BoIR

__all__ = ['BoIR', 'AuxBottomupPoseEstimator']
