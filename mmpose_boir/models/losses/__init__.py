from .bbox_mask_loss import BboxMaskLoss
from .ciou_loss import CIoULoss

__all__ = ['BboxMaskLoss', 'CIoULoss']
