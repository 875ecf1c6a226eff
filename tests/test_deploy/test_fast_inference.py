"""switch_to_fast_inference (mmpose_boir/deploy/fast_inference.py): the
model's deploy forms and channels-last weights, the same poses as the plain
model."""
import copy

import numpy as np
import pytest
import torch
from mmpose.structures import PoseDataSample

from conftest import build_model, tiny_config
from mmpose_boir.deploy import switch_to_fast_inference


def _model():
    cfg = tiny_config()
    cfg.model.test_cfg.update(flip_test=True, max_instances=5,
                              score_thr=-1.0)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    for p in model.head.parameters():  # away from the tiny default init
        p.data.normal_(std=0.05)
    return model


def _predict(model, x):
    sample = PoseDataSample(metainfo=dict(
        input_size=(x.shape[3], x.shape[2]),
        flip_indices=list(range(model.head.num_keypoints))))
    with torch.no_grad():
        feats = model.extract_feat(x)
        pred = model.head.predict([feats, model.extract_feat(x.flip(-1))],
                                  [sample], model.test_cfg)[0]
    return feats[-1], pred


@pytest.mark.parametrize('channels_last', [True, False])
def test_fast_inference_keeps_predictions(channels_last):
    plain = _model()
    fast = switch_to_fast_inference(copy.deepcopy(plain).train(),
                                    channels_last)
    assert not fast.training and fast.head.instance_head.deploy
    assert not plain.head.instance_head.deploy
    torch.manual_seed(1)
    x = torch.randn(1, 3, 128, 160)
    (f0, p0), (f1, p1) = _predict(plain, x), _predict(fast, x)
    assert f0.is_contiguous()
    assert f1.is_contiguous(memory_format=torch.channels_last) == \
        channels_last
    torch.testing.assert_close(f1, f0, rtol=1e-5,
                               atol=1e-5 * float(f0.abs().max()))
    assert len(p1.bbox_scores) == len(p0.bbox_scores) == 5
    np.testing.assert_allclose(p1.bbox_scores, p0.bbox_scores, atol=1e-5)
    np.testing.assert_allclose(p1.keypoints, p0.keypoints, atol=1e-4)
    np.testing.assert_allclose(p1.keypoint_scores, p0.keypoint_scores,
                               atol=1e-5)


def test_fast_inference_is_for_prediction_only():
    """A switched model refuses training (the deploy form has no
    autograd), with a message saying why."""
    model = switch_to_fast_inference(_model()).train()
    x = torch.randn(1, 3, 64, 64)
    feats = model.extract_feat(x)[-1]
    with pytest.raises(RuntimeError, match='switched to deploy'):
        model.head.instance_head(feats, feats[[0], :, 0, 0],
                                 torch.zeros(1, 2, dtype=torch.long),
                                 torch.zeros(1, dtype=torch.long))
