"""Flip test on/off, multi-scale test, batch size > 1."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from conftest import COCO_FLIP_INDICES as FLIP
from conftest import TINY_CONFIG


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmpose')
    torch.manual_seed(0)
    net = MODELS.build(Config.fromfile(TINY_CONFIG).model).eval()
    net.test_cfg['score_thr'] = 0.0
    return net


def _samples(n, w=160, h=128, **extra):
    meta = dict(input_size=(w, h), input_center=np.array([w / 2, h / 2]),
                input_scale=np.array([w, h], dtype=np.float32),
                flip_indices=FLIP, **extra)
    return [PoseDataSample(metainfo=meta) for _ in range(n)]


@pytest.mark.parametrize('flip', [True, False])
def test_flip_switch(model, flip):
    model.test_cfg['flip_test'] = flip
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 128, 160), _samples(1))[0]
    assert out.pred_instances.keypoints.shape == (30, 17, 2)
    model.test_cfg['flip_test'] = True


def test_batch_of_two_equals_one_by_one(model):
    x = torch.randn(2, 3, 128, 160)
    with torch.no_grad():
        both = model.predict(x, _samples(2))
        single = [model.predict(x[i:i + 1], _samples(1))[0] for i in (0, 1)]
    for a, b in zip(both, single):
        a, b = a.pred_instances, b.pred_instances
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
        np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores,
                                   atol=1e-4)


def test_multiscale_combines_scales(model):
    x = torch.randn(1, 3, 128, 160)
    model.test_cfg['multiscale_test'] = True
    try:
        with torch.no_grad():
            single = model.predict([x], _samples(1, aug_scales=[]))[0]
            # the same scale twice: the averaged maps equal the single ones
            twice = model.predict([x, x], _samples(1, aug_scales=[1.0]))[0]
            larger = torch.nn.functional.interpolate(
                x, scale_factor=2.0, mode='bilinear', align_corners=False)
            mixed = model.predict([x, larger],
                                  _samples(1, aug_scales=[2.0]))[0]
    finally:
        model.test_cfg['multiscale_test'] = False
    model.test_cfg['multiscale_test'] = False
    with torch.no_grad():
        plain = model.predict(x, _samples(1))[0]
    np.testing.assert_allclose(twice.pred_instances.keypoints,
                               plain.pred_instances.keypoints, atol=1e-4)
    np.testing.assert_allclose(single.pred_instances.keypoint_scores,
                               plain.pred_instances.keypoint_scores,
                               atol=1e-4)
    assert mixed.pred_instances.keypoints.shape == (30, 17, 2)
    assert not np.allclose(mixed.pred_instances.keypoint_scores,
                           plain.pred_instances.keypoint_scores)
