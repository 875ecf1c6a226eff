"""The ablation configs (configs/boir/ablation/): each is BoIR W32 with one
switch of the auxiliary heads, and trains (at the tiny model's widths, on
the sample images) with exactly the losses of the heads it keeps. The
switches themselves: test_models/test_heads/test_aux_heads.py."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG, read_scalars
from tiny_training import train_briefly

ABLATION = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'boir', 'ablation',
                                     '*.py')))
ALL = ('multi_heatmap_head', 'embedding_head', 'bbox_head')
LOSS_OF = dict(embedding_head='loss_bbox_mask', bbox_head='loss_bbox')
#: what each ablation config switches, by file name
EXPECTED = {
    'boir_w32_coco_no_bbox_mask_loss.py': (('multi_heatmap_head', 'bbox_head'),
                                           False),
    'boir_w32_coco_no_keypoint_head.py': (('embedding_head', 'bbox_head'),
                                          False),
    'boir_w32_coco_no_bbox_head.py': (('multi_heatmap_head', 'embedding_head'),
                                      False),
    'boir_w32_coco_no_aux_heads.py': ((), False),
    'boir_w32_coco_aux_own_neck.py': (ALL, True),
}
#: the tiny model's widths (configs/boir/tiny/boir_tiny_coco.py)
TINY_HEAD = ('in_channels', 'neck_channels', 'aspp_channels', 'atrous_rates',
             'head_channels', 'embedding_channels', 'gfd_channels', 'decoder')


def tiny_ablation(path):
    """The ablation config with the tiny model's widths and data."""
    cfg = Config.fromfile(path)
    tiny = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    cfg.model.backbone = tiny.model.backbone
    cfg.model.head.update({k: tiny.model.head[k] for k in TINY_HEAD})
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator', 'custom_hooks'):
        cfg[key] = tiny[key]
    return cfg


def test_every_ablation_config_is_listed():
    assert sorted(osp.basename(p) for p in ABLATION) == sorted(EXPECTED)


@pytest.mark.parametrize('path', ABLATION, ids=osp.basename)
def test_ablation_config_trains_with_its_losses(path, tmp_path):
    aux_heads, aux_neck = EXPECTED[osp.basename(path)]
    full = Config.fromfile(path)
    # the real config: BoIR W32 with one switch
    assert full.model.head.in_channels == 480
    assert tuple(full.model.head.get('aux_heads', ALL)) == aux_heads
    assert full.model.head.get('aux_neck', False) == aux_neck
    runner = train_briefly(tiny_ablation(path), tmp_path)
    head = runner.model.head
    for name in ALL:
        assert hasattr(head, name) == (name in aux_heads), name
    assert hasattr(head, 'aux_neck') == aux_neck
    records = read_scalars(tmp_path)
    assert len(records) == 2
    expected = {'loss_multi_heatmap', 'loss_instance_heatmap'} | {
        LOSS_OF[n] for n in aux_heads if n in LOSS_OF}
    for rec in records:
        assert {k for k in rec if k.startswith('loss_')} == expected, rec
