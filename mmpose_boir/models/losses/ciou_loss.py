"""Complete-IoU box loss as the BoIR release computes it."""
import math

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class CIoULoss(nn.Module):
    """CIoU loss (Zheng et al., AAAI 2020) on (x, y, w, h) boxes.

    ``1 - IoU + rho^2 / c^2 + alpha * v`` with ``alpha = v / (v - IoU + 1)``
    computed without gradient. Heights get ``eps`` added (as the release
    does), so zero-size boxes give a finite loss.

    Why not an existing one: mmdet's ``ciou_loss`` applies the aspect term
    only where IoU > 0.5 and clamps the result, and torchvision's
    ``complete_box_iou_loss`` divides w by h without eps, which is NaN for
    the zero-height boxes that clipping produces.

    Args:
        eps: numerical guard (the release uses 1e-10).
        loss_weight: multiplier of the returned loss.

    Shapes: pred ``[N, 4]``, target ``[N, 4]`` -> scalar mean over N
    (0 attached to the graph if N == 0).
    """

    def __init__(self, eps: float = 1e-10, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.eps = eps
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.numel() == 0:
            return pred.sum() * 0.0
        # float32, or float64 when either box is (half ones cast up)
        dtype = torch.promote_types(
            torch.promote_types(pred.dtype, target.dtype), torch.float32)
        pred, target = pred.to(dtype), target.to(dtype)
        eps = self.eps
        px1, py1, pw, ph = pred.unbind(-1)
        tx1, ty1, tw, th = target.unbind(-1)
        px2, py2, tx2, ty2 = px1 + pw, py1 + ph, tx1 + tw, ty1 + th
        inter = ((torch.min(px2, tx2) - torch.max(px1, tx1)).clamp(min=0) *
                 (torch.min(py2, ty2) - torch.max(py1, ty1)).clamp(min=0))
        pw, ph = px2 - px1, py2 - py1 + eps
        tw, th = tx2 - tx1, ty2 - ty1 + eps
        union = pw * ph + tw * th - inter + eps
        iou = inter / union
        cw = torch.max(px2, tx2) - torch.min(px1, tx1)
        ch = torch.max(py2, ty2) - torch.min(py1, ty1)
        c2 = cw**2 + ch**2 + eps
        rho2 = ((tx1 + tx2 - px1 - px2)**2 + (ty1 + ty2 - py1 - py2)**2) / 4
        v = (4 / math.pi**2) * (torch.atan(tw / th) - torch.atan(pw / ph))**2
        with torch.no_grad():
            # v > 0 implies a positive denominator; where v == 0 the term is
            # 0 (in float32 1 + eps == 1, so a perfect box would give 0/0)
            alpha = torch.where(v > 0, v / (v - iou + (1 + eps)),
                                torch.zeros_like(v))
        loss = 1 - (iou - (rho2 / c2 + v * alpha))
        return loss.mean() * self.loss_weight
