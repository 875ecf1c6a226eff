"""BoIR's auxiliary heads (mmpose_boir/models/heads/aux_heads.py): BoIRHead
is built from the box-supervision parts (and computes what
BoxSupervisionHead computes with them), the box head's loss reads the 3x3
cells around each center in either anchor order, and the ablation switches
(which auxiliary heads are built, the center's loss without the keypoint
head, the auxiliary heads on their own neck). The ablation configs
training: test_configs/test_ablation_configs.py."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG
from mmpose_boir.models.heads import (BoxRegressionHead,
                                      MultiPersonHeatmapHead,
                                      PixelEmbeddingHead)
from tiny_training import packed_samples


def _tiny_head(**switches):
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    init_default_scope('mmpose')
    torch.manual_seed(0)
    return MODELS.build(dict(cfg.model.head, **switches)), cfg


@pytest.fixture(scope='module')
def samples():
    import numpy as np
    np.random.seed(0)
    return packed_samples(Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG)),
                          indices=(0, 1, 2, 3))


def test_boir_head_is_built_from_the_parts(samples):
    """The same parts as BoxSupervisionHead's, under BoIR's names and keys;
    the loss modules are the parts' own."""
    head, cfg = _tiny_head()
    assert isinstance(head.multi_heatmap_head, MultiPersonHeatmapHead)
    assert isinstance(head.embedding_head, PixelEmbeddingHead)
    assert isinstance(head.bbox_head, BoxRegressionHead)
    assert head.bbox_head.anchor_order == 'yx'
    assert head.bbox_head.init == 'release'
    assert head.bbox_mask_loss is head.embedding_head.loss_module
    assert head.bbox_loss is head.bbox_head.loss_module
    assert head.multi_heatmap_loss is head.multi_heatmap_head.loss_module
    # BoIR's keys: each part keeps ResidualHead's layout
    keys = [k for k in head.state_dict()
            if k.startswith('multi_heatmap_head.')]
    assert keys and all(k.split('.')[1] in ('0', '1') for k in keys)
    # the release's box head: all conv weights 0, biases 1
    for m in head.bbox_head.modules():
        if isinstance(m, torch.nn.Conv2d):
            assert not m.weight.any()
            if m.bias is not None:
                assert (m.bias == 1).all()
    x = torch.rand(len(samples), cfg.model.head.in_channels, 32, 32)
    losses = head.loss((x, ), samples)
    assert set(losses) == {'loss_multi_heatmap', 'loss_instance_heatmap',
                           'loss_bbox_mask', 'loss_bbox'}


def _perfect_box_map(coords, boxes, H, W, garbage=50.0, order='xy'):
    """(l, t, r, b) that reproduce each box in the 3x3 cells around its
    center and garbage elsewhere; with ``order='yx'`` for the release's
    decoding, which takes the cell (px, py) as the anchor (py, px)."""
    dist = torch.full((1, 4, H, W), garbage)
    for (cx, cy), (x, y, w, h) in zip(coords.tolist(), boxes.tolist()):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                px, py = cx + dx, cy + dy
                if 0 <= px < W and 0 <= py < H:
                    ax, ay = (px, py) if order == 'xy' else (py, px)
                    dist[0, :, py, px] = torch.tensor(
                        [ax - x, ay - y, x + w - ax, y + h - ay])
    return dist


@pytest.mark.parametrize('order', ['xy', 'yx'])
def test_box_loss_reads_the_3x3_cells_around_centers(order):
    head, _ = _tiny_head()
    head.bbox_head.anchor_order = order
    coords = torch.tensor([[0, 0], [10, 12]])  # a corner: 4 cells only
    boxes = torch.tensor([[0., 0., 6., 9.], [5., 4., 10., 14.]])
    ids = torch.zeros(2, dtype=torch.long)
    good = _perfect_box_map(coords, boxes, 32, 32, order=order)
    assert head.bbox_head.loss(good, coords, ids, boxes) < 1e-5
    # the other decoding reads the same map as wrong boxes
    head.bbox_head.anchor_order = 'yx' if order == 'xy' else 'xy'
    assert head.bbox_head.loss(good, coords, ids, boxes) > 1e-2
    head.bbox_head.anchor_order = order
    bad = good.clone()
    bad[0, :, 13, 11] += 3.0  # inside the 3x3 of the second center
    assert head.bbox_head.loss(bad, coords, ids, boxes) > 1e-3


def test_without_the_keypoint_head_the_center_keeps_its_focal_loss(samples):
    from mmpose_boir.models.heads.aux_heads import heatmap_loss
    from mmpose_boir.models.heads.targets import collect_heatmaps
    head, cfg = _tiny_head(aux_heads=('embedding_head', 'bbox_head'))
    assert not hasattr(head, 'multi_heatmap_head')
    x = torch.rand(len(samples), cfg.model.head.in_channels, 32, 32)
    loss = head.loss((x, ), samples)['loss_multi_heatmap']
    heatmaps, mask = collect_heatmaps(samples)
    center = head.forward(x)['center']
    focal = MODELS.build(cfg.model.head.multi_heatmap_loss)
    expected = heatmap_loss(focal, center, heatmaps[:, -1:], mask)
    torch.testing.assert_close(loss, expected / len(samples))
    assert loss > 0


def test_auxiliary_heads_on_their_own_neck(samples):
    """aux_neck: the auxiliary losses reach the backbone features through
    the second ASPP, not the center head's neck."""
    head, cfg = _tiny_head(aux_neck=True)
    assert hasattr(head, 'aux_neck')
    assert sorted(k.split('.')[0] for k in head.state_dict()
                  if k.startswith('aux_neck.'))[:1] == ['aux_neck']
    x = torch.rand(len(samples), cfg.model.head.in_channels, 32, 32,
                   requires_grad=True)
    losses = head.loss((x, ), samples)
    (losses['loss_bbox_mask'] + losses['loss_bbox']).backward()
    assert all(p.grad is None or not p.grad.any()
               for p in head.neck.parameters())
    assert any(p.grad is not None and p.grad.any()
               for p in head.aux_neck.parameters())
    assert x.grad.abs().sum() > 0
    # a deployed head has no auxiliary neck either
    deployed, _ = _tiny_head(aux_neck=True, with_aux_heads=False)
    assert not hasattr(deployed, 'aux_neck')
    assert not any(k.startswith('aux_neck.')
                   for k in deployed.state_dict())


def test_unknown_auxiliary_head_is_refused():
    with pytest.raises(ValueError, match="aux_heads.*'bbox_heads'"):
        _tiny_head(aux_heads=('bbox_heads', ))
    # the earlier name of the multi-person heatmap head is named as such
    with pytest.raises(ValueError, match="'keypoint_head' is now "
                       "'multi_heatmap_head'"):
        _tiny_head(aux_heads=('keypoint_head', 'bbox_head'))


def test_the_parts_compute_what_box_supervision_computes(samples):
    """BoIRHead's auxiliary losses and BoxSupervisionHead's, with the same
    parts and weights on the same neck output, are the same numbers."""
    head, cfg = _tiny_head()
    box = MODELS.build(dict(
        type='BoxSupervisionHead', in_channels=cfg.model.head.in_channels,
        neck_channels=cfg.model.head.neck_channels,
        aspp_channels=cfg.model.head.aspp_channels,
        atrous_rates=cfg.model.head.atrous_rates,
        head_channels=cfg.model.head.head_channels,
        heatmap_head=None,
        embedding_head=dict(
            type='PixelEmbeddingHead',
            embedding_channels=cfg.model.head.embedding_channels,
            loss=cfg.model.head.bbox_mask_loss),
        bbox_head=dict(type='BoxRegressionHead', anchor_order='yx',
                       init='release', loss=cfg.model.head.bbox_loss),
        loss_per_image=True))
    state = {f'neck.{k}': v for k, v in head.neck.state_dict().items()}
    for part in ('embedding_head', 'bbox_head'):
        state.update({f'{part}.{k}': v for k, v in
                      getattr(head, part).state_dict().items()})
    box.load_state_dict(state, strict=True)
    head.eval()
    box.eval()
    x = torch.rand(len(samples), cfg.model.head.in_channels, 32, 32)
    ours = head.loss((x, ), samples)
    theirs = box.loss((x, ), samples)
    for name in ('loss_bbox_mask', 'loss_bbox'):
        assert torch.equal(ours[name], theirs[name]), name
