"""tools/demo.py: wrong inputs give one clear line and exit 1 (a corrupt
JPEG alone, a truncated checkpoint, a missing config, weights of another
width, a ``--cfg-options`` typo); an image that cannot be decoded in a
folder is skipped with a warning; ``--cfg-options`` reaches the model; the
predictions file has a box and a score per person; ``webcam:ID`` reads a
camera.

Each test feeds a real file. One command-line run (the truncated
checkpoint) checks the exit status and that stderr holds no traceback in
a real process; the others call the tool's ``main`` / ``run`` in this
process (``main``'s return value is the exit status).
"""
import contextlib
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

import mmpose_boir  # noqa: F401
from conftest import COCO_SAMPLES, REPO_ROOT, TINY_CONFIG, repo_env
from tool_modules import load_tool, run_tool_main

pytestmark = pytest.mark.spread

TINY = TINY_CONFIG
W32 = 'configs/boir/boir_w32_coco.py'
SAMPLES = osp.join(REPO_ROOT, COCO_SAMPLES)
IMAGES = ['000000196141.jpg', '000000040083.jpg']
#: one of the 4 COCO images shipped in the repository's demo/
SAMPLE = osp.join(REPO_ROOT, 'demo', '000000197388.jpg')

needs_images = pytest.mark.skipif(
    not all(osp.isfile(osp.join(SAMPLES, f)) for f in IMAGES),
    reason='sample COCO images not found')


def _demo(capsys, *args):
    """``tools/demo.py ARGS`` in this process (from the repository root):
    its exit status and stderr. The torch thread count is restored."""
    return run_tool_main('demo', *args), capsys.readouterr().err


@needs_images
def test_demo_corrupt_jpeg_in_folder_is_skipped_with_a_warning(
        tiny_checkpoint, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    for f in IMAGES:
        shutil.copy(osp.join(SAMPLES, f), folder / f)
    data = open(osp.join(SAMPLES, IMAGES[0]), 'rb').read()
    (folder / 'broken.jpg').write_bytes(b'\x00' * 64 + data[-500:])
    out = tmp_path / 'out'
    message = (f'cannot decode image {folder / "broken.jpg"}: not a valid '
               'image')
    with pytest.warns(UserWarning, match=re.escape(message)):
        rc, err = _demo(capsys, TINY, tiny_checkpoint, folder, '--out-dir',
                        out, '--save-predictions', '--no-flip')
    assert rc == 0, err
    assert sorted(os.listdir(out / 'predictions')) == sorted(
        f.replace('.jpg', '.json') for f in IMAGES)


@needs_images
def test_demo_corrupt_jpeg_alone_is_an_error(tiny_checkpoint, tmp_path,
                                             capsys):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(os.urandom(2000))
    rc, err = _demo(capsys, TINY, tiny_checkpoint, bad, '--out-dir',
                    tmp_path / 'out')
    assert rc == 1
    assert f'cannot decode image {bad}: not a valid image' in err
    assert 'failed to load image' not in err


@needs_images
def test_demo_truncated_checkpoint(tiny_checkpoint, tmp_path):
    """The command line: exit status 1, one line, no traceback."""
    bad = tmp_path / 'truncated.pth'
    data = open(tiny_checkpoint, 'rb').read()
    bad.write_bytes(data[:len(data) // 2])
    proc = subprocess.run(
        [sys.executable, 'tools/demo.py', TINY, str(bad),
         osp.join(SAMPLES, IMAGES[0]), '--out-dir', str(tmp_path / 'out')],
        cwd=REPO_ROOT, env=repo_env(), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 1
    assert f'cannot load checkpoint {bad}' in proc.stderr
    assert 'weights_only' not in proc.stderr
    assert 'Traceback' not in proc.stderr


@needs_images
def test_demo_missing_config(tiny_checkpoint, tmp_path, capsys):
    missing = 'configs/boir/boir_w32_cocoo.py'
    rc, err = _demo(capsys, missing, tiny_checkpoint,
                    osp.join(SAMPLES, IMAGES[0]), '--out-dir',
                    tmp_path / 'out')
    assert rc == 1
    assert f'config file not found: {missing}' in err
    assert 'Cannot find model' not in err


@needs_images
def test_demo_refuses_tiny_weights_for_w32(tiny_checkpoint, tmp_path,
                                           capsys):
    rc, err = _demo(capsys, W32, tiny_checkpoint,
                    osp.join(SAMPLES, IMAGES[0]), '--out-dir',
                    tmp_path / 'out')
    assert rc == 1
    assert tiny_checkpoint in err and 'boir_w32_coco.py' in err
    assert 'parameters fit' in err
    assert 'Traceback' not in err


@needs_images
def test_demo_json_has_boxes_and_scores(tiny_checkpoint, tmp_path, capsys):
    rc, err = _demo(capsys, TINY, tiny_checkpoint,
                    osp.join(SAMPLES, IMAGES[0]), '--out-dir', tmp_path,
                    '--save-predictions', '--no-flip')
    assert rc == 0, err
    people = json.load(open(tmp_path / 'predictions' /
                            IMAGES[0].replace('.jpg', '.json')))
    assert people
    for person in people:
        box = np.asarray(person['bbox']).reshape(-1)
        assert box.shape == (4, ) and box[0] <= box[2] and box[1] <= box[3]
        assert person['bbox_score'] > 0.1
        assert len(person['keypoints']) == 17


@needs_images
def test_demo_cfg_options(tiny_checkpoint, tmp_path, capsys):
    """``--cfg-options`` reaches the model; a typo in it is named."""
    image = osp.join(SAMPLES, IMAGES[0])
    rc, err = _demo(capsys, TINY, tiny_checkpoint, image, '--out-dir',
                    tmp_path, '--no-flip', '--no-nms', '--save-predictions',
                    '--bbox-thr', '-1', '--cfg-options',
                    'model.test_cfg.max_instances=3')
    assert rc == 0, err
    people = json.load(open(tmp_path / 'predictions' /
                            IMAGES[0].replace('.jpg', '.json')))
    assert len(people) == 3
    rc, err = _demo(capsys, TINY, tiny_checkpoint, image, '--out-dir',
                    tmp_path, '--cfg-options',
                    'model.test_cfg.flip_tset=False')
    assert rc == 1
    assert "unknown key 'flip_tset' (did you mean flip_test?)" in err
    assert TINY in err and 'Traceback' not in err


# ------------------------------------------------------------- webcam
class _FileCamera:
    """``cv2.VideoCapture(camera_id)`` reading a video file instead."""

    opened = []

    def __init__(self, path):
        self.path = path

    def __call__(self, source):
        type(self).opened.append(source)
        return _REAL_CAPTURE(self.path)


_REAL_CAPTURE = cv2.VideoCapture


def _video(path, frames=3):
    img = cv2.resize(cv2.imread(SAMPLE), (320, 196))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             (320, 196))
    for dx in range(frames):
        writer.write(np.roll(img, 8 * dx, axis=1))
    writer.release()
    return str(path)


def test_demo_webcam_input(tiny_checkpoint, tmp_path, monkeypatch):
    """``webcam:1`` goes through MMPose's camera reader (camera 1 opened;
    here a video file stands in for it) and is drawn as a video."""
    from mmpose.visualization import PoseLocalVisualizer
    demo = load_tool('demo')
    _FileCamera.opened = []
    monkeypatch.setattr(cv2, 'VideoCapture',
                        _FileCamera(_video(tmp_path / 'camera.mp4')))
    monkeypatch.setattr(cv2, 'waitKey', lambda *a: -1)
    shown = []
    monkeypatch.setattr(PoseLocalVisualizer, 'show',  # no window here
                        lambda self, img, *a, **k: shown.append(img.shape))
    args = demo.parse_args([TINY, tiny_checkpoint, 'webcam:1', '--out-dir',
                            str(tmp_path / 'out'), '--no-flip'])
    with contextlib.chdir(REPO_ROOT):
        results = demo.run(args)
    assert _FileCamera.opened == [1]
    assert len(results) == 3 and len(shown) == 3
    assert (tmp_path / 'out' / 'webcam.mp4').is_file()
    with pytest.raises(demo.ToolInputError, match='webcam:ID'):
        demo.collect_inputs('webcam:first')
