"""MMPose's inferencer on BoIR configs (images, folders, videos), the demo
and the embedding visualisation, on CPU.

Checkpoints are made here from seeded random weights (a plain state dict,
loadable under torch's weights-only default), so no training is needed;
the pictures are meaningless but the whole path runs.
"""
import contextlib
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

cv2 = pytest.importorskip('cv2')

import mmpose_boir  # noqa: E402,F401
from conftest import repo_env, save_checkpoint

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = 'configs/boir/tiny/boir_tiny_coco.py'
W32 = 'configs/boir/boir_w32_coco.py'
SAMPLES = osp.join(REPO, '..', 'shared', 'data', 'coco')
IMAGES = ['000000196141.jpg', '000000040083.jpg']

pytestmark = pytest.mark.skipif(
    not all(osp.isfile(osp.join(SAMPLES, f)) for f in IMAGES),
    reason='sample COCO images not found')



def _save_random_checkpoint(config, path, center_bias=0.0, **overrides):
    """A seeded random BoIR (with its auxiliary heads) as a checkpoint, its
    center bias set to ``center_bias`` (see ``conftest.save_checkpoint``)."""
    from mmengine.config import Config
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.init_cfg = None
    cfg.model.head.update(overrides)
    torch.manual_seed(0)
    return save_checkpoint(MODELS.build(cfg.model), path, center_bias)


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    return _save_random_checkpoint(
        TINY, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


@pytest.fixture(scope='module')
def tiny_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('video') / 'clip.mp4')
    img = cv2.imread(osp.join(SAMPLES, IMAGES[0]))
    h, w = img.shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             (w, h))
    for dx in range(3):
        writer.write(np.roll(img, 8 * dx, axis=1))
    writer.release()
    assert osp.getsize(path) > 0
    return path


@pytest.fixture(scope='module')
def inferencer(tiny_ckpt):
    from mmpose.apis import MMPoseInferencer
    with contextlib.chdir(REPO):  # the tiny config's data root is relative
        yield MMPoseInferencer(pose2d=TINY, pose2d_weights=tiny_ckpt,
                               device='cpu', show_progress=False)


def _check_prediction(pred, K=17):
    for person in pred:
        assert np.asarray(person['keypoints']).shape == (K, 2)
        assert np.asarray(person['keypoint_scores']).shape == (K, )
        assert np.isfinite(person['keypoints']).all()


def test_inferencer_image(inferencer, tmp_path):
    results = list(inferencer(osp.join(SAMPLES, IMAGES[0]), bbox_thr=-1,
                              vis_out_dir=str(tmp_path)))
    assert len(results) == 1
    preds = results[0]['predictions'][0]
    assert len(preds) > 0  # no threshold: every top-k center is a person
    _check_prediction(preds)
    out = cv2.imread(str(tmp_path / IMAGES[0]))
    assert out.shape == cv2.imread(osp.join(SAMPLES, IMAGES[0])).shape


def test_inferencer_folder(inferencer, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for f in IMAGES:
        shutil.copy(osp.join(SAMPLES, f), folder / f)
    results = list(inferencer(str(folder), vis_out_dir=str(tmp_path / 'vis'),
                              pred_out_dir=str(tmp_path / 'pred')))
    assert len(results) == len(IMAGES)
    assert sorted(os.listdir(tmp_path / 'vis')) == sorted(IMAGES)
    assert len(os.listdir(tmp_path / 'pred')) == len(IMAGES)


def test_inferencer_video(inferencer, tiny_video, tmp_path):
    results = list(inferencer(tiny_video, bbox_thr=-1,
                              vis_out_dir=str(tmp_path)))
    assert len(results) == 3
    for r in results:
        _check_prediction(r['predictions'][0])
    out = tmp_path / osp.basename(tiny_video)
    assert out.is_file()
    reader = cv2.VideoCapture(str(out))
    frames = 0
    while reader.read()[0]:
        frames += 1
    assert frames == 3


def test_inferencer_w32_config(tmp_path):
    """The brief's exact call: MMPoseInferencer(pose2d=<W32 config>,
    pose2d_weights=CKPT); the config's custom_imports and mmpose:: base
    resolve, the ImageNet URL in init_cfg is not fetched."""
    from mmpose.apis import MMPoseInferencer
    ckpt = _save_random_checkpoint(W32, tmp_path / 'w32.pth')
    with contextlib.chdir(REPO):
        inferencer = MMPoseInferencer(pose2d=W32, pose2d_weights=ckpt,
                                      device='cpu', show_progress=False)
        results = list(inferencer(osp.join(SAMPLES, IMAGES[1]),
                                  bbox_thr=-1))
    assert inferencer.inferencer.model.head.__class__.__name__ == 'BoIRHead'
    _check_prediction(results[0]['predictions'][0])


def test_demo_draws_skeletons(tiny_ckpt, tmp_path):
    src = osp.join(SAMPLES, IMAGES[0])
    proc = subprocess.run(
        [sys.executable, 'tools/demo.py', TINY, tiny_ckpt, src, '--out-dir',
         str(tmp_path), '--bbox-thr', '-1', '--kpt-thr', '-1',
         '--save-predictions'],
        cwd=REPO, env=repo_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = cv2.imread(str(tmp_path / IMAGES[0]))
    img = cv2.imread(src)
    assert out is not None and out.shape == img.shape
    # something was drawn (every keypoint, with thresholds off)
    assert (np.abs(out.astype(int) - img.astype(int)).max(-1) > 40).sum() > 50
    pred = tmp_path / 'predictions' / IMAGES[0].replace('.jpg', '.json')
    assert pred.is_file()
    import json
    people = json.load(open(pred))
    assert people and all(
        len(np.asarray(p['bbox']).reshape(-1)) == 4 and 'bbox_score' in p
        for p in people)


def test_vis_embedding(tiny_ckpt, tmp_path):
    out = tmp_path / 'emb.png'
    proc = subprocess.run(
        [sys.executable, 'tools/vis_embedding.py', TINY, tiny_ckpt,
         osp.join(SAMPLES, IMAGES[0]), '--out', str(out), '--score-thr',
         '0', '--max-persons', '3', '--save-maps', str(tmp_path / 'm.npz')],
        cwd=REPO, env=repo_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fig = cv2.imread(str(out))
    assert fig is not None and fig.shape[1] == 4 * 480
    maps = np.load(tmp_path / 'm.npz')
    sim = maps['similarity']
    assert sim.shape[0] == 3 and sim.min() >= 0 and sim.max() <= 1 + 1e-6
    # each map is 1 at its own center
    for (x, y), s in zip(maps['centers'], sim):
        assert s[y, x] == pytest.approx(1.0, abs=1e-5)


def test_vis_embedding_needs_the_embedding_head(tmp_path):
    ckpt = tmp_path / 'deployed.pth'
    state = torch.load(_save_random_checkpoint(TINY, tmp_path / 'full.pth'))
    state['state_dict'] = {
        k: v for k, v in state['state_dict'].items()
        if not k.startswith('head.embedding_head.')
    }
    torch.save(state, ckpt)
    proc = subprocess.run(
        [sys.executable, 'tools/vis_embedding.py', TINY, str(ckpt),
         osp.join(SAMPLES, IMAGES[0]), '--out', str(tmp_path / 'x.png')],
        cwd=REPO, env=repo_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'embedding_head' in proc.stderr
