from .boir_heatmap import BoIRDecoupledHeatmap

__all__ = ['BoIRDecoupledHeatmap']
