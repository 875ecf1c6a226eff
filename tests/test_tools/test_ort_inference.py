"""tools/ort_inference.py: torch-free inference equals the PyTorch path.

The tiny model (tests/deploy_models.py: seeded, head re-initialised so the
heatmaps have distinct maxima) is exported once, with a score threshold
between its 10th and 11th score; the torch-free entry point runs in a
subprocess that must not import torch or mmpose, and its poses are
compared with ``build_deploy_model`` + ``preprocess`` +
``keypoints_to_image`` on the sample image; the tool's command line writes
the valid rows.
"""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, repo_env
from deploy_models import deploy_model, sample_image, sample_image_file
from mmpose_boir.deploy import export_onnx, keypoints_to_image, preprocess
from tool_modules import load_tool

ort_inference = load_tool('ort_inference')

SHAPE = (128, 192)  # (H, W): not square, so the fit pads

CHILD = """
import sys
import cv2, numpy as np
sys.path.insert(0, 'tools')
from ort_inference import infer
kpts, kpt_scores, scores = infer(sys.argv[1], cv2.imread(sys.argv[2]))
np.savez(sys.argv[3], keypoints=kpts, keypoint_scores=kpt_scores,
         scores=scores)
bad = [m for m in ('torch', 'mmpose', 'mmpose_boir', 'mmengine')
       if m in sys.modules]
assert not bad, bad
"""


@pytest.mark.parametrize('size', [(640, 429), (333, 500)])
def test_preprocess_is_the_deploy_preprocess(size):
    img = cv2.resize(sample_image(), size)
    x, meta = ort_inference.preprocess(img, SHAPE[1], SHAPE[0])
    x_ref, meta_ref = preprocess(img, SHAPE[::-1], size_factor=32,
                                 resize_mode='fit')
    np.testing.assert_array_equal(x, x_ref)
    for key in meta_ref:
        np.testing.assert_array_equal(meta[key], meta_ref[key])
    kpts = np.random.default_rng(0).uniform(0, 128, (3, 17, 2))
    np.testing.assert_allclose(ort_inference.to_image(kpts, meta),
                               keypoints_to_image(kpts, meta_ref))


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The deployed tiny model exported at ``SHAPE`` with a threshold
    between its 10th and 11th score; the sample image, its input."""
    tmp_path = tmp_path_factory.mktemp('ort')
    image = sample_image_file(tmp_path)
    model = deploy_model(score_thr=0.0)
    x, meta = preprocess(cv2.imread(image), SHAPE[::-1], size_factor=32,
                         resize_mode='fit')
    with torch.no_grad():  # a threshold between the 10th and 11th score
        s = model(torch.from_numpy(x))[2].numpy()
    model.score_thr = float(s[9] + s[10]) / 2
    path = export_onnx(model, str(tmp_path / 'tiny.onnx'), SHAPE)
    return model, path, image, x, meta


def test_torch_free_inference_matches_pytorch(exported, tmp_path):
    model, path, image, x, meta = exported
    out = tmp_path / 'ort.npz'
    proc = subprocess.run(
        [sys.executable, '-c', CHILD, path, image, str(out)], cwd=REPO_ROOT,
        env=repo_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ort_res = np.load(out)

    with torch.no_grad():
        kpts, kpt_scores, scores, valid = (
            o.numpy() for o in model(torch.from_numpy(x)))
    assert valid.sum() == 10  # some rows dropped, some kept
    np.testing.assert_allclose(ort_res['scores'], scores[valid], atol=1e-3)
    np.testing.assert_allclose(ort_res['keypoint_scores'], kpt_scores[valid],
                               atol=1e-3)
    np.testing.assert_allclose(ort_res['keypoints'],
                               keypoints_to_image(kpts[valid], meta),
                               atol=0.5)


def test_cli(exported, tmp_path):
    """The command line writes one entry per valid row (10 of the 30)."""
    model, path, image, x, _ = exported
    out = tmp_path / 'result.json'
    proc = subprocess.run(
        [sys.executable, 'tools/ort_inference.py', path, image, '--out',
         str(out)], cwd=REPO_ROOT, env=repo_env(), capture_output=True,
        text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    with torch.no_grad():
        valid = model(torch.from_numpy(x))[3].numpy()
    assert model.max_instances == 30
    assert len(result) == int(valid.sum()) == 10
    assert np.asarray(result[0]['keypoints']).shape == (17, 2)
