"""The BoIR estimator (mmpose_boir/models/pose_estimators/boir.py) and
prediction through MMPose's estimators on the tiny config:

- the paper configs use MMPose's ``BottomupPoseEstimator``; the multi-scale
  config, BoIR's;
- the multi-scale test as a config switch, through the real test pipeline
  (``BottomupResize(aug_scales=...)`` -> ``PackMultiScalePoseInputs`` ->
  ``BoIRDataPreprocessor`` -> ``BoIR.forward``) and the Runner;
- test-time options: flip test on/off, multi-scale test, batch size > 1;
- which people are returned: MMPose's inferencer filters them by its
  ``bbox_thr`` (as for CID and RTMO), the evaluation scores every
  candidate (as the release), and no rule depends on where a sample came
  from. The checkpoint is conftest's ``tiny_checkpoint``: its center scores
  spread around 0.5, so that candidates lie well above and well below the
  thresholds used here (checked, not assumed).
"""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from conftest import COCO_FLIP_INDICES as FLIP
from conftest import REPO_ROOT, TINY_CONFIG, build_model, tiny_config

IMAGE = osp.join(REPO_ROOT, '..', 'shared', 'data', 'coco',
                 '000000196141.jpg')


def _cfg_of(config=TINY_CONFIG):
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    cfg.model.backbone.init_cfg = None
    return cfg


def test_the_configs_use_mmpose_bottomup_estimator():
    assert _cfg_of().model.type == 'BottomupPoseEstimator'
    assert _cfg_of('configs/boir/boir_w32_coco.py').model.type == \
        'BottomupPoseEstimator'
    # the multi-scale test needs BoIR's estimator
    assert _cfg_of('configs/boir/boir_w32_coco_multiscale.py').model.type \
        == 'BoIR'


# ---------------------------------------------------------- multi-scale test
def _cfg(aug_scales=None, multiscale=None):
    """The tiny COCO config; ``aug_scales`` set on its BottomupResize and
    ``multiscale_test`` switched on with them (unless given)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
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
def boir_model():
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


def test_same_scale_twice_equals_single_scale(boir_model):
    """Averaging a scale with itself changes nothing: the pyramid path gives
    the single-scale keypoints, mapped back to the image."""
    single = _predict(boir_model, _cfg())
    twice = _predict(boir_model, _cfg(aug_scales=[1.0]))
    for a, b in zip(single, twice):
        a, b = a.pred_instances, b.pred_instances
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
        np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores,
                                   atol=1e-5)


def test_other_scales_change_the_heatmaps(boir_model):
    single = _predict(boir_model, _cfg())
    multi = _predict(boir_model, _cfg(aug_scales=[0.5, 1.5]))
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
def test_mismatched_switches_raise(boir_model, aug_scales, multiscale,
                                   match):
    with pytest.raises(ValueError, match=match):
        _predict(boir_model, _cfg(aug_scales=aug_scales,
                                  multiscale=multiscale))


def test_runner_multiscale_test_reports_coco_metrics(tmp_path):
    cfg = _cfg(aug_scales=[0.75, 1.25])
    cfg.work_dir = str(tmp_path)
    metrics = Runner.from_cfg(cfg).test()
    assert {'coco/AP', 'coco/AR'} <= set(metrics)
    assert 0.0 <= metrics['coco/AP'] <= 1.0


# ------------------------------------------------------ test-time options
@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    net = build_model(tiny_config()).eval()
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


# ------------------------------------------------- which people: thresholds
def test_inferencer_bbox_thr_filters_boir_people(tiny_checkpoint):
    """``MMPoseInferencer(pose2d=<BoIR config>)(img, bbox_thr=t)``."""
    from mmpose.apis import MMPoseInferencer
    inferencer = MMPoseInferencer(pose2d=osp.join(REPO_ROOT, TINY_CONFIG),
                                  pose2d_weights=tiny_checkpoint, device='cpu',
                                  show_progress=False)
    people = {}
    for thr in (0, 0.5):
        result = next(inferencer(IMAGE, bbox_thr=thr))
        people[thr] = [p['bbox_score'] for p in result['predictions'][0]]
    scores = np.array(people[0])
    # every candidate with bbox_thr=0, spread on both sides of 0.5
    assert len(scores) == 30  # test_cfg.max_instances
    assert (scores > 0.6).any() and (scores < 0.4).any()
    assert 0 < len(people[0.5]) < len(people[0])
    assert all(s > 0.5 for s in people[0.5])
    assert len(people[0.5]) == (scores > 0.5).sum()
    # the same call again: the threshold is the call's, not left behind
    assert len(next(inferencer(IMAGE, bbox_thr=0))['predictions'][0]) == 30


def test_evaluation_scores_every_candidate(tiny_checkpoint):
    """The configs' ``test_cfg.score_thr`` is the release's 0.01: the model
    returns every decoded candidate for the evaluator, as the release
    evaluates them; a higher ``score_thr`` returns the same people above
    it, with the same numbers."""
    from mmengine.runner import load_checkpoint
    cfg = tiny_config()
    assert cfg.model.test_cfg.score_thr == 0.01
    assert 'score_threshold' not in cfg.model.test_cfg  # one name
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, tiny_checkpoint, map_location='cpu')
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    batch = pseudo_collate([dataset[0], dataset[1]])
    with torch.no_grad():
        samples = model.test_step(batch)
        model.test_cfg['score_thr'] = 0.5
        above = model.test_step(batch)
    for sample, high in zip(samples, above):
        people, kept = sample.pred_instances, high.pred_instances
        assert len(people) == 30
        assert (people.bbox_scores > 0.01).all()
        assert (people.bbox_scores < 0.3).any()  # below MMPose's bbox_thr
        sel = people.bbox_scores > 0.5
        assert 0 < sel.sum() < 30
        np.testing.assert_array_equal(kept.bbox_scores,
                                      people.bbox_scores[sel])
        np.testing.assert_allclose(kept.keypoints, people.keypoints[sel],
                                   rtol=0, atol=1e-4)
