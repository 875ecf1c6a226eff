from .box_embedding_sampling import BoxEmbeddingSampling

__all__ = ['BoxEmbeddingSampling']
