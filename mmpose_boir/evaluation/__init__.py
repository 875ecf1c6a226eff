from .coco_metric import BoIRCocoMetric

__all__ = ['BoIRCocoMetric']
