"""BboxMaskLoss (the release's arithmetic, docs/method.md) on hand-made
inputs."""
import pytest
import torch
import torch.nn.functional as F

from mmpose_boir.models.losses import BboxMaskLoss
from reference_loops import reference_bbox_mask_loss

MODES = [(bg, c) for bg in ('image', 'instance') for c in ('box', 'release')]


def _random_boxes(n, H, W, g):
    xy = torch.rand(n, 2, generator=g) * torch.tensor([W - 3, H - 3])
    wh = torch.rand(n, 2, generator=g) * torch.tensor([W, H]) * 0.6
    wh = torch.minimum(wh, torch.tensor([W - 1, H - 1]) - xy)
    return torch.cat((xy, wh), 1)


@pytest.mark.parametrize('background,center', MODES)
def test_matches_reference_on_random_input(background, center):
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(3, 8, 20, 24, generator=g)
    boxes = [_random_boxes(n, 20, 24, g) for n in (4, 0, 3)]
    boxes[2][0] = torch.tensor([5.0, 5.0, 0.5, 9.0])  # too narrow: skipped
    loss = BboxMaskLoss(background=background, center=center, loss_weight=1.)
    ours = loss(emb, boxes)
    ref = reference_bbox_mask_loss(emb, boxes, background=background,
                                   center=center)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('background,center', MODES)
def test_gradients_match_reference_with_detached_similarity(
        background, center):
    g = torch.Generator().manual_seed(1)
    emb = torch.randn(2, 6, 16, 16, generator=g)
    # a small beta keeps the similarity weights far from 0 and 1, so that
    # backpropagating through them would change the gradient
    boxes = [torch.tensor([[2., 3., 8., 9.], [7., 1., 6., 12.]]),
             torch.tensor([[1., 1., 10., 10.]])]
    kw = dict(beta=0.5, background=background, center=center)
    a = emb.clone().requires_grad_()
    BboxMaskLoss(loss_weight=1., **kw)(a, boxes).backward()
    b = emb.clone().requires_grad_()
    reference_bbox_mask_loss(b, boxes, **kw).backward()
    c = emb.clone().requires_grad_()
    reference_bbox_mask_loss(c, boxes, detach_similarity=False,
                             **kw).backward()
    assert a.grad.abs().sum() > 0
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)
    if background == 'instance':
        # only the in-box pull uses the weighted positive sample; there the
        # non-detached variant is measurably different, so the check can fail
        assert (c.grad - b.grad).abs().max() > 1e-4


def _constant_maps(D, H, W, boxes, inside, outside):
    emb = outside[:, None, None].expand(D, H, W).clone()
    for (x, y, w, h), v in zip(boxes, inside):
        emb[:, y:y + h, x:x + w] = v[:, None, None]
    return emb[None]


def test_identical_embeddings_give_large_push_and_separated_give_small():
    D, H, W = 4, 32, 32
    boxes = [(2, 2, 10, 12), (18, 16, 10, 12)]
    box_t = [torch.tensor(boxes, dtype=torch.float32)]
    eye = torch.eye(D)
    loss = BboxMaskLoss(background='instance', loss_weight=1.0)
    same = loss(_constant_maps(D, H, W, boxes, [eye[0], eye[0]], eye[0]),
                box_t)
    separated = loss(
        _constant_maps(D, H, W, boxes, [eye[0], eye[1]], eye[2]), box_t)
    # identical: every exp(-beta*d) is 1 -> 2 * (1 + 1) + 0.5*4/1 = 6, / 2
    torch.testing.assert_close(same, torch.tensor(3.0))
    # separated: the self pairs' constant exp(0) terms remain, 1 per
    # out-box push and 0.5 * 2 / 1 for the cross push: (2 + 1) / 2 = 1.5
    assert 1.5 <= separated < 1.5 + 0.05
    assert same - separated > 1.4


def test_image_mode_pushes_centers_and_background():
    D, H, W = 4, 32, 32
    boxes = [(2, 2, 10, 12), (18, 16, 10, 12)]
    box_t = [torch.tensor(boxes, dtype=torch.float32)]
    eye = torch.eye(D)
    loss = BboxMaskLoss(background='image', loss_weight=1.0)
    same = loss(_constant_maps(D, H, W, boxes, [eye[0], eye[0]], eye[0]),
                box_t)
    separated = loss(
        _constant_maps(D, H, W, boxes, [eye[0], eye[1]], eye[2]), box_t)
    # 3 identical vectors: 0.5 * 9 / 2, divided by 2 boxes
    torch.testing.assert_close(same, torch.tensor(2.25 / 2))
    # 3 orthogonal unit vectors: d = 2/D -> exp(-5) off the diagonal
    expected = 0.5 * (3 + 6 * torch.exp(torch.tensor(-5.0))) / 2 / 2
    torch.testing.assert_close(separated, expected, atol=2e-2, rtol=0)
    assert same > separated


def test_single_person_image_gives_signal():
    g = torch.Generator().manual_seed(2)
    emb = torch.randn(1, 8, 16, 16, generator=g, requires_grad=True)
    loss = BboxMaskLoss(background='image', loss_weight=1.0)(
        emb, [torch.tensor([[3., 3., 8., 8.]])])
    loss.backward()
    assert loss > 0 and emb.grad.abs().sum() > 0


def test_skipped_boxes_still_count_and_no_boxes_is_zero():
    emb = torch.randn(1, 8, 16, 16)
    one = torch.tensor([[3., 3., 8., 8.]])
    # (0, 0, 0, 0) spans cells [0, 1): under 2 cells, skipped. (A zero-size box
    # inside the map still spans 2 cells through the one-cell margin.)
    tiny = torch.tensor([[3., 3., 8., 8.], [0., 0., 0., 0.]])
    loss = BboxMaskLoss(loss_weight=1.0)
    torch.testing.assert_close(loss(emb, [tiny]), loss(emb, [one]) / 2)
    empty = torch.randn(2, 8, 16, 16, requires_grad=True)
    zero = loss(empty, [torch.zeros(0, 4), torch.zeros(0, 4)])
    assert zero.item() == 0.0 and zero.requires_grad


def test_loss_weight_and_input_checks():
    emb = torch.randn(1, 8, 16, 16)
    boxes = [torch.tensor([[3., 3., 8., 8.]])]
    torch.testing.assert_close(
        BboxMaskLoss(loss_weight=0.25)(emb, boxes),
        0.25 * BboxMaskLoss(loss_weight=1.0)(emb, boxes))
    with pytest.raises(ValueError, match='background'):
        BboxMaskLoss(background='pixel')
    with pytest.raises(ValueError, match='center'):
        BboxMaskLoss(center='middle')
    with pytest.raises(ValueError, match='box tensors'):
        BboxMaskLoss()(emb, [])


def test_out_of_map_and_whole_map_boxes_are_finite():
    emb = torch.randn(1, 8, 16, 16, requires_grad=True)
    boxes = [torch.tensor([[-5., -5., 40., 40.], [0., 0., 15., 15.],
                           [30., 30., 5., 5.]])]
    for bg in ('image', 'instance'):
        out = BboxMaskLoss(background=bg)(emb, boxes)
        assert torch.isfinite(out)
        out.backward()
        assert torch.isfinite(emb.grad).all()


def test_registered_for_mmpose_configs():
    from mmpose.registry import MODELS
    loss = MODELS.build(dict(type='BboxMaskLoss', background='instance'))
    assert isinstance(loss, BboxMaskLoss) and loss.background == 'instance'
    # usable beside MMPose's own heads, e.g. on CID's features
    feats = F.normalize(torch.randn(2, 32, 16, 16), dim=1)
    assert torch.isfinite(loss(feats, [torch.tensor([[1., 1., 9., 9.]]),
                                       torch.zeros(0, 4)]))
