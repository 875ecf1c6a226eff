"""ONNX export of the deployed BoIR: onnxruntime matches PyTorch within 1e-3.

Uses the tiny config (fast on CPU) on a sample COCO image, through
tests/deploy_models.py: seeded random weights whose head has PyTorch's
default initialisation (distinct heatmap maxima: no ties that onnxruntime
and PyTorch could break differently). The export tool's command line:
test_tools/test_export_onnx.py.
"""
import os.path as osp

import numpy as np
import onnx  # (pinned: requirements/pinned.txt)
import onnxruntime as ort
import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT
from deploy_models import TINY, deploy_model, sample_image
from mmpose_boir.deploy import (OUTPUT_NAMES, build_deploy_model,
                                export_onnx, keypoints_to_image, preprocess)

ATOL = 1e-3


def _sample_input(shape=(128, 128)):
    x, meta = preprocess(sample_image(), shape[::-1], size_factor=32,
                         resize_mode='fit')
    return x, meta


def _run_both(model, path, x):
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    ort_out = sess.run(None, {'image': x})
    with torch.no_grad():
        pt_out = [o.numpy() for o in model(torch.from_numpy(x))]
    return pt_out, ort_out


@pytest.mark.parametrize('flip_test', [True, False])
def test_onnxruntime_matches_pytorch(tmp_path, flip_test):
    model = deploy_model(flip_test=flip_test, score_thr=0.0)
    x, _ = _sample_input()
    path = export_onnx(model, str(tmp_path / 'boir_tiny.onnx'), x.shape[-2:])
    # the instance head's deploy form, static shapes (no data-dependent
    # row selection in the graph)
    assert model.head.instance_head.deploy
    assert 'NonZero' not in {n.op_type for n in onnx.load(path).graph.node}

    pt_out, ort_out = _run_both(model, path, x)
    M, K = model.max_instances, model.head.num_keypoints
    expected_shapes = [(M, K, 2), (M, K), (M, ), (M, )]
    for name, a, b, shape in zip(OUTPUT_NAMES, pt_out, ort_out,
                                 expected_shapes):
        assert a.shape == b.shape == shape, name
        assert np.abs(a.astype(np.float64) - b.astype(np.float64)).max() \
            <= ATOL, name
    assert ort_out[3].dtype == np.bool_
    assert ort_out[3].all()  # score threshold 0: every row is a detection


def test_valid_rows_follow_the_threshold(tmp_path):
    model = deploy_model(score_thr=0.5)
    x, _ = _sample_input()
    path = export_onnx(model, str(tmp_path / 'boir_tiny.onnx'), x.shape[-2:])
    pt_out, ort_out = _run_both(model, path, x)
    np.testing.assert_array_equal(ort_out[3], ort_out[2] > 0.5)
    np.testing.assert_array_equal(ort_out[3], pt_out[3])
    # scores come sorted, so the valid rows are the first ones
    assert np.all(np.diff(ort_out[2]) <= 0)


def test_deploy_model_equals_head_predict():
    """The exported graph computes what BoIRHead.predict computes."""
    from mmpose.structures import PoseDataSample
    model = deploy_model(score_thr=0.0)
    x, meta = _sample_input()
    with torch.no_grad():
        keypoints, keypoint_scores, scores, valid = model(torch.from_numpy(x))
        inputs = (torch.from_numpy(x).flip(1) - model.mean) / model.std
        feats = [model.neck(model.backbone(inputs)),
                 model.neck(model.backbone(inputs.flip(-1)))]
        sample = PoseDataSample(metainfo=dict(
            input_size=(x.shape[3], x.shape[2]),
            flip_indices=model.flip_indices.tolist()))
        pred = model.head.predict(
            feats, [sample],
            dict(flip_test=True, max_instances=model.max_instances,
                 score_thr=0.0, blur_kernel_size=3))[0]
    n = len(pred.keypoints)
    assert n == int(valid.sum()) == model.max_instances
    np.testing.assert_allclose(pred.keypoints, keypoints.numpy(), atol=1e-4)
    np.testing.assert_allclose(pred.keypoint_scores, keypoint_scores.numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(pred.bbox_scores, scores.numpy(), atol=1e-6)
    # and the mapping to the image stays inside a margin around it
    img_kpts = keypoints_to_image(keypoints.numpy(), meta)
    assert np.isfinite(img_kpts).all()


def test_deploy_model_keeps_people_by_default():
    """Deployment returns people: rows above 0.1 (the demo's default; the
    configs' ``score_thr``, 0.01, is every candidate, for evaluation), or
    above the model's ``test_cfg.score_thr`` when that is higher."""
    from mmpose_boir.deploy import BoIRDeployModel
    model = build_deploy_model(TINY)
    assert model.score_thr == 0.1
    assert build_deploy_model(TINY, score_thr=0.0).score_thr == 0
    from mmengine.config import Config
    from mmpose.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY))
    cfg.model.backbone.init_cfg = None
    assert cfg.model.test_cfg.score_thr == 0.01
    cfg.model.test_cfg.score_thr = 0.25
    estimator = MODELS.build(cfg.model)
    assert BoIRDeployModel(estimator, flip_test=False).score_thr == \
        0.25
