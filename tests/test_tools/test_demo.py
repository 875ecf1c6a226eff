"""MMPose's inferencer on BoIR configs (images, folders, videos, the W32
paper config) and tools/demo.py, on CPU.

The tiny checkpoint is conftest's ``tiny_checkpoint`` (seeded random
weights, center scores spread around 0.5); the W32 one is made here from
seeded random weights (a plain state dict, loadable under torch's
weights-only default), so no training is needed; the pictures are
meaningless but the whole path runs. The demo runs its ``main`` in this
process (its command line runs in test_doc_pictures.py, its wrong inputs
are in test_demo_errors.py).
"""
import contextlib
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

cv2 = pytest.importorskip('cv2')

import mmpose_boir  # noqa: E402,F401
from conftest import (COCO_SAMPLES, REPO_ROOT, TINY_CONFIG,  # noqa: E402
                      build_model, save_checkpoint, tiny_config)
from tool_modules import run_tool_main  # noqa: E402

TINY = TINY_CONFIG
W32 = 'configs/boir/boir_w32_coco.py'
SAMPLES = osp.join(REPO_ROOT, COCO_SAMPLES)
IMAGES = ['000000196141.jpg', '000000040083.jpg']

pytestmark = pytest.mark.skipif(
    not all(osp.isfile(osp.join(SAMPLES, f)) for f in IMAGES),
    reason='sample COCO images not found')


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
def inferencer(tiny_checkpoint):
    from mmpose.apis import MMPoseInferencer
    with contextlib.chdir(REPO_ROOT):  # the tiny config's data root
        yield MMPoseInferencer(pose2d=TINY, pose2d_weights=tiny_checkpoint,
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
    torch.manual_seed(0)  # a seeded random BoIR with its auxiliary heads
    ckpt = save_checkpoint(build_model(tiny_config(W32)),
                           tmp_path / 'w32.pth', center_bias=0.0)
    with contextlib.chdir(REPO_ROOT):
        inferencer = MMPoseInferencer(pose2d=W32, pose2d_weights=ckpt,
                                      device='cpu', show_progress=False)
        results = list(inferencer(osp.join(SAMPLES, IMAGES[1]),
                                  bbox_thr=-1))
    assert inferencer.inferencer.model.head.__class__.__name__ == 'BoIRHead'
    _check_prediction(results[0]['predictions'][0])


def test_demo_draws_skeletons(tiny_checkpoint, tmp_path, capsys):
    src = osp.join(SAMPLES, IMAGES[0])
    rc = run_tool_main('demo', TINY, tiny_checkpoint, src, '--out-dir',
                       tmp_path, '--bbox-thr', '-1', '--kpt-thr', '-1',
                       '--save-predictions')
    assert rc == 0, capsys.readouterr().err
    out = cv2.imread(str(tmp_path / IMAGES[0]))
    img = cv2.imread(src)
    assert out is not None and out.shape == img.shape
    # something was drawn (every keypoint, with thresholds off)
    assert (np.abs(out.astype(int) - img.astype(int)).max(-1) > 40).sum() > 50
    pred = tmp_path / 'predictions' / IMAGES[0].replace('.jpg', '.json')
    assert pred.is_file()
    people = json.load(open(pred))
    assert people and all(
        len(np.asarray(p['bbox']).reshape(-1)) == 4 and 'bbox_score' in p
        for p in people)
