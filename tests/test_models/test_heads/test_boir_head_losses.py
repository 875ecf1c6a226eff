"""BoIRHead's four losses on what the training pipeline gives for hostile
inputs, property-based: finite losses and finite gradients, never NaN/inf,
never a crash deep inside numpy/cv2/torch.

Valid but hostile in-memory samples (1 to 300 people, keypoints anywhere or
all invisible, boxes of zero or negative size or far outside the image,
crowd-only images with polygon or RLE regions) go through the BoIR training
pipeline (no validation transform: input checks run when the annotation
file loads) and the losses of a small BoIRHead fed random features
(tests/hostile_samples.py). The same holds through the real dataset and the
whole tiny model: an image with no people, people without visible
keypoints, zero-area and out-of-image boxes, more people than the instance
cap, a crowd-only image.
"""
import copy
import json

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS

import mmpose_boir  # noqa: F401
from conftest import COCO_SAMPLE_ANN, COCO_SAMPLES, build_model, tiny_config
from hostile_samples import (K, META, PROPERTY, check_losses, check_targets,
                             get_pipeline, uncompressed_rle)

pytestmark = pytest.mark.usefixtures('one_torch_thread')


# ------------------------------------------------ in-memory samples
@st.composite
def samples(draw):
    """Valid but hostile parsed samples, as a validated dataset gives them
    (bottom-up training: at least one person per image)."""
    n = draw(st.one_of(st.integers(1, 6), st.integers(1, 300)))
    h, w = draw(st.integers(1, 96)), draw(st.integers(1, 96))
    kp_mode = draw(st.sampled_from(['inside', 'around', 'far', 'edges']))
    vis_mode = draw(st.sampled_from(['all', 'none', 'random']))
    box_mode = draw(st.sampled_from(
        ['tight', 'zero', 'negative', 'far', 'huge', 'random']))
    crowd_mode = draw(st.sampled_from(['none', 'some', 'all']))
    seg_mode = draw(st.sampled_from(['polygon', 'rle', 'none']))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)

    size = np.array([w, h], np.float32)
    if kp_mode == 'inside':
        kpts = rng.rand(n, K, 2) * size
    elif kp_mode == 'around':
        kpts = rng.rand(n, K, 2) * size * 3 - size
    elif kp_mode == 'far':
        kpts = (rng.rand(n, K, 2) - 0.5) * 2e5
    else:  # exactly on the image border and corners
        kpts = rng.randint(0, 2, (n, K, 2)) * (size - 1)
    kpts = kpts.astype(np.float32)
    if vis_mode == 'all':
        vis = np.ones((n, K), np.float32)
    elif vis_mode == 'none':
        vis = np.zeros((n, K), np.float32)
    else:
        vis = (rng.rand(n, K) > 0.5).astype(np.float32)

    if box_mode == 'tight' and n:
        lo, hi = kpts.min(1), kpts.max(1)
        bbox = np.concatenate((lo, hi), 1)
    else:
        xy = rng.rand(n, 2) * size
        wh = {'zero': np.zeros((n, 2)),
              'negative': -rng.rand(n, 2) * size,
              'far': rng.rand(n, 2) * size,
              'huge': np.full((n, 2), 1e5),
              'random': (rng.rand(n, 2) - 0.3) * size,
              'tight': np.zeros((n, 2))}[box_mode]
        if box_mode == 'far':
            xy = xy + rng.choice([-1, 1], (n, 2)) * 1e4
        bbox = np.concatenate((xy, xy + wh), 1)
    bbox = bbox.astype(np.float32).reshape(n, 4)

    iscrowd = {'none': np.zeros(n, bool), 'some': rng.rand(n) < 0.3,
               'all': np.ones(n, bool)}[crowd_mode]
    segs = []
    for i in range(n):
        if seg_mode == 'none':
            segs.append(None)
            continue
        x1, y1 = np.clip(bbox[i, :2], 0, size - 1)
        x2, y2 = np.clip(bbox[i, 2:], 0, size - 1)
        if seg_mode == 'polygon':
            segs.append([[float(v) for v in (x1, y1, x2, y1, x2, y2, x1,
                                             y2)]])
        else:
            m = np.zeros((h, w), np.uint8)
            m[int(min(y1, y2)):int(max(y1, y2)) + 1,
              int(min(x1, x2)):int(max(x1, x2)) + 1] = 1
            segs.append(uncompressed_rle(m))
    if crowd_mode != 'none':
        vis[iscrowd] = 0  # crowd annotations have no keypoints
    invalid = iscrowd | (vis.sum(1) == 0)
    results = dict(
        img=rng.randint(0, 256, (h, w, 3)).astype(np.uint8),
        img_path=f'hostile/img_{seed}.jpg', img_id=seed,
        keypoints=kpts, keypoints_visible=vis, bbox=bbox,
        area=np.abs((bbox[:, 2] - bbox[:, 0]) *
                    (bbox[:, 3] - bbox[:, 1])).astype(np.float32),
        bbox_score=np.ones(n, np.float32),
        iscrowd=iscrowd.astype(int).tolist(),
        segmentation=segs, id=[seed % 100000 * 1000 + i for i in range(n)],
        num_keypoints=vis.sum(1).astype(int).tolist(),
        category_id=np.ones(n, np.int64),
        invalid_segs=[s for s, bad in zip(segs, invalid)
                      if bad and s is not None],
        flip_indices=META['flip_indices'],
        dataset_keypoint_weights=META['dataset_keypoint_weights'])

    return results


@PROPERTY
@given(case=samples(), batch_with_clean=st.booleans())
def test_pipeline_and_loss_finite(case, batch_with_clean):
    pipeline = get_pipeline()
    results = case
    n = len(results['id'])
    bucket = '1-6' if n <= 6 else '7-200' if n <= 200 else '>200'
    event(f'people: {bucket}')
    np.random.seed(results['img_id'] % 2**32)
    sample = pipeline(results)
    check_targets(sample)
    packed = [sample]
    if batch_with_clean:
        clean = _clean_sample()
        packed.append(pipeline(clean))
    check_losses(packed, seed=results['img_id'])


def _clean_sample():
    rng = np.random.RandomState(1)
    kpts = (rng.rand(2, K, 2) * 40 + 10).astype(np.float32)
    bbox = np.concatenate((kpts.min(1), kpts.max(1)), 1)
    return dict(img=np.zeros((64, 64, 3), np.uint8), img_path='clean.jpg',
                keypoints=kpts, keypoints_visible=np.ones((2, K), np.float32),
                bbox=bbox, area=np.ones(2, np.float32), id=[1, 2],
                iscrowd=[0, 0], invalid_segs=[],
                flip_indices=META['flip_indices'])


def test_more_people_than_the_cap_keep_instances_aligned():
    pipeline = get_pipeline()
    rng = np.random.RandomState(0)
    n = 300
    xy = rng.rand(n, 2).astype(np.float32) * 80
    kpts = xy[:, None] + rng.rand(n, K, 2).astype(np.float32) * 40
    bbox = np.concatenate((kpts.min(1), kpts.max(1)), 1)
    results = dict(img=np.zeros((96, 96, 3), np.uint8), img_path='many.jpg',
                   keypoints=kpts, keypoints_visible=np.ones((n, K),
                                                             np.float32),
                   bbox=bbox, area=np.ones(n, np.float32),
                   id=list(range(n)), iscrowd=[0] * n, invalid_segs=[],
                   flip_indices=META['flip_indices'])
    sample = pipeline(results)
    check_targets(sample)
    labels = sample['data_samples'].gt_instance_labels
    assert 0 < len(labels.instance_coords) <= 200
    check_losses([sample])


def test_crowd_only_image_gives_finite_zero_target_losses():
    pipeline = get_pipeline()
    n, h, w = 3, 48, 64
    rng = np.random.RandomState(0)
    bbox = np.array([[0, 0, 30, 40], [20, 5, 60, 45], [5, 5, 10, 10]],
                    np.float32)
    segs = []
    for x1, y1, x2, y2 in bbox.astype(int):
        m = np.zeros((h, w), np.uint8)
        m[y1:y2, x1:x2] = 1
        segs.append(uncompressed_rle(m))
    results = dict(img=rng.randint(0, 256, (h, w, 3)).astype(np.uint8),
                   img_path='crowd.jpg', keypoints=np.zeros((n, K, 2),
                                                            np.float32),
                   keypoints_visible=np.zeros((n, K), np.float32), bbox=bbox,
                   area=np.ones(n, np.float32), id=[7, 8, 9],
                   iscrowd=[1] * n, invalid_segs=segs,
                   flip_indices=META['flip_indices'])
    sample = pipeline(results)
    mask = sample['data_samples'].gt_fields.heatmap_mask
    assert 0 < float(mask.float().mean()) < 1  # crowd regions are masked
    assert len(sample['data_samples'].gt_instance_labels.instance_coords) == 0
    losses = check_losses([sample])
    assert losses['loss_bbox_mask'] == 0 and losses['loss_bbox'] == 0


# ------------------------------------ the real dataset and the tiny model
def _ann(ann_id, image_id, bbox, kpts=None, iscrowd=0):
    kpts = np.zeros((17, 3)) if kpts is None else kpts
    x, y, w, h = bbox
    return dict(
        id=ann_id, image_id=image_id, category_id=1, iscrowd=iscrowd,
        bbox=list(map(float, bbox)), area=float(max(w, 0) * max(h, 0)),
        num_keypoints=int((kpts[:, 2] > 0).sum()),
        keypoints=kpts.reshape(-1).tolist(),
        segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]])


def _visible_person(rng, x, y, w, h):
    k = np.zeros((17, 3))
    k[:, 0] = x + rng.rand(17) * w
    k[:, 1] = y + rng.rand(17) * h
    k[:, 2] = 2
    return k


@pytest.fixture(scope='module')
def hostile_json(tmp_path_factory):
    src = json.load(open(COCO_SAMPLE_ANN))
    images = src['images']  # 4 real images, reused under new ids
    rng = np.random.RandomState(0)
    anns = []
    # image 0: no people at all
    # image 1: crowd-only
    anns.append(_ann(100, images[1]['id'], (10, 10, 200, 150), iscrowd=1))
    # image 2: people without visible keypoints, a zero-area box, a box far
    # outside the image, and one normal person
    anns.append(_ann(200, images[2]['id'], (50, 50, 80, 120)))
    anns.append(_ann(201, images[2]['id'], (300, 200, 0, 0),
                     _visible_person(rng, 300, 200, 0, 0)))
    anns.append(_ann(202, images[2]['id'], (5000, 5000, 100, 200),
                     _visible_person(rng, 5000, 5000, 100, 200)))
    anns.append(_ann(203, images[2]['id'], (100, 60, 150, 250),
                     _visible_person(rng, 100, 60, 150, 250)))
    # image 3: 250 people (more than the 200-instance cap)
    for i in range(250):
        x, y = rng.randint(0, 560), rng.randint(0, 300)
        anns.append(_ann(300 + i, images[3]['id'], (x, y, 60, 80),
                         _visible_person(rng, x, y, 60, 80)))
    path = tmp_path_factory.mktemp('hostile') / 'hostile.json'
    json.dump(dict(src, annotations=anns), open(path, 'w'))
    return str(path)


def test_bad_inputs_give_finite_losses(hostile_json):
    cfg = tiny_config()
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.ann_file = hostile_json
    dataset_cfg.data_root = ''
    dataset_cfg.data_prefix = dict(img=COCO_SAMPLES)
    # the config's filter (the release's): only images with a non-crowd
    # person with a labelled keypoint
    assert len(DATASETS.build(dataset_cfg)) == 2
    # without it, MMPose's bottom-up CocoDataset leaves training images
    # without any annotation out of the index; the crowd-only image, which
    # has no person with keypoints, stays and trains the heatmaps as a
    # negative.
    dataset_cfg.filter_cfg = None
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 3
    assert dataset.get_data_info(0)['img_id'] == json.load(
        open(COCO_SAMPLE_ANN))['images'][1]['id']
    samples = [dataset[i] for i in range(3)]
    counts = [len(s['data_samples'].gt_instance_labels.instance_coords)
              for s in samples]
    # the crowd-only image has no person: the codec gives it the release's
    # placeholder instance (cell (0, 0), no labelled keypoint)
    assert cfg.codec.placeholder_instance
    first = samples[0]['data_samples'].gt_instance_labels
    assert np.asarray(first.instance_coords).tolist() == [[0, 0]]
    assert np.abs(np.asarray(first.keypoint_weights)).sum() == 0
    # only the normal person of image 2 can have one, or the placeholder
    assert counts[1] == 1
    assert 0 < counts[2] <= 200
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    for group in ([0], [1], [2], [0, 1, 2]):
        data = model.data_preprocessor(
            pseudo_collate([samples[i] for i in group]), training=True)
        losses = model(**data, mode='loss')
        for name, value in losses.items():
            assert torch.isfinite(value), (group, name, value)
        total = sum(losses.values())
        model.zero_grad()
        total.backward()
        for name, p in model.named_parameters():
            assert p.grad is None or torch.isfinite(p.grad).all(), name
