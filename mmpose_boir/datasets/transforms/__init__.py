from .box_embedding_sampling import BoxEmbeddingSampling
from .heatmap_mask import BottomupGetHeatmapMaskRLE

__all__ = ['BoxEmbeddingSampling', 'BottomupGetHeatmapMaskRLE']
