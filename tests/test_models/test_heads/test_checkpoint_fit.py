"""mmpose_boir/models/heads/loading.py, fed real checkpoint files: a
checkpoint that does not fit is refused with the counts and the likely
cause (MMPose's CID W32 in BoIR W32 through MMEngine's loader; the tiny
model's weights in W32 through MMPose's inferencer, naming both widths and
the config that fits); a checkpoint without the auxiliary heads loads
quietly, and a full one into a deployed model; COCO weights load into a
CrowdPose model (fine-tuning)."""
import contextlib
import logging
import os.path as osp
import re

import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import (REPO_ROOT, TINY_CONFIG, TINY_CROWDPOSE_CONFIG,
                      build_model, save_checkpoint, tiny_config)

pytestmark = pytest.mark.spread

TINY = TINY_CONFIG
W32 = 'configs/boir/boir_w32_coco.py'
CID_W32 = ('body_2d_keypoint/cid/coco/'
           'cid_hrnet-w32_8xb20-140e_coco-512x512.py')


def _build(config, **cfg_options):
    """The model of a config of this repository or of MMPose's
    (``mmpose::...``), without ImageNet loading."""
    if config.startswith('mmpose::'):
        import mmpose
        config = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                          config[len('mmpose::'):])
    cfg = tiny_config(config)
    cfg.merge_from_dict(cfg_options)
    return build_model(cfg)


def _load_with_mmengine(model, ckpt):
    from mmengine.runner.checkpoint import load_checkpoint
    return load_checkpoint(model, ckpt, map_location='cpu')


def test_cid_checkpoint_into_boir_w32_is_refused(tmp_path):
    """MMPose's own CID W32: the backbone fits, the head not at all."""
    cid = _build('mmpose::' + CID_W32)
    ckpt = save_checkpoint(cid, tmp_path / 'cid_w32.pth')
    del cid
    model = _build(W32)
    from mmpose_boir.models.pose_estimators.boir import \
        CheckpointMismatchError
    with pytest.raises(CheckpointMismatchError) as err:
        _load_with_mmengine(model, ckpt)
    msg = str(err.value)
    assert ' 0 of ' in msg and ' head parameters fit' in msg
    assert 'CID' in msg  # the likely cause: another model's checkpoint


def test_tiny_weights_into_w32_are_refused_by_the_inferencer(tmp_path):
    """Through MMPose's inferencer: the message says how many weights fit,
    the width of this config and of the checkpoint, and the config that fits
    the checkpoint (the file names are the caller's: the demo adds them)."""
    torch.manual_seed(0)
    ckpt = save_checkpoint(_build(TINY), tmp_path / 'tiny.pth')
    from mmpose.apis import MMPoseInferencer
    from mmpose_boir.models.pose_estimators.boir import \
        CheckpointMismatchError
    with contextlib.chdir(REPO_ROOT):
        with pytest.raises(CheckpointMismatchError) as err:
            MMPoseInferencer(pose2d=W32, pose2d_weights=ckpt, device='cpu',
                             show_progress=False)
    msg = str(err.value)
    assert 'input channels 480' in msg and 'input channels 120' in msg
    assert 'configs/boir/tiny/boir_tiny_coco.py' in msg  # fits the weights
    fit, total = map(int, re.search(r'(\d+) of (\d+) head parameters fit',
                                    msg).groups())
    assert fit < total / 2


def test_checkpoint_without_aux_heads_loads_quietly(tmp_path, caplog):
    torch.manual_seed(0)
    full = _build(TINY)
    stripped = {k: v for k, v in full.state_dict().items()
                if not k.startswith(('head.multi_heatmap_head.',
                                     'head.embedding_head.',
                                     'head.bbox_head.'))}
    ckpt = tmp_path / 'deployed.pth'
    torch.save({'state_dict': stripped, 'meta': {}}, ckpt)
    for overrides in ({}, {'model.head.with_aux_heads': False}):
        model = _build(TINY, **overrides)
        with _no_missing_key_warning():
            _load_with_mmengine(model, str(ckpt))
        torch.testing.assert_close(model.head.center_head[-1].weight,
                                   full.head.center_head[-1].weight)
    # a full checkpoint into a deployed model: aux weights dropped quietly
    model = _build(TINY, **{'model.head.with_aux_heads': False})
    result = model.load_state_dict(full.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys


class _no_missing_key_warning:
    """MMEngine reports missing/unexpected keys through its logger
    (``missing keys in source state_dict``): capture and refuse them."""

    def __enter__(self):
        from mmengine.logging import MMLogger
        self.records = []
        outer = self

        class _H(logging.Handler):

            def emit(self, record):
                outer.records.append(record.getMessage())

        self.handler = _H()
        self.logger = MMLogger.get_current_instance()
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        text = '\n'.join(self.records)
        assert 'missing keys' not in text, text
        assert 'unexpected key' not in text, text
        return False


def test_finetune_load_still_works():
    """COCO (17) -> CrowdPose (14): only the K-dependent layers differ."""
    coco = _build(TINY)
    crowd = _build(TINY_CROWDPOSE_CONFIG)
    crowd.load_state_dict(coco.state_dict(), strict=False)
