"""Which people BoIR returns: MMPose's inferencer filters them by its
``bbox_thr`` (as for CID and RTMO), the evaluation scores every candidate
(as the release), and no rule depends on where a sample came from.

The checkpoint is the tiny model with its head's convolutions re-initialised
(PyTorch's default), the center head's last one scaled up and its bias 0:
its center scores spread around 0.5, so that candidates lie well above and
well below the thresholds used here (checked, not assumed).
"""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG, save_checkpoint

IMAGE = osp.join(REPO_ROOT, '..', 'shared', 'data', 'coco',
                 '000000196141.jpg')


def _cfg():
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    cfg.model.backbone.init_cfg = None
    return cfg


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = MODELS.build(_cfg().model)
    for m in model.head.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.reset_parameters()  # PyTorch's default (Kaiming) init
    with torch.no_grad():  # center logits of about +-1 instead of +-1e-4
        model.head.center_head[-1].weight.mul_(5000)
    return save_checkpoint(model, tmp_path_factory.mktemp('thr') / 'tiny.pth',
                           center_bias=0.0)


def test_inferencer_bbox_thr_filters_boir_people(ckpt):
    """``MMPoseInferencer(pose2d=<BoIR config>)(img, bbox_thr=t)``."""
    from mmpose.apis import MMPoseInferencer
    inferencer = MMPoseInferencer(pose2d=osp.join(REPO_ROOT, TINY_CONFIG),
                                  pose2d_weights=ckpt, device='cpu',
                                  show_progress=False)
    people = {}
    for thr in (0, 0.5):
        result = next(inferencer(IMAGE, bbox_thr=thr))
        people[thr] = [p['bbox_score'] for p in result['predictions'][0]]
    scores = np.array(people[0])
    # every candidate with bbox_thr=0, spread on both sides of 0.5
    assert len(scores) == 30  # test_cfg.max_instances
    assert (scores > 0.6).any() and (scores < 0.4).any()
    assert 0 < len(people[0.5]) < len(people[0])
    assert all(s > 0.5 for s in people[0.5])
    assert len(people[0.5]) == (scores > 0.5).sum()
    # the same call again: the threshold is the call's, not left behind
    assert len(next(inferencer(IMAGE, bbox_thr=0))['predictions'][0]) == 30


def test_evaluation_scores_every_candidate(ckpt):
    """The configs' ``test_cfg.score_thr`` is None: the model returns every
    decoded candidate for the evaluator, as the release evaluates them."""
    from mmengine.runner import load_checkpoint
    cfg = _cfg()
    assert cfg.model.test_cfg.score_thr is None
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, ckpt, map_location='cpu')
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    with torch.no_grad():
        samples = model.test_step(pseudo_collate([dataset[0], dataset[1]]))
    for sample in samples:
        scores = sample.pred_instances.bbox_scores
        assert len(scores) == 30
        assert (scores < 0.3).any()  # below MMPose's default bbox_thr: kept
