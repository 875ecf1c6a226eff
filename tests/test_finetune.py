"""A COCO checkpoint fine-tunes on CrowdPose (14 keypoints)."""
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from mmpose_boir.models.heads.boir_head import KEYPOINT_LAYERS
from conftest import TINY_CONFIG, TINY_CROWDPOSE_CONFIG, repo_env


def test_coco_checkpoint_loads_into_crowdpose_and_trains(tmp_path):
    init_default_scope('mmpose')
    coco = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    ckpt = tmp_path / 'coco.pth'
    torch.save(dict(state_dict=coco.state_dict(), meta=dict()), ckpt)

    proc = subprocess.run(
        [sys.executable, 'tools/train.py',
         'configs/boir/tiny/boir_tiny_crowdpose_finetune.py', '--work-dir',
         str(tmp_path / 'ft'), '--cfg-options', f'load_from={ckpt}'],
        capture_output=True, text=True, timeout=600, env=repo_env())
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'dropped the keypoint-count-dependent layers' in log
    for name in KEYPOINT_LAYERS:
        assert f'head.{name}' in log
    assert 'loss_instance_heatmap' in log
    # MMEngine's loader (weights-only, MMEngine's types allowed in scope)
    tuned = CheckpointLoader.load_checkpoint(
        str(tmp_path / 'ft' / 'epoch_1.pth'), map_location='cpu')
    # everything but the K-dependent layers came from the COCO checkpoint
    # (and moved by one epoch of training); those have CrowdPose's shape
    assert tuned['state_dict']['head.instance_head.heatmap_conv.weight'] \
        .shape[0] == 14


def test_direct_load_drops_only_the_keypoint_layers():
    init_default_scope('mmpose')
    coco = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    crowd = MODELS.build(Config.fromfile(TINY_CROWDPOSE_CONFIG).model)
    result = crowd.load_state_dict(coco.state_dict(), strict=False)
    assert set(result.missing_keys) == {f'head.{n}' for n in KEYPOINT_LAYERS}
    assert not result.unexpected_keys
    torch.testing.assert_close(crowd.head.neck.project[0].weight,
                               coco.head.neck.project[0].weight)
