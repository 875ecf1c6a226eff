"""GenerateInstanceBoxes (mmpose_boir/datasets/transforms/
box_embedding_sampling.py; the paper configs' BoxEmbeddingSampling) after
MMPose's CID codec (``DecoupledHeatmap``): each encoded instance gets its
own person's box, also for people whose roots are close; the errors and
the repr."""
import copy
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import TRANSFORMS

import mmpose_boir  # noqa: F401
from conftest import COCO_SAMPLES, REPO_ROOT

CID_CODEC = dict(type='DecoupledHeatmap', input_size=(128, 128),
                 heatmap_size=(32, 32))


def _cid_pipeline(codec=CID_CODEC):
    init_default_scope('mmpose')
    from mmcv.transforms import Compose
    return Compose([
        dict(type='LoadImage'),
        dict(type='BottomupRandomAffine', input_size=codec['input_size']),
        dict(type='RandomFlip', direction='horizontal'),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='GenerateInstanceBoxes', encoder=codec),
    ])


def test_cid_instances_get_their_own_boxes_on_sample_images():
    """On the sample images with MMPose's augmentation and the codec's
    random center jitter: each recovered person's heatmaps, drawn again,
    are the encoded ones, its jittered root can be the encoded
    center cell, and the box is that person's transformed box."""
    from mmpose.codecs import DecoupledHeatmap
    from mmpose.codecs.utils import (generate_gaussian_heatmaps,
                                     get_instance_root)
    from mmpose.datasets import CocoDataset
    codec = DecoupledHeatmap(**{k: v for k, v in CID_CODEC.items()
                                if k != 'type'})
    dataset = CocoDataset(
        data_root=osp.join(REPO_ROOT, COCO_SAMPLES), ann_file='test_coco.json',
        data_prefix=dict(img=''), data_mode='bottomup', pipeline=[])
    pipeline = _cid_pipeline()
    np.random.seed(0)
    checked = 0
    for _ in range(5):
        for i in range(len(dataset)):
            out = pipeline(copy.deepcopy(dataset[i]))
            # the transform keeps the indices it recovered, for this check
            from mmpose_boir.datasets.transforms.box_embedding_sampling \
                import decoupled_instance_indices
            idx = decoupled_instance_indices(out, codec)
            assert len(set(idx.tolist())) == len(idx)
            kp = out['keypoints'] / codec.scale_factor
            vis = out['keypoints_visible']
            roots, _ = get_instance_root(kp, vis)
            sigmas = codec._get_instance_wise_sigmas(
                out['bbox'].reshape(-1, 4, 2) / codec.scale_factor)
            K = kp.shape[1]
            for j, person in enumerate(idx):
                hm = generate_gaussian_heatmaps(
                    (32, 32), kp[person:person + 1], vis[person:person + 1],
                    sigmas[person].item())[0]
                assert np.array_equal(hm, out['instance_heatmaps'][
                    j * K:(j + 1) * K])
                # the codec's center: the root moved by -1, 0 or 1 cell,
                # clipped to the map, truncated
                cells = {tuple(np.clip(roots[person] + (dx, dy), 0,
                                       31).astype(int))
                         for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
                assert tuple(out['instance_coords'][j]) in cells
                corners = out['bbox'][person] / 4
                x1, y1 = np.clip(corners.min(0), 0, 31)
                assert out['instance_boxes'][j][:2] == pytest.approx(
                    (x1, y1))
                checked += 1
            assert out['label_mapping_table']['instance_boxes'] == \
                'instance_boxes'
    assert checked > 20
    # the codec's own table is not changed
    assert 'instance_boxes' not in DecoupledHeatmap.label_mapping_table


def _two_people(shift):
    """Two people whose roots are ``shift`` cells apart on a 32 map."""
    K = 17
    t = np.linspace(-1, 1, K)
    a = np.stack((40 + 20 * t, 60 + 30 * t[::-1]), -1)
    b = np.stack((40 + shift * 4 + 8 * t, 60 + 12 * t), -1)
    kpts = np.stack((a, b)).astype(np.float32)
    lo, hi = kpts.min(1), kpts.max(1)
    corners = np.stack((lo, np.stack((lo[:, 0], hi[:, 1]), -1),
                        np.stack((hi[:, 0], lo[:, 1]), -1), hi), 1)
    return dict(keypoints=kpts, keypoints_visible=np.ones((2, K), np.float32),
                bbox=corners.astype(np.float32), img_path='two.jpg')


@pytest.mark.parametrize('shift', [0, 1, 2])
def test_cid_people_with_nearby_roots_are_told_apart(shift):
    """Roots 0-2 cells apart: the jittered cells can be either person's,
    the heatmaps tell which. The codec keeps people smallest first
    (diagonal), so the small person b is instance 0 whenever both are
    kept."""
    init_default_scope('mmpose')
    generate = TRANSFORMS.build(dict(type='GenerateTarget',
                                     encoder=CID_CODEC))
    boxes = TRANSFORMS.build(dict(type='GenerateInstanceBoxes',
                                  encoder=CID_CODEC))
    np.random.seed(shift)
    seen = 0
    for _ in range(30):
        results = _two_people(shift)
        out = boxes(generate(results))
        n = len(out['instance_coords'])
        expected = (results['bbox'][[1, 0]] / 4)[:n]
        x1y1 = expected.min(1)
        wh = expected.max(1) - x1y1
        np.testing.assert_allclose(out['instance_boxes'],
                                   np.concatenate((x1y1, wh), 1),
                                   rtol=1e-6)
        seen += n == 2
    assert seen > 0


def test_cid_recovery_errors_and_repr():
    init_default_scope('mmpose')
    generate = TRANSFORMS.build(dict(type='GenerateTarget',
                                     encoder=CID_CODEC))
    boxes = TRANSFORMS.build(dict(type='GenerateInstanceBoxes',
                                  encoder=CID_CODEC))
    out = generate(_two_people(8))
    out['instance_coords'] = out['instance_coords'] + 5  # moved
    with pytest.raises(ValueError, match=r'two\.jpg.*matches no annotated'):
        boxes(out)
    # without the codec (or its indices), the error says what to give
    plain = TRANSFORMS.build(dict(type='GenerateInstanceBoxes',
                                  input_size=(128, 128),
                                  heatmap_size=(32, 32)))
    with pytest.raises(KeyError, match='encoder'):
        plain(generate(_two_people(8)))
    with pytest.raises(ValueError, match='heatmap_size=.*encoder has'):
        TRANSFORMS.build(dict(type='BoxEmbeddingSampling',
                              heatmap_size=(64, 64), encoder=CID_CODEC))
    assert 'encoder=DecoupledHeatmap' in repr(boxes)
    # the paper configs' name is the same transform
    assert TRANSFORMS.get('BoxEmbeddingSampling') is \
        TRANSFORMS.get('GenerateInstanceBoxes')
