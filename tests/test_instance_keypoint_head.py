"""The factorised instance keypoint head computes the direct form's function
(``reference_loops.direct_form``: the release's per-instance arithmetic)."""
import pytest
import torch

from mmpose_boir.models.heads.instance_keypoint_head import \
    InstanceKeypointHead
from reference_loops import direct_form


@pytest.mark.parametrize('channels', [8, 12])
def test_factorised_equals_direct_form_with_gradients(channels):
    torch.manual_seed(0)
    head = InstanceKeypointHead(20, 5, channels)
    for p in head.parameters():  # away from the tiny default init
        torch.nn.init.normal_(p, std=0.3)
    feats = torch.randn(3, 20, 9, 11, requires_grad=True)
    img_ids = torch.tensor([2, 0, 0, 1, 2, 2])
    coords = torch.tensor([[0, 0], [10, 8], [3, 4], [5, 5], [3, 4], [7, 1]])
    params = feats[img_ids, :, coords[:, 1], coords[:, 0]]

    ours = head(feats, params, coords, img_ids)
    ref = direct_form(head, feats, params, coords, img_ids)
    assert ours.shape == (6, 5, 9, 11)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)

    weights = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * weights).sum(),
                                [feats] + list(head.parameters()),
                                retain_graph=True)
    ref_grads = torch.autograd.grad((ref * weights).sum(),
                                    [feats] + list(head.parameters()))
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)


def test_no_instances():
    head = InstanceKeypointHead(20, 5, 8)
    out = head(torch.randn(2, 20, 6, 6), torch.zeros(0, 20),
               torch.zeros(0, 2, dtype=torch.long),
               torch.zeros(0, dtype=torch.long))
    assert out.shape == (0, 5, 6, 6)
