"""BoIRHead (mmpose_boir/models/heads/boir_head.py) in the tiny model, on
real sample data: the losses and where their gradients go, the release's
initialisation, prediction (aux heads never run, flip test, boxes from
confident keypoints, ``score_thr`` alike for every input), the deployed
head without auxiliary weights, a standalone build, the packed ignore mask;
mixed precision: under bf16 autocast the losses stay float32, and
``tools/train.py --amp`` on a GPU when present.

The release trains with AMP. The losses that must stay in float32 (the two
focal heatmap losses, the Bbox Mask Loss and the CIoU loss) receive float32
inputs and return float32 values while the network runs in bf16.
"""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from conftest import (LOSS_NAMES, TINY_CONFIG, read_scalars, run_cmd,
                      tiny_config, train_cmd)
from mmpose_boir.models.heads import BoIRHead
from mmpose_boir.models.heads.boir_head import AUX_HEADS

# tiny tensors: one thread is as fast, and bf16 CPU kernels slow down a lot
# under OpenMP oversubscription when other processes share the CPU
pytestmark = pytest.mark.usefixtures('one_torch_thread')

LOSS_MODULES = ('multi_heatmap_loss', 'instance_heatmap_loss',
                'bbox_mask_loss', 'bbox_loss')


@pytest.fixture(scope='module')
def cfg():
    return tiny_config()


@pytest.fixture(scope='module')
def batch(cfg):
    """The 4 sample COCO images through the real training pipeline."""
    torch.manual_seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(len(dataset))])


@pytest.fixture(scope='module')
def amp_batch(cfg):
    """Two sample COCO images through the real training pipeline."""
    np.random.seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(2)])


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


# ------------------------------------------------------- mixed precision
def _amp_model(cfg):
    torch.manual_seed(0)
    model_cfg = copy.deepcopy(cfg.model)
    # non-zero bbox head weights so every loss has gradients to check
    model_cfg.head.bbox_head_init = 'normal'
    return MODELS.build(model_cfg)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)


def _record_loss_dtypes(head):
    """Forward hooks noting the dtypes each loss module sees and returns."""
    seen = {}

    def hook(name):
        def fn(module, args, output):
            seen[name] = ({t.dtype for t in _tensors(args)
                           if t.is_floating_point()}, output.dtype)
        return fn

    handles = [getattr(head, n).register_forward_hook(hook(n))
               for n in LOSS_MODULES]
    return seen, handles


def test_bf16_autocast_losses_stay_float32(cfg, amp_batch):
    model = _amp_model(cfg)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(amp_batch), training=True)
    with torch.no_grad():
        fp32 = model(**copy.deepcopy(data), mode='loss')

    seen, handles = _record_loss_dtypes(model.head)
    neck_dtype = []
    handles.append(model.head.neck.register_forward_hook(
        lambda m, a, out: neck_dtype.append(out.dtype)))
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model(**data, mode='loss')
    finally:
        for h in handles:
            h.remove()

    # autocast really ran the network in bf16 ...
    assert neck_dtype == [torch.bfloat16]
    # ... but every loss got float32 inputs and returned float32
    assert set(seen) == set(LOSS_MODULES)
    for name, (inputs, output) in seen.items():
        assert inputs == {torch.float32}, (name, inputs)
        assert output == torch.float32, (name, output)
    assert set(losses) == set(LOSS_NAMES)
    for name, value in losses.items():
        assert value.dtype == torch.float32, name
        assert torch.isfinite(value), (name, value)
        # bf16 activations change the values only slightly
        value, ref = float(value.detach()), float(fp32[name])
        assert math.isclose(value, ref, rel_tol=0.05, abs_tol=0.02), (
            name, value, ref)

    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert all(g is None or g.dtype == torch.float32 for g in grads)
    assert sum(g is not None and bool(g.abs().sum() > 0) for g in grads) > 0


def test_bf16_autocast_training_steps_stay_finite(cfg, amp_batch):
    """A few optimizer steps with the forward pass in bf16."""
    from mmengine.optim import build_optim_wrapper
    model = _amp_model(cfg)
    model.train()
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(
        cfg.optim_wrapper))
    for _ in range(3):
        data = model.data_preprocessor(copy.deepcopy(amp_batch), training=True)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model(**data, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        assert all(math.isfinite(float(v)) for v in log_vars.values())
    for p in model.parameters():
        assert torch.isfinite(p).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_training_on_gpu(tmp_path, dtype):
    """`tools/train.py --amp` (MMEngine's AmpOptimWrapper) on a GPU."""
    run_cmd(train_cmd(TINY_CONFIG, tmp_path, '--amp', '--cfg-options',
                      'train_cfg.max_epochs=1', 'train_cfg.val_interval=10',
                      f'optim_wrapper.dtype={dtype}'))
    records = read_scalars(str(tmp_path))
    assert records
    for rec in records:
        for name in LOSS_NAMES:
            assert math.isfinite(rec[name]), rec
