from .aux_heads import (BoxRegressionHead, MultiPersonHeatmapHead,
                        PixelEmbeddingHead)
from .boir_head import BoIRHead
from .box_supervision_head import BoxSupervisionHead
from .instance_keypoint_head import InstanceKeypointHead
from .targets import InstanceBoxes, collect_heatmaps, collect_instance_boxes

__all__ = [
    'BoIRHead', 'InstanceKeypointHead', 'BoxSupervisionHead',
    'PixelEmbeddingHead', 'BoxRegressionHead', 'MultiPersonHeatmapHead',
    'InstanceBoxes', 'collect_instance_boxes', 'collect_heatmaps'
]
