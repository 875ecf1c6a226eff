from .aspp import ASPP
from .heatmaps import sigmoid_clamped, smooth_heatmaps
from .residual_head import ResidualHead

__all__ = ['ASPP', 'ResidualHead', 'sigmoid_clamped', 'smooth_heatmaps']
