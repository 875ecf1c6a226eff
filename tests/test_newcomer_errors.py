"""A newcomer's first hour: wrong files give clear errors, results are
usable (a score and a box per person).

Each test feeds a real file (a checkpoint of another model, truncated
bytes, a corrupt JPEG, a config typo) and checks the message.
"""
import contextlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import repo_env, save_checkpoint

pytestmark = pytest.mark.spread

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = 'configs/boir/tiny/boir_tiny_coco.py'
W32 = 'configs/boir/boir_w32_coco.py'
SAMPLES = osp.join(REPO, '..', 'shared', 'data', 'coco')
IMAGES = ['000000196141.jpg', '000000040083.jpg']
CID_W32 = ('body_2d_keypoint/cid/coco/'
           'cid_hrnet-w32_8xb20-140e_coco-512x512.py')

needs_images = pytest.mark.skipif(
    not all(osp.isfile(osp.join(SAMPLES, f)) for f in IMAGES),
    reason='sample COCO images not found')


def _cfg(config):
    from mmengine.config import Config
    if config.startswith('mmpose::'):
        import mmpose
        config = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                          config[len('mmpose::'):])
    else:
        config = osp.join(REPO, config)
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    return cfg


def _build(config, **cfg_options):
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = _cfg(config)
    cfg.merge_from_dict(cfg_options)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = _build(TINY)
    for m in model.head.modules():  # distinct center scores, around 0.5
        if isinstance(m, torch.nn.Conv2d):
            m.reset_parameters()  # PyTorch's default (Kaiming) init
    return save_checkpoint(model,
                           tmp_path_factory.mktemp('ckpt') / 'tiny.pth',
                           center_bias=0.0)


def _demo(*args):
    return subprocess.run(
        [sys.executable, 'tools/demo.py', *map(str, args)], cwd=REPO,
        env=repo_env(), capture_output=True, text=True, timeout=300)


# ------------------------------------------------ checkpoints that do not fit
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
    with contextlib.chdir(REPO):
        with pytest.raises(CheckpointMismatchError) as err:
            MMPoseInferencer(pose2d=W32, pose2d_weights=ckpt, device='cpu',
                             show_progress=False)
    msg = str(err.value)
    assert 'input channels 480' in msg and 'input channels 120' in msg
    assert 'configs/boir/tiny/boir_tiny_coco.py' in msg  # fits the weights
    import re
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
        import logging
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
    crowd = _build('configs/boir/tiny/boir_tiny_crowdpose.py')
    crowd.load_state_dict(coco.state_dict(), strict=False)


# ----------------------------------------------------------- config typos
def test_test_cfg_typo_names_the_closest_key():
    with pytest.raises(ValueError, match='did you mean flip_test'):
        _build(TINY, **{'model.test_cfg.flip_tset': False})
    # MMPose's estimator hands train_cfg to the head only in loss(): the
    # typo stops the first training step, before any data is used
    model = _build(TINY, **{'model.train_cfg.max_train_instance': 5})
    with pytest.raises(ValueError,
                       match='did you mean max_train_instances'):
        model.loss(torch.zeros(1, 3, 64, 64), [])


def test_test_cfg_typo_through_cfg_options_in_test_py(tiny_ckpt):
    """``--cfg-options model.test_cfg.flip_tset=False`` (MMPose's tools):
    the typo is refused when the model is built, here by tools/test.py."""
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', TINY, tiny_ckpt, '--cfg-options',
         'model.test_cfg.flip_tset=False'], cwd=REPO, env=repo_env(),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'did you mean flip_test' in proc.stderr


# ------------------------------------------------------------ demo errors
@needs_images
def test_demo_corrupt_jpeg_in_folder_is_skipped_with_a_warning(
        tiny_ckpt, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for f in IMAGES:
        shutil.copy(osp.join(SAMPLES, f), folder / f)
    data = open(osp.join(SAMPLES, IMAGES[0]), 'rb').read()
    (folder / 'broken.jpg').write_bytes(b'\x00' * 64 + data[-500:])
    out = tmp_path / 'out'
    proc = _demo(TINY, tiny_ckpt, folder, '--out-dir', out,
                 '--save-predictions', '--no-flip')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f'cannot decode image {folder / "broken.jpg"}: not a valid ' \
        'image' in proc.stderr
    assert sorted(os.listdir(out / 'predictions')) == sorted(
        f.replace('.jpg', '.json') for f in IMAGES)


@needs_images
def test_demo_corrupt_jpeg_alone_is_an_error(tiny_ckpt, tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(os.urandom(2000))
    proc = _demo(TINY, tiny_ckpt, bad, '--out-dir', tmp_path / 'out')
    assert proc.returncode == 1
    assert f'cannot decode image {bad}: not a valid image' in proc.stderr
    assert 'failed to load image' not in proc.stderr


@needs_images
def test_demo_truncated_checkpoint(tiny_ckpt, tmp_path):
    bad = tmp_path / 'truncated.pth'
    data = open(tiny_ckpt, 'rb').read()
    bad.write_bytes(data[:len(data) // 2])
    proc = _demo(TINY, bad, osp.join(SAMPLES, IMAGES[0]), '--out-dir',
                 tmp_path / 'out')
    assert proc.returncode == 1
    assert f'cannot load checkpoint {bad}' in proc.stderr
    assert 'weights_only' not in proc.stderr
    assert 'Traceback' not in proc.stderr


@needs_images
def test_demo_missing_config(tiny_ckpt, tmp_path):
    missing = 'configs/boir/boir_w32_cocoo.py'
    proc = _demo(missing, tiny_ckpt, osp.join(SAMPLES, IMAGES[0]),
                 '--out-dir', tmp_path / 'out')
    assert proc.returncode == 1
    assert f'config file not found: {missing}' in proc.stderr
    assert 'Cannot find model' not in proc.stderr


@needs_images
def test_demo_refuses_tiny_weights_for_w32(tiny_ckpt, tmp_path):
    proc = _demo(W32, tiny_ckpt, osp.join(SAMPLES, IMAGES[0]), '--out-dir',
                 tmp_path / 'out')
    assert proc.returncode == 1
    assert tiny_ckpt in proc.stderr and 'boir_w32_coco.py' in proc.stderr
    assert 'parameters fit' in proc.stderr
    assert 'Traceback' not in proc.stderr


# ------------------------------------------------- usable results (boxes)
@needs_images
def test_predictions_carry_boxes_and_scores(tiny_ckpt):
    """The five-line call returns the people whose center score is above
    the inferencer's ``bbox_thr`` (MMPose's default 0.3), each with a box
    and a score; with ``bbox_thr=0`` every candidate (what evaluation
    sees)."""
    from mmpose.apis import MMPoseInferencer
    with contextlib.chdir(REPO):
        inferencer = MMPoseInferencer(pose2d=TINY, pose2d_weights=tiny_ckpt,
                                      device='cpu', show_progress=False)
        people = next(inferencer(osp.join(SAMPLES, IMAGES[0])))
        everyone = next(inferencer(osp.join(SAMPLES, IMAGES[0]), bbox_thr=0,
                                   return_datasamples=True))
    inst = everyone['predictions'][0].pred_instances
    n = len(inst)
    assert n == 30  # no threshold: every candidate, as evaluation sees
    assert inst.bboxes.shape == (n, 4) and inst.bbox_scores.shape == (n, )
    # image pixels, the extent of the keypoints
    kpts = inst.keypoints
    assert (inst.bboxes[:, :2] <= kpts.max(1) + 1e-3).all()
    assert (inst.bboxes[:, 2:] >= kpts.min(1) - 1e-3).all()
    assert (inst.bboxes[:, :2] >= kpts.min(1) - 1e-3).all()
    assert (inst.bboxes[:, 2:] <= kpts.max(1) + 1e-3).all()
    people = people['predictions'][0]
    assert len(people) == (inst.bbox_scores > 0.3).sum()
    for person in people:
        assert len(person['bbox'][0]) == 4 and person['bbox_score'] > 0.3
    # a threshold inside this checkpoint's range of scores
    thr = float(np.median(inst.bbox_scores))
    with contextlib.chdir(REPO):
        people = next(inferencer(osp.join(SAMPLES, IMAGES[0]), bbox_thr=thr))
    people = people['predictions'][0]
    assert 0 < len(people) == (inst.bbox_scores > thr).sum() < n
    assert min(p['bbox_score'] for p in people) > thr


@needs_images
def test_demo_json_has_boxes_and_scores(tiny_ckpt, tmp_path):
    proc = _demo(TINY, tiny_ckpt, osp.join(SAMPLES, IMAGES[0]), '--out-dir',
                 tmp_path, '--save-predictions', '--no-flip')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    people = json.load(open(tmp_path / 'predictions' /
                            IMAGES[0].replace('.jpg', '.json')))
    assert people
    for person in people:
        box = np.asarray(person['bbox']).reshape(-1)
        assert box.shape == (4, ) and box[0] <= box[2] and box[1] <= box[3]
        assert person['bbox_score'] > 0.1
        assert len(person['keypoints']) == 17


def test_test_py_truncated_checkpoint(tiny_ckpt, tmp_path):
    bad = tmp_path / 'truncated.pth'
    data = open(tiny_ckpt, 'rb').read()
    bad.write_bytes(data[:len(data) // 3])
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', TINY, str(bad)], cwd=REPO,
        env=repo_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert f'cannot load checkpoint {bad}' in proc.stderr
    assert 'weights_only' not in proc.stderr


@needs_images
def test_demo_cfg_options(tiny_ckpt, tmp_path):
    """``--cfg-options`` reaches the model; a typo in it is named."""
    image = osp.join(SAMPLES, IMAGES[0])
    proc = _demo(TINY, tiny_ckpt, image, '--out-dir', tmp_path, '--no-flip',
                 '--no-nms', '--save-predictions', '--bbox-thr', '-1',
                 '--cfg-options',
                 'model.test_cfg.max_instances=3')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    people = json.load(open(tmp_path / 'predictions' /
                            IMAGES[0].replace('.jpg', '.json')))
    assert len(people) == 3
    proc = _demo(TINY, tiny_ckpt, image, '--out-dir', tmp_path,
                 '--cfg-options', 'model.test_cfg.flip_tset=False')
    assert proc.returncode == 1
    assert "unknown key 'flip_tset' (did you mean flip_test?)" in proc.stderr
    assert TINY in proc.stderr and 'Traceback' not in proc.stderr
