"""Which people BoIR returns: MMPose's inferencer filters them by its
``bbox_thr`` (as for CID and RTMO), the evaluation scores every candidate
(as the release), and no rule depends on where a sample came from.

The checkpoint is conftest's ``tiny_checkpoint``: its center scores spread
around 0.5, so that candidates lie well above and well below the thresholds
used here (checked, not assumed).
"""
import copy
import os.path as osp

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG, tiny_config

IMAGE = osp.join(REPO_ROOT, '..', 'shared', 'data', 'coco',
                 '000000196141.jpg')


def _cfg():
    return tiny_config()


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
    cfg = _cfg()
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


def test_one_people_threshold():
    """``score_thr`` (RTMO's name, set by MMPose's inferencer) and CID's
    name ``score_threshold`` are one threshold: the higher applies; neither
    (or None) is the release's 0.01."""
    from mmpose_boir.models.heads.runtime_cfg import (RELEASE_SCORE_THR,
                                                      people_score_thr)
    assert RELEASE_SCORE_THR == 0.01
    assert people_score_thr({}) == 0.01
    assert people_score_thr(dict(score_thr=None)) == 0.01
    assert people_score_thr(dict(score_thr=0.3)) == 0.3
    assert people_score_thr(dict(score_threshold=0.2)) == 0.2
    assert people_score_thr(dict(score_thr=0.3, score_threshold=0.2)) == 0.3
    assert people_score_thr(dict(score_thr=0, score_threshold=0.2)) == 0.2
