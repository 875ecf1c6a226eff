"""The deployed tiny BoIR and its input, for the ONNX tests (not a test
module): test_deploy/test_onnx_export.py, test_tools/test_export_onnx.py,
test_tools/test_ort_inference.py.

The model's weights are random but seeded, and the head's convs and
linears are drawn with PyTorch's default initialisation instead of the
release's N(0, 0.001), so that the center and keypoint heatmaps have
distinct maxima: with nearly flat heatmaps (an untrained model, or one
whose sigmoid sits at its 1e-4 clamp) the top-k and the argmax are ties
that onnxruntime and PyTorch may break differently, which is not a
numerical difference.
"""
import os.path as osp

import cv2
import numpy as np
import torch

from conftest import COCO_SAMPLES, REPO_ROOT, TINY_CONFIG

TINY = osp.join(REPO_ROOT, TINY_CONFIG)
IMAGE = osp.join(REPO_ROOT, COCO_SAMPLES, '000000196141.jpg')


def deploy_model(flip_test=True, **kwargs):
    """``build_deploy_model`` of the tiny config (seed 0), its head
    re-initialised (seed 1, see the module)."""
    from mmpose_boir.deploy import build_deploy_model
    torch.manual_seed(0)
    model = build_deploy_model(TINY, flip_test=flip_test, **kwargs)
    torch.manual_seed(1)
    for m in model.head.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.reset_parameters()  # PyTorch's default (Kaiming) init
    return model


def sample_image():
    """The sample COCO image, or a seeded synthetic one without it."""
    if osp.isfile(IMAGE):
        return cv2.imread(IMAGE)
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(
        rng.integers(0, 256, (429, 640, 3), dtype=np.uint8), (9, 9), 0)
    return img


def sample_image_file(tmp_path) -> str:
    """The sample image's path, or the synthetic one written to
    ``tmp_path``."""
    if osp.isfile(IMAGE):
        return IMAGE
    path = str(tmp_path / 'synthetic.jpg')
    cv2.imwrite(path, sample_image())
    return path
