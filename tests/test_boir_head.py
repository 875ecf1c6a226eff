"""BoIRHead and the BoIR estimator on the tiny config and real sample data."""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from mmpose_boir.models.heads import BoIRHead
from mmpose_boir.models.heads.boir_head import AUX_HEADS
from conftest import repo_env

TINY = 'configs/boir/tiny/boir_tiny_coco.py'


@pytest.fixture(scope='module')
def cfg():
    init_default_scope('mmpose')
    return Config.fromfile(TINY)


@pytest.fixture(scope='module')
def batch(cfg):
    """The 4 sample COCO images through the real training pipeline."""
    torch.manual_seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(len(dataset))])


def _model(cfg, **head):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.head.update(head)
    return MODELS.build(model_cfg)


def test_loss_names_finite_and_gradients_reach_every_head(cfg, batch):
    torch.manual_seed(0)
    model = _model(cfg, bbox_head_init='normal')
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_multi_heatmap', 'loss_instance_heatmap',
                           'loss_bbox_mask', 'loss_bbox'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(v > 0 for v in losses.values())
    sum(losses.values()).backward()
    head = model.head
    for name in ('neck', 'center_head', 'multi_heatmap_head', 'embedding_head',
                 'bbox_head', 'instance_head'):
        grads = [p.grad for p in getattr(head, name).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_bbox_mask_loss_trains_the_embedding_head_only_through_it(cfg, batch):
    model = _model(cfg)
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    losses['loss_bbox_mask'].backward()
    emb_grads = [p.grad for p in model.head.embedding_head.parameters()]
    assert all(g is not None for g in emb_grads)
    assert sum(g.abs().sum() for g in emb_grads) > 0
    assert all(p.grad is None
               for p in model.head.instance_head.parameters())


def test_release_bbox_head_init(cfg):
    head = _model(cfg).head
    convs = [m for m in head.bbox_head.modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert all((c.weight == 0).all() for c in convs)
    assert (head.bbox_head[1].bias == 1).all()
    bias = -math.log(0.99 / 0.01)
    torch.testing.assert_close(head.center_head[1].bias,
                               torch.full((1, ), bias))
    torch.testing.assert_close(head.instance_head.heatmap_conv.bias,
                               torch.full((17, ), bias))


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
def test_box_loss_reads_the_3x3_cells_around_centers(cfg, order):
    head = _model(cfg).head
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


def test_predict_never_runs_aux_heads_and_flip_works(cfg):
    model = _model(cfg).eval()
    called = []
    for name in AUX_HEADS:
        getattr(model.head, name).register_forward_hook(
            lambda *a, n=name: called.append(n))
    meta = dict(input_size=(128, 96), input_center=np.array([64., 48.]),
                input_scale=np.array([128., 96.]), flip_indices=cfg.model.get(
                    'flip_indices', list(range(17))))
    sample = PoseDataSample(metainfo=meta)
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        for flip in (True, False):
            model.test_cfg['flip_test'] = flip
            model.test_cfg['score_thr'] = 0.0
            out = model.predict(x, [copy.deepcopy(sample)])[0]
            kpts = out.pred_instances.keypoints
            assert kpts.shape[1:] == (17, 2) and len(kpts) > 0
            assert out.pred_instances.keypoint_scores.shape == kpts.shape[:2]
    assert called == []


def test_deployed_head_has_no_aux_weights_and_loads_training_weights(cfg):
    train_head = _model(cfg).head
    deploy_head = _model(cfg, with_aux_heads=False).head
    assert not any(hasattr(deploy_head, n) for n in AUX_HEADS)
    n_aux = sum(p.numel() for n in AUX_HEADS
                for p in getattr(train_head, n).parameters())
    n_train = sum(p.numel() for p in train_head.parameters())
    n_deploy = sum(p.numel() for p in deploy_head.parameters())
    assert n_train - n_deploy == n_aux > 0
    deploy_head.load_state_dict(train_head.state_dict(), strict=True)
    torch.testing.assert_close(deploy_head.center_head[1].weight,
                               train_head.center_head[1].weight)
    with pytest.raises(RuntimeError, match='deployed head'):
        deploy_head.loss((torch.zeros(1, 120, 32, 32), ), [])


def test_instance_head_shapes():
    from mmpose_boir.models.heads import InstanceKeypointHead
    head = InstanceKeypointHead(in_channels=24, num_keypoints=5, channels=8)
    feats = torch.randn(2, 24, 10, 12)
    params = torch.randn(3, 24)
    coords = torch.tensor([[1, 2], [11, 9], [0, 0]])
    out = head(feats, params, coords, torch.tensor([0, 1, 1]))
    assert out.shape == (3, 5, 10, 12)
    # LayerNorm after each attention's Linear (BoIR, not CID)
    assert isinstance(head.channel_attention.atn[1], torch.nn.LayerNorm)
    assert isinstance(head.spatial_attention.atn[1], torch.nn.LayerNorm)


def test_head_builds_standalone_from_registry():
    head = MODELS.build(dict(type='BoIRHead', in_channels=40,
                             num_keypoints=14, neck_channels=16,
                             aspp_channels=8, head_channels=8,
                             embedding_channels=8, gfd_channels=8))
    assert isinstance(head, BoIRHead)
    assert head.multi_heatmap_head[1].out_channels == 14
    out = head.forward((torch.randn(2, 40, 16, 16), ))
    assert {k: tuple(v.shape) for k, v in out.items()} == dict(
        center=(2, 1, 16, 16), keypoints=(2, 14, 16, 16),
        embeddings=(2, 8, 16, 16), bbox=(2, 4, 16, 16))
    assert list(head.forward((torch.randn(2, 40, 16, 16), ),
                             with_aux=False)) == ['center']


def test_strip_aux_heads_tool(cfg, tmp_path):
    import subprocess
    import sys
    model = _model(cfg)
    src, dst = tmp_path / 'train.pth', tmp_path / 'deploy.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1),
                    optimizer=dict(state={})), src)
    proc = subprocess.run([sys.executable, 'tools/strip_aux_heads.py',
                           str(src), str(dst)], capture_output=True,
                          text=True, env=repo_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = torch.load(dst, weights_only=True)
    assert set(out) == {'state_dict', 'meta'}
    assert not any(k.split('.')[1] in AUX_HEADS for k in out['state_dict'])
    deployed = _model(cfg, with_aux_heads=False)
    deployed.load_state_dict(out['state_dict'], strict=True)


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


def test_ignore_mask_is_packed_for_the_loss(batch):
    """The codec's field table must not drop BottomupGetHeatmapMask(RLE)'s
    heatmap_mask (it does with MMPose's own transform)."""
    sample = batch['data_samples'][0]
    assert 'heatmap_mask' in sample.gt_fields
    assert sample.gt_fields.heatmap_mask.shape[-2:] == \
        sample.gt_fields.heatmaps.shape[-2:]


def test_predict_boxes_are_the_extent_of_confident_keypoints(cfg):
    """``bboxes`` [n, 4]: image pixels (mapped by MMPose's estimator), the
    extent of the keypoints scoring >= test_cfg.bbox_keypoint_thr."""
    model = _model(cfg).eval()
    meta = dict(input_size=(128, 96), input_center=np.array([64., 48.]),
                input_scale=np.array([256., 192.]),
                flip_indices=list(range(17)))
    x = torch.randn(1, 3, 96, 128)
    model.test_cfg['flip_test'] = False
    model.test_cfg['score_thr'] = 0.0
    for thr in (-1.0, 1e9):  # all keypoints / none pass -> all keypoints
        model.test_cfg['bbox_keypoint_thr'] = thr
        with torch.no_grad():
            inst = model.predict(x, [PoseDataSample(metainfo=meta)])[0] \
                .pred_instances
        k = inst.keypoints
        assert inst.bboxes.shape == (len(k), 4) and len(k) > 0
        np.testing.assert_allclose(inst.bboxes[:, :2], k.min(1), rtol=1e-5)
        np.testing.assert_allclose(inst.bboxes[:, 2:], k.max(1), rtol=1e-5)
        assert inst.bbox_scores.shape == (len(k), )


def test_score_thr_filters_every_input_alike(cfg):
    """``test_cfg.score_thr`` keeps the candidates whose center score is
    above it, for every input alike (an ``img_id`` changes nothing): the
    configs' 0.01 (the release's) keeps every candidate, which evaluation
    scores; a higher one the same people above it, with the same numbers
    (up to float32 rounding: the instance head runs on fewer people)."""
    assert cfg.model.test_cfg.score_thr == 0.01
    torch.manual_seed(0)
    model = _model(cfg).eval()
    meta = dict(input_size=(128, 96), input_center=np.array([64., 48.]),
                input_scale=np.array([256., 192.]),
                flip_indices=list(range(17)))
    for m in model.head.modules():  # center scores spread around 0.5
        if isinstance(m, torch.nn.Conv2d):
            m.reset_parameters()  # PyTorch's default (Kaiming) init
    x = torch.randn(2, 3, 96, 128)
    model.test_cfg = dict(model.test_cfg, flip_test=False)

    def predict(*metas):
        with torch.no_grad():
            return [d.pred_instances for d in model.predict(
                x, [PoseDataSample(metainfo=m) for m in metas])]

    everyone = predict(meta, dict(meta, img_id=7))
    assert [len(i) for i in everyone] == [30, 30]  # max_instances
    scores = np.concatenate([i.bbox_scores for i in everyone])
    thr = float(np.median(scores))
    assert (scores > thr).any() and (scores <= thr).any()
    model.test_cfg['score_thr'] = thr
    for people, before in zip(predict(meta, dict(meta, img_id=7)), everyone):
        keep = before.bbox_scores > thr
        assert len(people) == keep.sum()
        np.testing.assert_allclose(people.keypoints, before.keypoints[keep],
                                   rtol=0, atol=1e-3)
        np.testing.assert_allclose(people.bboxes, before.bboxes[keep],
                                   rtol=0, atol=1e-3)
        np.testing.assert_array_equal(people.bbox_scores,
                                      before.bbox_scores[keep])


def test_keypoint_extent_boxes_uses_confident_keypoints_only():
    from mmpose_boir.models.heads.boir_head import keypoint_extent_boxes
    kpts = torch.tensor([[[1., 2.], [5., 7.], [100., 100.]],
                         [[3., 3.], [4., 9.], [0., 0.]]])
    scores = torch.tensor([[0.5, 0.2, 0.01], [0.0, 0.0, 0.0]])
    boxes = keypoint_extent_boxes(kpts, scores, 0.1)
    torch.testing.assert_close(
        boxes, torch.tensor([[1., 2., 5., 7.], [0., 0., 4., 9.]]))
    assert keypoint_extent_boxes(torch.zeros(0, 17, 2),
                                 torch.zeros(0, 17)).shape == (0, 4)
