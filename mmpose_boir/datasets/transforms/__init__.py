from .bottomup_resize import BoIRBottomupResize
from .box_embedding_sampling import BoxEmbeddingSampling
from .heatmap_mask import BottomupGetHeatmapMaskRLE
from .multiscale_packing import PackMultiScalePoseInputs
from .random_affine import BoIRRandomAffine
from .random_flip import BoIRRandomFlip

__all__ = [
    'BoIRBottomupResize', 'BoxEmbeddingSampling', 'BottomupGetHeatmapMaskRLE',
    'PackMultiScalePoseInputs', 'BoIRRandomAffine', 'BoIRRandomFlip'
]
