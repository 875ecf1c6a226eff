"""ASPP (mmpose_boir/models/utils/aspp.py): its image pooling trains on a
batch of one image."""
import torch


def test_aspp_trains_on_a_batch_of_one():
    from mmpose_boir.models.utils import ASPP
    aspp = ASPP(8, 4, 6, (1, 2, 3)).train()
    out = aspp(torch.randn(1, 8, 9, 9))
    assert out.shape == (1, 6, 9, 9) and torch.isfinite(out).all()
    out.sum().backward()
    # batches of more than one image still use (and update) batch statistics
    pooling_bn = aspp.convs[-1][2]
    before = pooling_bn.running_mean.clone()
    aspp(torch.randn(2, 8, 9, 9))
    assert not torch.equal(before, pooling_bn.running_mean)
