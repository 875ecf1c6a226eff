"""BoIR through MMPose's inferencer (the five-line call): every person
carries a box (the extent of its keypoints, in image pixels) and a score;
the inferencer's ``bbox_thr`` keeps the people above it (every candidate
at 0, what evaluation sees); a batch of two images gives the same people
as two batches of one.

The checkpoint is conftest's ``tiny_checkpoint`` (center scores spread
around 0.5)."""
import contextlib
import os.path as osp
import shutil

import numpy as np
import pytest

import mmpose_boir  # noqa: F401
from conftest import COCO_SAMPLES, REPO_ROOT, TINY_CONFIG

pytestmark = pytest.mark.spread

TINY = TINY_CONFIG
SAMPLES = osp.join(REPO_ROOT, COCO_SAMPLES)
IMAGE = osp.join(SAMPLES, '000000196141.jpg')
#: one of the 4 COCO images shipped in the repository's demo/
SAMPLE = osp.join(REPO_ROOT, 'demo', '000000197388.jpg')


def _inferencer(ckpt):
    from mmpose.apis import MMPoseInferencer
    with contextlib.chdir(REPO_ROOT):
        return MMPoseInferencer(pose2d=TINY, pose2d_weights=ckpt,
                                device='cpu', show_progress=False)


@pytest.mark.skipif(not osp.isfile(IMAGE), reason='sample COCO image not '
                    'found')
def test_predictions_carry_boxes_and_scores(tiny_checkpoint):
    """The five-line call returns the people whose center score is above
    the inferencer's ``bbox_thr`` (MMPose's default 0.3), each with a box
    and a score; with ``bbox_thr=0`` every candidate (what evaluation
    sees)."""
    inferencer = _inferencer(tiny_checkpoint)
    people = next(inferencer(IMAGE))
    everyone = next(inferencer(IMAGE, bbox_thr=0, return_datasamples=True))
    inst = everyone['predictions'][0].pred_instances
    n = len(inst)
    assert n == 30  # no threshold: every candidate, as evaluation sees
    assert inst.bboxes.shape == (n, 4) and inst.bbox_scores.shape == (n, )
    # image pixels, the extent of the keypoints
    kpts = inst.keypoints
    assert (inst.bboxes[:, :2] <= kpts.max(1) + 1e-3).all()
    assert (inst.bboxes[:, 2:] >= kpts.min(1) - 1e-3).all()
    assert (inst.bboxes[:, :2] >= kpts.min(1) - 1e-3).all()
    assert (inst.bboxes[:, 2:] <= kpts.max(1) + 1e-3).all()
    people = people['predictions'][0]
    assert len(people) == (inst.bbox_scores > 0.3).sum()
    for person in people:
        assert len(person['bbox'][0]) == 4 and person['bbox_score'] > 0.3
    # a threshold inside this checkpoint's range of scores
    thr = float(np.median(inst.bbox_scores))
    people = next(inferencer(IMAGE, bbox_thr=thr))
    people = people['predictions'][0]
    assert 0 < len(people) == (inst.bbox_scores > thr).sum() < n
    assert min(p['bbox_score'] for p in people) > thr


def test_batched_inference_gives_the_same_people(tiny_checkpoint, tmp_path):
    for name in ('a.jpg', 'b.jpg'):
        shutil.copy(SAMPLE, tmp_path / name)
    inferencer = _inferencer(tiny_checkpoint)
    inputs = [str(tmp_path / 'a.jpg'), str(tmp_path / 'b.jpg')]
    one = list(inferencer(inputs, batch_size=1))
    two = list(inferencer(inputs, batch_size=2))
    assert len(one) == len(two) == 2
    for a, b in zip(one, two):
        scores_a = sorted(p['bbox_score'] for p in a['predictions'][0])
        scores_b = sorted(p['bbox_score'] for p in b['predictions'][0])
        assert scores_a and len(scores_a) == len(scores_b)
        np.testing.assert_allclose(scores_a, scores_b, atol=1e-4)
