"""CIoULoss (mmpose_boir/models/losses/ciou_loss.py) on hand-made boxes."""
import torch

from mmpose_boir.models.losses import CIoULoss


def test_ciou_loss_perfect_degenerate_and_shifted_boxes():
    loss = CIoULoss(loss_weight=1.0)
    box = torch.tensor([[2., 3., 10., 20.]])
    assert loss(box, box) == 0
    zero = torch.tensor([[5., 5., 0., 0.]])
    assert torch.isfinite(loss(zero, zero)) and torch.isfinite(loss(box, zero))
    shifted = box + torch.tensor([[4., 0., 0., 0.]])
    # IoU 6/14 (the intersection is 6 x 20 over a union of 14 x 20), center
    # distance 4 over an enclosing diagonal of 14 x 20, same aspect: v = 0
    expected = 1 - 120 / 280 + 16 / (14**2 + 20**2)
    torch.testing.assert_close(loss(shifted, box), torch.tensor(expected))
    pred = torch.tensor([[1., 1., 4., 8.]], requires_grad=True)
    loss(pred, box).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
