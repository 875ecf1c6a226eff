"""Box supervision on MMPose's own bottom-up models (CID, RTMO): the configs
train, inference and export are the plain model's, checkpoints load both
ways, the box transform recovers CID's instances, the parts switch alone."""
import copy
import logging
import os.path as osp

import mmpose
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmpose.registry import MODELS, TRANSFORMS
from torch import nn

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, read_scalars, save_checkpoint
from mmpose_boir.models.heads import collect_instance_boxes
from mmpose_boir.models.losses import BboxMaskLoss

SHARED = osp.join(REPO_ROOT, '..', 'shared', 'data')
MMPOSE_CONFIGS = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                          'body_2d_keypoint')
MMPOSE_CID = osp.join(MMPOSE_CONFIGS, 'cid', 'coco',
                      'cid_hrnet-w32_8xb20-140e_coco-512x512.py')
BOX = osp.join(REPO_ROOT, 'configs', 'box_supervision')
TINY_CID = osp.join(BOX, 'tiny', 'cid_tiny_coco.py')
AUX_LOSSES = ('aux.loss_multi_heatmap', 'aux.loss_bbox_mask', 'aux.loss_bbox')
TINY_HRNET = dict(
    stage1=dict(num_blocks=(1, ), num_channels=(16, )),
    stage2=dict(num_blocks=(1, 1), num_channels=(8, 16)),
    stage3=dict(num_modules=1, num_blocks=(1, 1, 1), num_channels=(8, 16, 32)),
    stage4=dict(num_modules=1, num_blocks=(1, 1, 1, 1),
                num_channels=(8, 16, 32, 64)))
TINY_AUX = dict(in_channels=120, neck_channels=32, aspp_channels=16,
                head_channels=16, atrous_rates=(2, 4, 6))


def _resize(node, sizes):
    """Every ``input_size`` / ``heatmap_size`` / ``img_scale`` in ``node``
    replaced by ``sizes[key]``."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in sizes and isinstance(v, (tuple, list)):
                node[k] = sizes[k]
            else:
                _resize(v, sizes)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _resize(v, sizes)


def _sample_data(cfg, dataset):
    root = osp.join(SHARED, dataset)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.update(data_root=root, ann_file=f'test_{dataset}.json',
                              data_prefix=dict(img=''))
    cfg.train_dataloader.batch_size = 2
    for name in ('val_evaluator', 'test_evaluator'):
        cfg[name].ann_file = osp.join(root, f'test_{dataset}.json')


def tiny_cid(path, dataset='coco'):
    """A config file of CID at the tiny size (HRNet 8-64, 128 input) on the
    sample images: the same model as the file's, narrower."""
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(dict(model=dict(backbone=dict(extra=TINY_HRNET,
                                                       init_cfg=None))))
    cfg.model.head.update(in_channels=120, gfd_channels=16)
    if cfg.model.get('aux_head'):
        cfg.model.aux_head.update(TINY_AUX)
        if cfg.model.aux_head.get('embedding_head'):
            cfg.model.aux_head.embedding_head.embedding_channels = 16
    _resize(cfg._cfg_dict, dict(input_size=(128, 128),
                                heatmap_size=(32, 32)))
    _sample_data(cfg, dataset)
    return cfg


def tiny_rtmo(path, dataset='coco'):
    """RTMO-s at 224 pixels (batch resizing 192-256) on the sample images."""
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    _resize(cfg._cfg_dict, dict(input_size=(224, 224), img_scale=(224, 224)))
    cfg.model.data_preprocessor.batch_augments[0].random_size_range = (192,
                                                                      256)
    _sample_data(cfg, dataset)
    return cfg


def _train(cfg, work_dir, iters=2):
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10**6)
    for k in ('val_cfg', 'val_dataloader', 'val_evaluator', 'test_cfg',
              'test_dataloader', 'test_evaluator'):
        cfg[k] = None
    cfg.param_scheduler = []
    # RTMO's pipeline and loss-weight switches come at late epochs
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if 'ModeSwitch' not in h['type']
                        and h['type'] != 'FlushDenormalHook']
    cfg.custom_hooks.append(dict(type='FlushDenormalHook'))
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters,
                                        by_epoch=False)
    cfg.log_processor = dict(window_size=1, by_epoch=False)
    cfg.randomness = dict(seed=0)
    # MMEngine keeps one visualizer per name in a process: a fresh one
    cfg.visualizer.name = f'visualizer_{work_dir}'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


CONFIGS = [('cid_w32_box_coco.py', tiny_cid, 'coco', AUX_LOSSES),
           ('cid_w32_box_crowdpose.py', tiny_cid, 'crowdpose', AUX_LOSSES),
           ('rtmo-s_box_coco.py', tiny_rtmo, 'coco', AUX_LOSSES[1:]),
           ('rtmo-s_box_crowdpose.py', tiny_rtmo, 'crowdpose', AUX_LOSSES[1:])]


@pytest.mark.parametrize('name,shrink,dataset,losses', CONFIGS,
                         ids=[c[0] for c in CONFIGS])
def test_config_trains_with_the_box_losses(name, shrink, dataset, losses,
                                           tmp_path):
    path = osp.join(BOX, name)
    full = Config.fromfile(path)
    # the real config: MMPose's model, with the auxiliary head attached
    assert full.model.type == 'AuxBottomupPoseEstimator'
    assert full.model.head.type in ('CIDHead', 'RTMOHead')
    _train(shrink(path, dataset), tmp_path)
    records = read_scalars(tmp_path)
    assert len(records) == 2
    for rec in records:
        for loss in losses:
            assert loss in rec and np.isfinite(rec[loss]), (loss, rec)
    absent = set(AUX_LOSSES) - set(losses)
    assert not absent & set(records[0])


# ---------------------------------------------------------------- inference
def _build(cfg):
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


MMPOSE_RTMO = osp.join(MMPOSE_CONFIGS, 'rtmo', 'coco',
                       'rtmo-s_8xb32-600e_coco-640x640.py')


def _same_weights(plain_cfg, box_cfg):
    """The plain model and the composed one with the same weights."""
    torch.manual_seed(0)
    box = _build(box_cfg)
    plain = _build(plain_cfg)
    # keeping the modules' versions: without them, CIDHead's hook for
    # MMPose 0.x checkpoints renames its keys
    state = box.state_dict()
    for k in [k for k in state if k.startswith('aux_head.')]:
        del state[k]
    result = plain.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return plain, box


@pytest.fixture(scope='module')
def cid_pair():
    """The tiny plain CID (MMPose's config) and the composed one, with the
    same weights; the center biases at 0 so that people are decoded."""
    plain_cfg = tiny_cid(MMPOSE_CID)
    plain, box = _same_weights(plain_cfg,
                               tiny_cid(osp.join(BOX, 'cid_w32_box_coco.py')))
    for model in (plain, box):
        with torch.no_grad():
            model.head.iia_module.keypoint_root_conv.bias.zero_()
    return plain_cfg, plain, box


def _val_batch(cfg, index=0):
    init_default_scope('mmpose')
    from mmpose.registry import DATASETS
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    item = dataset[index]
    return dict(inputs=[item['inputs']], data_samples=[item['data_samples']])


def _predict(model, batch):
    with torch.no_grad():
        out = model.test_step(copy.deepcopy(batch))[0].pred_instances
    return out.keypoints, out.keypoint_scores


def test_composed_cid_predicts_and_costs_as_plain_cid(cid_pair):
    from mmengine.analysis import get_model_complexity_info
    cfg, plain, box = cid_pair
    assert box.test_cfg['flip_test']  # MMPose's CID test: flip on
    for index in range(2):
        batch = _val_batch(cfg, index)
        kp_plain, s_plain = _predict(plain, batch)
        kp_box, s_box = _predict(box, batch)
        assert len(kp_plain) > 0
        assert np.array_equal(kp_plain, kp_box)
        assert np.array_equal(s_plain, s_box)
    x = torch.rand(1, 3, 128, 128)
    # as MMPose's tools/analysis_tools/get_flops.py: the tensor forward
    costs = [get_model_complexity_info(_Tensor(m), inputs=(x, ),
                                       show_table=False, show_arch=False)
             for m in (plain, box)]
    assert costs[0]['flops'] == costs[1]['flops'] > 0
    aux = sum(p.numel() for p in box.aux_head.parameters())
    assert costs[1]['params'] == costs[0]['params'] + aux


class _Tensor(nn.Module):
    """The estimator's tensor forward (what MMPose's export traces), in
    eval mode (the exporter restores the wrapper's mode afterwards)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.train(model.training)

    def forward(self, x):
        return self.model(x, None, mode='tensor')


def _canonical(graph):
    """The graph with its generated value names (``onnx::Conv_811``,
    ``808``: numbered by the exporter, shifted by any unused parameter) replaced by
    their order of first use in the nodes."""
    names = {}

    def name(n):
        if n.startswith(('onnx::', '/')) or n.isdigit():
            names.setdefault(n, f'v{len(names)}')
            return names[n]
        return n

    nodes = [(n.op_type, [name(i) for i in n.input],
              [name(o) for o in n.output],
              [a.SerializeToString() for a in n.attribute])
             for n in graph.node]
    inits = sorted((name(i.name), tuple(i.dims), i.data_type, i.raw_data)
                   for i in graph.initializer)
    return nodes, inits


@pytest.mark.parametrize('model', ['cid', 'rtmo'])
def test_composed_model_exports_the_plain_graph(model, cid_pair, tmp_path):
    """The tensor forward exported to ONNX: the same graph (nodes, weights,
    size). MMPose's CID graph does not run in onnxruntime (the exporter
    turns CIDHead's ``narrow(1, -1, 1)`` into an empty slice), for either
    model; RTMO's runs, with equal outputs."""
    import onnx
    import onnxruntime as ort
    if model == 'cid':
        _, plain, box = cid_pair
        size = 128
    else:
        plain, box = _same_weights(
            tiny_rtmo(MMPOSE_RTMO), tiny_rtmo(osp.join(BOX,
                                                       'rtmo-s_box_coco.py')))
        size = 224
        for m in (plain, box):
            m.switch_to_deploy()  # as MMPose's deployment does
    x = torch.rand(1, 3, size, size,
                   generator=torch.Generator().manual_seed(1))
    graphs, sizes, paths = [], [], []
    for name, m in (('plain', plain), ('box', box)):
        path = str(tmp_path / f'{name}.onnx')
        with torch.no_grad():
            torch.onnx.export(_Tensor(m), (x, ), path, opset_version=17,
                              input_names=['image'], dynamo=False)
        graph = onnx.load(path).graph
        graphs.append(_canonical(graph))
        sizes.append((len(graph.node), len(graph.initializer),
                      sum(len(i.raw_data) for i in graph.initializer)))
        paths.append(path)
        assert not any('aux_head' in i.name for i in graph.initializer)
    assert sizes[0] == sizes[1]
    assert graphs[0] == graphs[1]
    if model == 'rtmo':
        outs = [ort.InferenceSession(
            p, providers=['CPUExecutionProvider']).run(
                None, {'image': x.numpy()}) for p in paths]
        assert len(outs[0]) == len(outs[1]) > 0
        for a, b in zip(*outs):
            assert np.array_equal(a, b)


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _capture():
    logger = logging.getLogger('box_supervision_test')
    logger.setLevel(logging.INFO)
    handler = _Records()
    logger.handlers[:] = [handler]
    logger.propagate = False
    return logger, handler.records


def test_checkpoint_loads_into_mmpose_cid_config(cid_pair, tmp_path):
    cfg, _, box = cid_pair
    path = save_checkpoint(box, tmp_path / 'box.pth')
    plain = _build(cfg)  # fresh weights
    logger, records = _capture()
    load_checkpoint(plain, path, map_location='cpu', logger=logger)
    warnings = [r.getMessage() for r in records
                if r.levelno >= logging.WARNING]
    # MMEngine's one warning: the auxiliary keys, nothing missing
    assert len(warnings) == 1
    assert 'unexpected key in source state_dict: aux_head.' in warnings[0]
    assert 'missing keys' not in warnings[0]
    listed = warnings[0].split('state_dict: ')[1].split(', ')
    aux = [k for k in box.state_dict() if k.startswith('aux_head.')]
    assert sorted(k.strip() for k in listed) == sorted(aux)
    for k, v in plain.state_dict().items():
        assert torch.equal(v, box.state_dict()[k]), k
    batch = _val_batch(cfg)
    for a, b in zip(_predict(plain, batch), _predict(box, batch)):
        assert np.array_equal(a, b)


def test_plain_checkpoint_loads_into_the_composed_model(cid_pair, tmp_path):
    """E.g. to fine-tune a CID checkpoint with box supervision: one info
    line, no list of missing keys."""
    from mmengine.logging import MMLogger
    cfg, plain, box = cid_pair
    path = save_checkpoint(plain, tmp_path / 'plain.pth')
    composed = _build(tiny_cid(osp.join(BOX, 'cid_w32_box_coco.py')))
    logger, records = _capture()
    current = MMLogger.get_current_instance()
    current.addHandler(logger.handlers[0])
    try:
        load_checkpoint(composed, path, map_location='cpu', logger=logger)
    finally:
        current.removeHandler(logger.handlers[0])
    assert not [r for r in records if r.levelno >= logging.WARNING]
    infos = [r.getMessage() for r in records if 'auxiliary head' in
             r.getMessage()]
    assert len(infos) == 1 and 'aux_head.*' in infos[0]
    for k, v in plain.state_dict().items():
        assert torch.equal(v, composed.state_dict()[k]), k
    # torch's strict loading agrees
    result = composed.load_state_dict(plain.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # a partial auxiliary head is still reported
    partial = dict(box.state_dict())
    partial.pop('aux_head.bbox_head.1.bias')
    with pytest.raises(RuntimeError, match='aux_head.bbox_head.1.bias'):
        composed.load_state_dict(partial, strict=True)


# -------------------------------------------------------- parts and targets
def _packed(cfg, indices=(0, 1)):
    init_default_scope('mmpose')
    from mmpose.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return [dataset[i]['data_samples'] for i in indices]


@pytest.fixture(scope='module')
def cid_samples():
    np.random.seed(0)
    return _packed(tiny_cid(osp.join(BOX, 'cid_w32_box_coco.py')),
                   indices=(0, 1, 2, 3))


def test_bbox_mask_loss_trains_a_users_own_head(cid_samples):
    """A five-line head of one's own, the loss and the public collation."""

    class MyEmbedding(nn.Module):

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            return self.conv(x)

    torch.manual_seed(0)
    head = MyEmbedding().double()
    loss_fn = BboxMaskLoss(loss_weight=1.0)
    boxes = collect_instance_boxes(cid_samples, (32, 32), dtype=torch.float64)
    assert boxes.boxes.dtype == torch.float64 and len(boxes.boxes) > 0
    assert [len(b) for b in boxes.per_image()] == [
        len(s.gt_instance_labels.instance_coords) for s in cid_samples]
    x = torch.rand(len(cid_samples), 3, 32, 32, dtype=torch.float64)
    optim = torch.optim.SGD(head.parameters(), lr=1.0)
    values = []
    for _ in range(20):
        loss = loss_fn(head(x), boxes.per_image())
        optim.zero_grad()
        loss.backward()
        values.append(loss.item())
        optim.step()
    assert head.conv.weight.grad.abs().sum() > 0
    assert values[-1] < 0.9 * values[0]


@pytest.mark.parametrize('on', ['heatmap_head', 'embedding_head',
                                'bbox_head'])
def test_each_part_switches_on_alone(on, cid_samples):
    from mmpose_boir.models.heads.box_supervision_head import (LOSS_NAMES,
                                                               PARTS)
    box_cfg = tiny_cid(osp.join(BOX, 'cid_w32_box_coco.py')).model.aux_head
    cfg = dict(box_cfg, **{p: None for p in PARTS if p != on})
    head = MODELS.build(cfg)
    assert list(head.parts) == [on]
    torch.manual_seed(0)
    feats = (torch.rand(len(cid_samples), 120, 32, 32), )
    losses = head.loss(feats, cid_samples)
    assert list(losses) == [LOSS_NAMES[on]]
    losses[LOSS_NAMES[on]].backward()
    grads = [p.grad for p in getattr(head, on).parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    # float64 model: the part hands its loss float32 maps, as the release
    # casts them
    head64 = copy.deepcopy(head).double()
    part = getattr(head64, on)
    seen = []
    part.loss_module.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].dtype))
    head64.loss((feats[0].double(), ), cid_samples)
    assert seen == [torch.float32]
    # the weight scales the loss
    heavier = copy.deepcopy(cfg)
    heavier[on] = dict(heavier[on], loss=dict(heavier[on]['loss'],
                                              loss_weight=2.0 * heavier[on]
                                              ['loss']['loss_weight']))
    twice = MODELS.build(heavier)
    twice.load_state_dict(head.state_dict())
    torch.testing.assert_close(
        twice.loss(feats, cid_samples)[LOSS_NAMES[on]],
        2 * head.loss(feats, cid_samples)[LOSS_NAMES[on]])
    with pytest.raises(ValueError, match='every part is switched off'):
        MODELS.build(dict(box_cfg, **{p: None for p in PARTS}))


def test_losses_are_float32_under_autocast(cid_samples):
    box_cfg = tiny_cid(osp.join(BOX, 'cid_w32_box_coco.py')).model.aux_head
    head = MODELS.build(box_cfg)
    feats = (torch.rand(len(cid_samples), 120, 32, 32), )
    with torch.autocast('cpu', dtype=torch.bfloat16):
        maps = head(feats)
        losses = head.loss(feats, cid_samples)
    assert all(m.dtype == torch.bfloat16 for m in maps.values())
    assert all(v.dtype == torch.float32 for v in losses.values())


# ----------------------------------------------------- CID's box transform
CID_CODEC = dict(type='DecoupledHeatmap', input_size=(128, 128),
                 heatmap_size=(32, 32))


def _cid_pipeline(codec=CID_CODEC):
    init_default_scope('mmpose')
    from mmcv.transforms import Compose
    return Compose([
        dict(type='LoadImage'),
        dict(type='BottomupRandomAffine', input_size=codec['input_size']),
        dict(type='RandomFlip', direction='horizontal'),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='GenerateInstanceBoxes', encoder=codec),
    ])


def test_cid_instances_get_their_own_boxes_on_sample_images():
    """On the sample images with MMPose's augmentation and the codec's
    random center jitter: each recovered person's heatmaps, drawn again,
    are the encoded ones, its jittered root can be the encoded
    center cell, and the box is that person's transformed box."""
    from mmpose.codecs import DecoupledHeatmap
    from mmpose.codecs.utils import (generate_gaussian_heatmaps,
                                     get_instance_root)
    from mmpose.datasets import CocoDataset
    codec = DecoupledHeatmap(**{k: v for k, v in CID_CODEC.items()
                                if k != 'type'})
    dataset = CocoDataset(
        data_root=osp.join(SHARED, 'coco'), ann_file='test_coco.json',
        data_prefix=dict(img=''), data_mode='bottomup', pipeline=[])
    pipeline = _cid_pipeline()
    np.random.seed(0)
    checked = 0
    for _ in range(5):
        for i in range(len(dataset)):
            out = pipeline(copy.deepcopy(dataset[i]))
            # the transform keeps the indices it recovered, for this check
            from mmpose_boir.datasets.transforms.box_embedding_sampling \
                import decoupled_instance_indices
            idx = decoupled_instance_indices(out, codec)
            assert len(set(idx.tolist())) == len(idx)
            kp = out['keypoints'] / codec.scale_factor
            vis = out['keypoints_visible']
            roots, _ = get_instance_root(kp, vis)
            sigmas = codec._get_instance_wise_sigmas(
                out['bbox'].reshape(-1, 4, 2) / codec.scale_factor)
            K = kp.shape[1]
            for j, person in enumerate(idx):
                hm = generate_gaussian_heatmaps(
                    (32, 32), kp[person:person + 1], vis[person:person + 1],
                    sigmas[person].item())[0]
                assert np.array_equal(hm, out['instance_heatmaps'][
                    j * K:(j + 1) * K])
                # the codec's center: the root moved by -1, 0 or 1 cell,
                # clipped to the map, truncated
                cells = {tuple(np.clip(roots[person] + (dx, dy), 0,
                                       31).astype(int))
                         for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
                assert tuple(out['instance_coords'][j]) in cells
                corners = out['bbox'][person] / 4
                x1, y1 = np.clip(corners.min(0), 0, 31)
                assert out['instance_boxes'][j][:2] == pytest.approx(
                    (x1, y1))
                checked += 1
            assert out['label_mapping_table']['instance_boxes'] == \
                'instance_boxes'
    assert checked > 20
    # the codec's own table is not changed
    assert 'instance_boxes' not in DecoupledHeatmap.label_mapping_table


def _two_people(shift):
    """Two people whose roots are ``shift`` cells apart on a 32 map."""
    K = 17
    t = np.linspace(-1, 1, K)
    a = np.stack((40 + 20 * t, 60 + 30 * t[::-1]), -1)
    b = np.stack((40 + shift * 4 + 8 * t, 60 + 12 * t), -1)
    kpts = np.stack((a, b)).astype(np.float32)
    lo, hi = kpts.min(1), kpts.max(1)
    corners = np.stack((lo, np.stack((lo[:, 0], hi[:, 1]), -1),
                        np.stack((hi[:, 0], lo[:, 1]), -1), hi), 1)
    return dict(keypoints=kpts, keypoints_visible=np.ones((2, K), np.float32),
                bbox=corners.astype(np.float32), img_path='two.jpg')


@pytest.mark.parametrize('shift', [0, 1, 2])
def test_cid_people_with_nearby_roots_are_told_apart(shift):
    """Roots 0-2 cells apart: the jittered cells can be either person's,
    the heatmaps tell which. The codec keeps people smallest first
    (diagonal), so the small person b is instance 0 whenever both are
    kept."""
    init_default_scope('mmpose')
    generate = TRANSFORMS.build(dict(type='GenerateTarget',
                                     encoder=CID_CODEC))
    boxes = TRANSFORMS.build(dict(type='GenerateInstanceBoxes',
                                  encoder=CID_CODEC))
    np.random.seed(shift)
    seen = 0
    for _ in range(30):
        results = _two_people(shift)
        out = boxes(generate(results))
        n = len(out['instance_coords'])
        expected = (results['bbox'][[1, 0]] / 4)[:n]
        x1y1 = expected.min(1)
        wh = expected.max(1) - x1y1
        np.testing.assert_allclose(out['instance_boxes'],
                                   np.concatenate((x1y1, wh), 1),
                                   rtol=1e-6)
        seen += n == 2
    assert seen > 0


def test_cid_recovery_errors_and_repr():
    init_default_scope('mmpose')
    generate = TRANSFORMS.build(dict(type='GenerateTarget',
                                     encoder=CID_CODEC))
    boxes = TRANSFORMS.build(dict(type='GenerateInstanceBoxes',
                                  encoder=CID_CODEC))
    out = generate(_two_people(8))
    out['instance_coords'] = out['instance_coords'] + 5  # moved
    with pytest.raises(ValueError, match=r'two\.jpg.*matches no annotated'):
        boxes(out)
    # without the codec (or its indices), the error says what to give
    plain = TRANSFORMS.build(dict(type='GenerateInstanceBoxes',
                                  input_size=(128, 128),
                                  heatmap_size=(32, 32)))
    with pytest.raises(KeyError, match='encoder'):
        plain(generate(_two_people(8)))
    with pytest.raises(ValueError, match='heatmap_size=.*encoder has'):
        TRANSFORMS.build(dict(type='BoxEmbeddingSampling',
                              heatmap_size=(64, 64), encoder=CID_CODEC))
    assert 'encoder=DecoupledHeatmap' in repr(boxes)
    # the paper configs' name is the same transform
    assert TRANSFORMS.get('BoxEmbeddingSampling') is \
        TRANSFORMS.get('GenerateInstanceBoxes')


def test_collect_instance_boxes_from_input_pixel_boxes():
    """RTMO's codec packs input-pixel boxes: scaled to the map by the
    batch's input shape, corners clipped, centers at the box center."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    sample = PoseDataSample(metainfo=dict(batch_input_shape=(64, 128),
                                          img_path='a.jpg'))
    sample.gt_instance_labels = InstanceData(bboxes=torch.tensor(
        [[8., 16., 40., 48.], [-16., 0., 32., 80.]]))
    boxes = collect_instance_boxes([sample], (32, 16))
    torch.testing.assert_close(boxes.boxes, torch.tensor(
        [[2., 4., 8., 8.], [0., 0., 8., 15.]]))
    assert boxes.coords.tolist() == [[6, 8], [4, 7]]
    assert boxes.img_ids.tolist() == [0, 0]
    with pytest.raises(ValueError, match='map_size'):
        collect_instance_boxes([sample])
    sample.gt_instance_labels = InstanceData()
    with pytest.raises(KeyError, match=r'a\.jpg.*GenerateInstanceBoxes'):
        collect_instance_boxes([sample], (32, 16))


def test_boxes_on_another_map_than_the_features_are_refused(cid_samples):
    with pytest.raises(ValueError, match='32x32 map, the features on a 16x16'):
        collect_instance_boxes(cid_samples, (16, 16))


# ------------------------------------------------------------ training cost
DOC_CONFIG = '''_base_ = [{base!r}]
custom_imports = dict(imports=['mmpose_boir'])
codec = _base_.codec
model = dict(type='AuxBottomupPoseEstimator',
             aux_head=dict(type='BoxSupervisionHead', neck_channels=32,
                           aspp_channels=16, head_channels=16,
                           in_channels=_base_.model.head.in_channels))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='GenerateInstanceBoxes', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
'''


def test_train_step_cost_measures_configs_side_by_side(tmp_path):
    """tools/train_step_cost.py on the tiny CID with and without box
    supervision (the measurement of docs/box_supervision.md, small)."""
    import json
    import sys

    from conftest import run_cmd
    box = tmp_path / 'cid_tiny_box.py'
    box.write_text(DOC_CONFIG.format(base=TINY_CID))
    out = tmp_path / 'cost.json'
    log = run_cmd([sys.executable, 'tools/train_step_cost.py', TINY_CID,
                   str(box), '--iters', '1', '--warmup', '0', '--rounds',
                   '1', '--out', str(out)])
    results = json.loads(out.read_text())
    assert list(results) == [TINY_CID, str(box)]
    plain, composed = results[TINY_CID][0], results[str(box)][0]
    for r in (plain, composed):
        assert r['step_s'] > 0 and r['data_s'] > 0 and r['peak_rss_mib'] > 0
        assert r['batch_size'] == 2 and r['flush_denormal']
    assert not any(k.startswith('aux.') for k in plain['losses'])
    assert {'aux.loss_bbox_mask', 'aux.loss_bbox'} <= set(composed['losses'])
    assert '| step (s) |' in log and str(box) in log
