"""The box-supervision configs (configs/box_supervision/: MMPose's CID and
RTMO with BoIR's auxiliary head, ``AuxBottomupPoseEstimator``): each real
config holds MMPose's model with the auxiliary head attached, and trains,
at the tiny size on the sample images, with the auxiliary losses it
names logged (``aux.*``). The composed model's inference, export and
checkpoints: test_models/test_pose_estimators/test_aux_bottomup.py."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

import mmpose_boir  # noqa: F401
from conftest import read_scalars
from tiny_training import BOX, tiny_cid, tiny_rtmo, train_briefly

AUX_LOSSES = ('aux.loss_multi_heatmap', 'aux.loss_bbox_mask', 'aux.loss_bbox')
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
    train_briefly(shrink(path, dataset), tmp_path)
    records = read_scalars(tmp_path)
    assert len(records) == 2
    for rec in records:
        for loss in losses:
            assert loss in rec and np.isfinite(rec[loss]), (loss, rec)
    absent = set(AUX_LOSSES) - set(losses)
    assert not absent & set(records[0])
