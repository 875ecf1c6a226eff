"""Helpers for the tests that train or feed tiny models (not a test module).

- :func:`tiny_cid`, :func:`tiny_rtmo`: a config file of MMPose's CID or
  RTMO (MMPose's own, or one of configs/box_supervision/) shrunk to a tiny
  size, on the sample images;
- :func:`train_briefly`: a short training run of a config through MMEngine's
  Runner (in this process), its losses logged every iteration;
- :func:`packed_samples`: packed training data samples of a config's
  training pipeline.
"""
import copy
import os.path as osp

import mmpose
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from conftest import REPO_ROOT

SHARED = osp.join(REPO_ROOT, '..', 'shared', 'data')
MMPOSE_CONFIGS = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                          'body_2d_keypoint')
MMPOSE_CID = osp.join(MMPOSE_CONFIGS, 'cid', 'coco',
                      'cid_hrnet-w32_8xb20-140e_coco-512x512.py')
MMPOSE_RTMO = osp.join(MMPOSE_CONFIGS, 'rtmo', 'coco',
                       'rtmo-s_8xb32-600e_coco-640x640.py')
#: the box-supervision configs (CID and RTMO with BoxSupervisionHead)
BOX = osp.join(REPO_ROOT, 'configs', 'box_supervision')
BOX_CID = osp.join(BOX, 'cid_w32_box_coco.py')
TINY_CID = osp.join(BOX, 'tiny', 'cid_tiny_coco.py')
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


def train_briefly(cfg, work_dir, iters=2):
    """``iters`` training iterations of ``cfg`` (no validation, no
    schedules, denormals flushed), every loss logged; returns the Runner.
    The losses: ``conftest.read_scalars(work_dir)``."""
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


def packed_samples(cfg, indices=(0, 1)):
    """The data samples of ``cfg``'s training pipeline for the images
    ``indices`` (seed numpy first for reproducible augmentation)."""
    init_default_scope('mmpose')
    from mmpose.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return [dataset[i]['data_samples'] for i in indices]
