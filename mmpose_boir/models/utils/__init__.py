from .aspp import ASPP
from .residual_head import ResidualHead

__all__ = ['ASPP', 'ResidualHead']
