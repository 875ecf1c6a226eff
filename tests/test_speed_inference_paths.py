"""The faster inference paths compute what the plain ones compute.

* ``InstanceKeypointHead`` without autograd (``_forward_inference``) against
  the direct form (the release's per-instance arithmetic) and against its
  own autograd path;
* the codec's chunked smoothing against ``smooth_heatmaps`` (bit for bit);
* ``test_cfg.channels_last`` of the estimator: the same predictions with
  and without it.
"""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

from conftest import TINY_CONFIG
from mmpose_boir.codecs.boir_heatmap import (BoIRDecoupledHeatmap,
                                             _smooth_heatmaps_fast,
                                             smooth_heatmaps)
from mmpose_boir.models.heads.instance_keypoint_head import \
    InstanceKeypointHead
from reference_loops import direct_form


def _head(in_channels=20, num_keypoints=5, channels=8):
    torch.manual_seed(0)
    head = InstanceKeypointHead(in_channels, num_keypoints, channels)
    for p in head.parameters():  # away from the tiny default init
        torch.nn.init.normal_(p, std=0.3)
    return head


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('img_ids', [[0, 0, 0, 1, 2, 2], [2, 0, 0, 1, 2, 0]])
def test_inference_path_equals_direct_form(channels_last, img_ids):
    head = _head()
    feats = torch.randn(3, 20, 9, 11)
    if channels_last:
        feats = feats.contiguous(memory_format=torch.channels_last)
    img_ids = torch.tensor(img_ids)
    coords = torch.tensor([[0, 0], [10, 8], [3, 4], [5, 5], [3, 4], [7, 1]])
    params = feats[img_ids, :, coords[:, 1], coords[:, 0]]
    with torch.no_grad():
        fast = head(feats, params, coords, img_ids)
        ref = direct_form(head, feats, params, coords, img_ids)
    with torch.enable_grad():  # the training path, no tensor needs grad
        plain = head(feats, params, coords, img_ids)
    assert fast.shape == (6, 5, 9, 11)
    torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


def test_inference_path_image_without_instances():
    head = _head()
    feats = torch.randn(3, 20, 6, 7)
    img_ids, coords = torch.tensor([2, 2]), torch.tensor([[1, 1], [6, 5]])
    params = feats[img_ids, :, coords[:, 1], coords[:, 0]]
    with torch.no_grad():
        fast = head(feats, params, coords, img_ids)
        ref = direct_form(head, feats, params, coords, img_ids)
    torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('kernel', [1, 3, 5])
@pytest.mark.parametrize('shape', [(6, 5, 9, 11), (3, 17, 32, 48), (2, 4)])
def test_chunked_smoothing_is_bitwise_avg_pool(kernel, shape):
    torch.manual_seed(0)
    h = torch.rand(shape)
    assert torch.equal(_smooth_heatmaps_fast(h, kernel),
                       smooth_heatmaps(h, kernel))


def test_decode_keypoints_unchanged_by_chunked_smoothing(monkeypatch):
    torch.manual_seed(0)
    h = torch.rand(7, 5, 16, 24)
    fast = BoIRDecoupledHeatmap.decode_keypoints(h, 3)
    import mmpose_boir.codecs.boir_heatmap as codec
    monkeypatch.setattr(codec, '_smooth_heatmaps_fast',
                        lambda x, k=3: smooth_heatmaps(x, k))
    plain = BoIRDecoupledHeatmap.decode_keypoints(h, 3)
    for a, b in zip(fast, plain):
        assert torch.equal(a, b)


def test_channels_last_option_keeps_predictions():
    """``test_cfg.channels_last`` (default on CPU): same features (float
    rounding) and the same poses as the plain NCHW computation."""
    init_default_scope('mmpose')
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.type = 'BoIR'  # an option of the BoIR estimator
    cfg.model.test_cfg.update(flip_test=True, max_instances=5,
                              score_threshold=-1.0)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    for p in model.head.parameters():  # away from the tiny default init
        p.data.normal_(std=0.05)
    torch.manual_seed(1)
    x = torch.randn(1, 3, 128, 160)
    flip = list(range(model.head.num_keypoints))
    sample = PoseDataSample(metainfo=dict(input_size=(160, 128),
                                          flip_indices=flip))
    out = {}
    for use in (False, True):
        model.test_cfg['channels_last'] = use
        with torch.no_grad():
            feats = model.extract_feat(x)
            assert feats[-1].is_contiguous(
                memory_format=torch.channels_last) == use
            pred = model.head.predict(
                [feats, model.extract_feat(x.flip(-1))], [sample],
                model.test_cfg)[0]
        out[use] = feats[-1], pred
    (f0, p0), (f1, p1) = out[False], out[True]
    torch.testing.assert_close(f1, f0, rtol=1e-5,
                               atol=1e-5 * float(f0.abs().max()))
    np.testing.assert_allclose(p1.bbox_scores, p0.bbox_scores, atol=1e-5)
    np.testing.assert_allclose(p1.keypoints, p0.keypoints, atol=1e-4)
    np.testing.assert_allclose(p1.keypoint_scores, p0.keypoint_scores,
                               atol=1e-5)
    with pytest.raises(ValueError, match='channels_las'):
        cfg.model.test_cfg['channels_lastt'] = True
        MODELS.build(cfg.model)


def test_predict_runs_in_inference_mode():
    """The BoIR estimator's predict path runs under
    ``torch.inference_mode()``."""
    init_default_scope('mmpose')
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.type = 'BoIR'
    model = MODELS.build(cfg.model).eval()
    seen = []
    predict = model.head.predict

    def spy(*args, **kwargs):
        seen.append(torch.is_inference_mode_enabled())
        return predict(*args, **kwargs)

    model.head.predict = spy
    meta = dict(input_size=(64, 64), input_center=np.array([32., 32.]),
                input_scale=np.array([64., 64.]), flip_indices=list(range(17)))
    model.predict(torch.randn(1, 3, 64, 64), [PoseDataSample(metainfo=meta)])
    assert seen == [True]
