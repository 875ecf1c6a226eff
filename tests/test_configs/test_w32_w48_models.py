"""The real W32/W48 COCO configs: registry, shapes, deployed size, the
release's hyper-parameters, the W32 multi-scale test config."""
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from conftest import COCO_FLIP_INDICES, REPO_ROOT
from mmpose_boir.models.heads.boir_head import AUX_HEADS

FIXTURE = osp.join(REPO_ROOT, '..', 'shared', 'fixtures',
                   'release_coco_w32_seed1234.npz')


def _build(path, **head):
    init_default_scope('mmpose')
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    cfg.model.head.update(head)
    return MODELS.build(cfg.model)


def _release_param_count():
    """Parameters (not BN buffers) in the release's deployed W32 manifest."""
    manifest = json.loads(str(np.load(FIXTURE)['manifest']))
    return sum(math.prod(shape) for key, shape in manifest
               if 'running_' not in key and 'num_batches' not in key)


def test_w32_deployed_size_matches_release_and_predicts_512():
    model = _build('configs/boir/boir_w32_coco.py')
    n_all = sum(p.numel() for p in model.parameters())
    n_aux = sum(p.numel() for n in AUX_HEADS
                for p in getattr(model.head, n).parameters())
    assert n_all - n_aux == _release_param_count()
    deployed = _build('configs/boir/boir_w32_coco.py', with_aux_heads=False)
    assert sum(p.numel() for p in deployed.parameters()) == n_all - n_aux
    deployed.eval()
    meta = dict(input_size=(512, 512), input_center=np.array([256., 256.]),
                input_scale=np.array([512., 512.]),
                flip_indices=COCO_FLIP_INDICES)
    deployed.test_cfg['score_thr'] = 0.0
    with torch.no_grad():
        out = deployed.predict(torch.randn(1, 3, 512, 512),
                               [PoseDataSample(metainfo=meta)])[0]
    kpts = out.pred_instances.keypoints
    assert kpts.shape == (30, 17, 2)  # top 30 centers at threshold 0
    assert ((kpts >= 0) & (kpts <= 512)).all()


def test_w48_builds_with_720_channels():
    model = _build('configs/boir/boir_w48_coco.py')
    assert model.head.in_channels == 720
    assert model.head.neck.convs[0][0].in_channels == 720
    assert model.head.instance_head.conv_down.in_channels == 720


@pytest.mark.parametrize('name', ['boir_w32_coco', 'boir_w48_coco'])
def test_released_hyper_parameters(name):
    cfg = Config.fromfile(f'configs/boir/{name}.py')
    head = cfg.model.head
    assert head.multi_heatmap_loss.loss_weight == 1.0
    assert head.instance_heatmap_loss.loss_weight == 4.0
    assert head.bbox_mask_loss.loss_weight == 0.25
    assert head.bbox_mask_loss.background == 'image'
    assert head.bbox_loss.loss_weight == 0.25
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.025
    assert cfg.train_cfg.max_epochs == 140
    assert cfg.train_dataloader.batch_size == 20
    assert cfg.model.train_cfg.max_train_instances == 200
    assert cfg.model.test_cfg.flip_test is True
    assert cfg.custom_imports.imports == ['mmpose_boir']


def test_w32_multiscale_config():
    cfg = Config.fromfile('configs/boir/boir_w32_coco_multiscale.py')
    assert cfg.model.test_cfg.multiscale_test is True
    resize = [t for t in cfg.test_dataloader.dataset.pipeline
              if t['type'] == 'BoIRBottomupResize'][0]
    assert resize['aug_scales'] and resize['input_size'] == (512, 512)
    assert cfg.test_dataloader.dataset.pipeline[-1]['type'] == \
        'PackMultiScalePoseInputs'
    assert cfg.model.data_preprocessor.type == 'BoIRDataPreprocessor'
