"""Multi-scale test as a config switch, through the real test
pipeline (``BottomupResize(aug_scales=...)`` -> ``PackMultiScalePoseInputs``
-> ``BoIRDataPreprocessor`` -> ``BoIR.forward``) and the Runner."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpose.registry import DATASETS, MODELS, TRANSFORMS

import mmpose_boir  # noqa: F401

TINY = 'configs/boir/tiny/boir_tiny_coco.py'


def _cfg(aug_scales=None, multiscale=None):
    """The tiny COCO config; ``aug_scales`` set on its BottomupResize and
    ``multiscale_test`` switched on with them (unless given)."""
    cfg = Config.fromfile(TINY)
    pipeline = cfg.test_dataloader.dataset.pipeline
    resize = [t for t in pipeline if t['type'] == 'BoIRBottomupResize'][0]
    if aug_scales is not None:
        resize['aug_scales'] = aug_scales
    if multiscale is None:
        multiscale = bool(aug_scales)
    cfg.model.test_cfg.multiscale_test = multiscale
    cfg.model.test_cfg.score_thr = 0.0
    # the BoIR estimator: MMPose 1.3's BottomupPoseEstimator takes no pyramid
    cfg.model.type = 'BoIR'
    cfg.val_dataloader = cfg.test_dataloader
    return cfg


def _dataset(cfg):
    init_default_scope('mmpose')
    return DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmpose')
    torch.manual_seed(0)
    net = MODELS.build(_cfg().model).eval()
    net.test_cfg['score_thr'] = 0.0
    return net


def _predict(model, cfg, indices=(0, 1)):
    dataset = _dataset(cfg)
    data = pseudo_collate([dataset[i] for i in indices])
    model.test_cfg['multiscale_test'] = cfg.model.test_cfg.multiscale_test
    try:
        with torch.no_grad():
            return model.test_step(data)
    finally:
        model.test_cfg['multiscale_test'] = False


def test_pack_single_image_is_pack_pose_inputs():
    init_default_scope('mmpose')
    cfg = _cfg()
    dataset = _dataset(cfg)
    ours = dataset[0]
    pack = cfg.test_dataloader.dataset.pipeline[-1]
    theirs_cfg = dict(pack, type='PackPoseInputs')
    dataset.pipeline.transforms[-1] = TRANSFORMS.build(theirs_cfg)
    theirs = dataset[0]
    assert torch.equal(ours['inputs'], theirs['inputs'])
    assert ours['data_samples'].metainfo.keys() == \
        theirs['data_samples'].metainfo.keys()


def test_pyramid_is_packed_and_batched_per_scale():
    cfg = _cfg(aug_scales=[0.5, 1.5])
    dataset = _dataset(cfg)
    sample = dataset[0]
    inputs = sample['inputs']
    assert isinstance(inputs, list) and len(inputs) == 3
    h, w = inputs[0].shape[-2:]
    assert sample['data_samples'].metainfo['aug_scales'] == [0.5, 1.5]
    assert tuple(sample['data_samples'].metainfo['input_size']) == (w, h)
    # each scale padded to the config's size factor (32)
    for x in inputs:
        assert x.shape[0] == 3 and x.shape[1] % 32 == 0 and x.shape[2] % 32 == 0
    assert inputs[1].shape[-1] < w < inputs[2].shape[-1]

    init_default_scope('mmpose')
    pre = MODELS.build(cfg.model.data_preprocessor)
    plain = MODELS.build(dict(cfg.model.data_preprocessor,
                              type='PoseDataPreprocessor'))
    data = pseudo_collate([dataset[0], dataset[0]])
    out = pre(copy.deepcopy(data))
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 3
    for x, single in zip(out['inputs'], inputs):
        assert x.shape == (2, 3) + tuple(single.shape[-2:])
    # pseudo_collate transposes: data['inputs'][s] holds scale s of each image
    main = plain(dict(inputs=list(data['inputs'][0]),
                      data_samples=data['data_samples']))
    assert torch.allclose(out['inputs'][0], main['inputs'])
    # the metainfo set by the preprocessor describes the main scale
    assert out['data_samples'][0].metainfo['batch_input_shape'] == (h, w)


def test_same_scale_twice_equals_single_scale(model):
    """Averaging a scale with itself changes nothing: the pyramid path gives
    the single-scale keypoints, mapped back to the image."""
    single = _predict(model, _cfg())
    twice = _predict(model, _cfg(aug_scales=[1.0]))
    for a, b in zip(single, twice):
        a, b = a.pred_instances, b.pred_instances
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
        np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores,
                                   atol=1e-5)


def test_other_scales_change_the_heatmaps(model):
    single = _predict(model, _cfg())
    multi = _predict(model, _cfg(aug_scales=[0.5, 1.5]))
    for a, b in zip(single, multi):
        assert b.pred_instances.keypoints.shape == \
            a.pred_instances.keypoints.shape
        assert np.isfinite(b.pred_instances.keypoint_scores).all()
    assert not np.allclose(single[0].pred_instances.keypoint_scores,
                           multi[0].pred_instances.keypoint_scores)


@pytest.mark.parametrize('aug_scales,multiscale,match', [
    (None, True, 'made no image pyramid'),
    ([1.5], False, 'multiscale_test is False'),
])
def test_mismatched_switches_raise(model, aug_scales, multiscale, match):
    with pytest.raises(ValueError, match=match):
        _predict(model, _cfg(aug_scales=aug_scales, multiscale=multiscale))


def test_runner_multiscale_test_reports_coco_metrics(tmp_path):
    cfg = _cfg(aug_scales=[0.75, 1.25])
    cfg.work_dir = str(tmp_path)
    metrics = Runner.from_cfg(cfg).test()
    assert {'coco/AP', 'coco/AR'} <= set(metrics)
    assert 0.0 <= metrics['coco/AP'] <= 1.0


def test_w32_multiscale_config():
    cfg = Config.fromfile('configs/boir/boir_w32_coco_multiscale.py')
    assert cfg.model.test_cfg.multiscale_test is True
    resize = [t for t in cfg.test_dataloader.dataset.pipeline
              if t['type'] == 'BoIRBottomupResize'][0]
    assert resize['aug_scales'] and resize['input_size'] == (512, 512)
    assert cfg.test_dataloader.dataset.pipeline[-1]['type'] == \
        'PackMultiScalePoseInputs'
    assert cfg.model.data_preprocessor.type == 'BoIRDataPreprocessor'
