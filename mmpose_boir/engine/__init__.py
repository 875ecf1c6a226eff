from .batch_size_hook import BatchSizeCheckHook
from .denormal_hook import FlushDenormalHook
from .optim_wrapper_constructor import BoIROptimWrapperConstructor
from .visualization_hook import BoIRVisualizationHook

__all__ = ['BatchSizeCheckHook', 'BoIROptimWrapperConstructor',
           'BoIRVisualizationHook', 'FlushDenormalHook']
