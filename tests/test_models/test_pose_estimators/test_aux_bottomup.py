"""AuxBottomupPoseEstimator (box supervision on MMPose's own bottom-up
models, CID and RTMO): inference, its cost and export are the plain
model's, and checkpoints load both ways. Training with the auxiliary
losses: test_configs/test_box_supervision_configs.py.

The module-scoped ``cid_pair`` (the tiny plain CID and the composed one)
serves most tests here: keep them in this module, so that it is built once.
"""
import copy
import logging
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpose.registry import MODELS
from torch import nn

import mmpose_boir  # noqa: F401
from conftest import save_checkpoint
from tiny_training import (BOX, BOX_CID, MMPOSE_CID, MMPOSE_RTMO, tiny_cid,
                           tiny_rtmo)


def _build(cfg):
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


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
    plain, box = _same_weights(plain_cfg, tiny_cid(BOX_CID))
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
    ``808``: numbered by the exporter, shifted by any unused parameter)
    replaced by their order of first use in the nodes."""
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
    composed = _build(tiny_cid(BOX_CID))
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
