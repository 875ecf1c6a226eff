from .boir_head import BoIRHead
from .instance_keypoint_head import InstanceKeypointHead

__all__ = ['BoIRHead', 'InstanceKeypointHead']
