"""Hostile inputs, property-based: finite losses or an error that names them.

Input checks run in one layer, when the annotation file loads
(ValidatedCocoDataset). Random raw COCO annotation files - NaN/inf/huge
values, missing fields, wrong keypoint counts, negative visibilities,
malformed boxes, crowds and segmentations - either fail to load with an
AnnotationError naming the file, the image and the annotation, or load and
train through the BoIR training pipeline

    LoadImage -> BottomupRandomAffine -> RandomFlip ->
    GenerateTarget(BoIRDecoupledHeatmap) -> BoxEmbeddingSampling ->
    BottomupGetHeatmapMaskRLE -> PackPoseInputs

and the losses of a small BoIRHead fed random features with four finite
losses and finite gradients - never NaN/inf, never a crash deep inside
numpy/cv2/torch. Valid but hostile in-memory samples (1 to 300 people,
keypoints anywhere or all invisible, boxes of zero or negative size or far
outside the image, crowd-only images with polygon or RLE regions) give
finite losses too. Datasets in test mode reject files without the fields
the evaluator reads, and unreadable image files give an error naming the
file. Small images and maps keep 200 examples per
property fast.
"""
import copy
import json
import os
import os.path as osp
import re

import cv2
import mmpose
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.datasets.transforms import BottomupGetHeatmapMask, LoadImage
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from mmpose_boir.datasets import (MAX_ABS_COORDINATE, AnnotationError,
                                  ValidatedCocoDataset,
                                  ValidatedCrowdPoseDataset,
                                  annotation_file_problems)
from mmpose_boir.datasets.transforms import BottomupGetHeatmapMaskRLE
from conftest import (COCO_SAMPLE_ANN, COCO_SAMPLES, CROWDPOSE_SAMPLE_ANN,
                      TINY_CONFIG, TINY_CROWDPOSE_CONFIG)

init_default_scope('mmpose')

K = 17
INPUT, HEATMAP = (64, 64), (16, 16)
CHANNELS = 8
# 200 examples per property in CI; BOIR_HYPOTHESIS_EXAMPLES=5000 for a
# longer hunt
PROPERTY = settings(max_examples=int(os.environ.get(
    'BOIR_HYPOTHESIS_EXAMPLES', 200)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
LOSSES = {'loss_multi_heatmap', 'loss_instance_heatmap', 'loss_bbox_mask',
          'loss_bbox'}

# COCO's keypoint metainfo, read once (datasets built per example get the
# parsed dict instead of re-reading the config file each time)
RAW_META = Config.fromfile(osp.join(
    osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets',
    'coco.py'))['dataset_info'].to_dict()
META = parse_pose_metainfo(copy.deepcopy(RAW_META))

CODEC = dict(type='BoIRDecoupledHeatmap', input_size=INPUT,
             heatmap_size=HEATMAP, min_instance_area=4**2,
             encode_max_instances=200)
TRAIN_PIPELINE = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=INPUT, shift_factor=0.2,
         scale_factor=(0.75, 1.5), scale_type='short', rotate_factor=30,
         distribution='uniform', bbox_keep_corner=True),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=CODEC),
    dict(type='BoxEmbeddingSampling', input_size=INPUT,
         heatmap_size=HEATMAP),
    dict(type='BottomupGetHeatmapMaskRLE'),
    dict(type='PackPoseInputs'),
]


_CACHE = {}


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """The tensors here are tiny: one thread is faster, and immune to
    OpenMP oversubscription when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def get_pipeline():
    if 'pipeline' not in _CACHE:
        _CACHE['pipeline'] = Compose(copy.deepcopy(TRAIN_PIPELINE))
    return _CACHE['pipeline']


def get_head():
    """A small BoIRHead (8 channels) fed random 16x16 features."""
    if 'head' not in _CACHE:
        torch.manual_seed(0)
        head = MODELS.build(dict(
            type='BoIRHead', in_channels=CHANNELS, num_keypoints=K,
            neck_channels=8, aspp_channels=4, atrous_rates=(1, 2, 3),
            head_channels=8, embedding_channels=8, gfd_channels=8,
            bbox_head_init='normal', decoder=CODEC))
        head.train()
        _CACHE['head'] = head
    return _CACHE['head']


def check_losses(packed, seed=0):
    """Head losses of a packed batch on random features: finite, with
    finite gradients. Returns the loss values."""
    head = get_head()
    batch = pseudo_collate(packed)
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(len(packed), CHANNELS, HEATMAP[1], HEATMAP[0],
                        generator=gen, requires_grad=True)
    losses = head.loss((feats, ), batch['data_samples'],
                       dict(max_train_instances=200))
    assert set(losses) == LOSSES
    for name, value in losses.items():
        assert torch.isfinite(value), (name, value)
    head.zero_grad()
    sum(losses.values()).backward()
    assert torch.isfinite(feats.grad).all()
    for name, p in head.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    return {k: float(v.detach()) for k, v in losses.items()}


def check_targets(sample):
    """Invariants of the packed targets of one image."""
    labels = sample['data_samples'].gt_instance_labels
    fields = sample['data_samples'].gt_fields
    n = len(labels.instance_coords)
    assert n <= 200
    assert len(labels.instance_boxes) == len(labels.keypoint_weights) == n
    boxes = torch.as_tensor(labels.instance_boxes)
    assert torch.isfinite(boxes).all()
    W, H = HEATMAP
    if n:
        # the release's clip: each of x, y, w, h on its own
        assert (boxes >= 0).all()
        assert (boxes[:, 0::2] <= W - 1).all()
        assert (boxes[:, 1::2] <= H - 1).all()
    for key in ('heatmaps', 'heatmap_mask', 'instance_heatmaps'):
        value = torch.as_tensor(getattr(fields, key))
        assert torch.isfinite(value).all(), key
        assert value.numel() == 0 or (value.min() >= 0
                                      and value.max() <= 1 + 1e-6), key
    assert torch.isfinite(torch.as_tensor(labels.keypoint_weights)).all()


# ------------------------------------------------ in-memory samples
def uncompressed_rle(mask):
    """COCO's uncompressed RLE (as crowd annotations store it)."""
    flat = np.asfortranarray(mask).reshape(-1, order='F').astype(np.uint8)
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return dict(counts=counts, size=list(mask.shape))


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


# ------------------------------------------------ crowd regions (RLE)
@pytest.mark.parametrize('fmt', ['rle', 'compressed_rle', 'polygon'])
def test_crowd_regions_are_masked(fmt):
    """A crowd region covering the image leaves no valid pixel.

    MMPose's BottomupGetHeatmapMask ignores RLE regions, which is how COCO
    stores every crowd; BottomupGetHeatmapMaskRLE masks them."""
    from pycocotools import mask as cocomask
    h, w = 40, 60
    full = np.ones((h, w), np.uint8)
    seg = {'rle': uncompressed_rle(full),
           'compressed_rle': cocomask.encode(np.asfortranarray(full)),
           'polygon': [[0, 0, w, 0, w, h, 0, h]]}[fmt]
    results = dict(img_shape=(h, w), input_size=(w, h), invalid_segs=[seg],
                   warp_mat=np.eye(2, 3, dtype=np.float32),
                   heatmaps=np.zeros((K + 1, h // 4, w // 4), np.float32))
    ours = BottomupGetHeatmapMaskRLE()(copy.deepcopy(results))
    assert ours['heatmap_mask'].max() == 0
    mmpose = BottomupGetHeatmapMask()(copy.deepcopy(results))
    if fmt == 'polygon':
        assert mmpose['heatmap_mask'].max() == 0
    else:  # the MMPose bug this transform fixes
        assert mmpose['heatmap_mask'].min() == 1


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


# ------------------------------------------------ annotation files
@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('hostile_images')
    rng = np.random.RandomState(0)
    for name, (h, w) in (('a.jpg', (48, 64)), ('b.png', (80, 40))):
        cv2.imwrite(str(root / name),
                    rng.randint(0, 256, (h, w, 3)).astype(np.uint8))
    return root


IMAGES = [dict(id=1, file_name='a.jpg', height=48, width=64),
          dict(id=2, file_name='b.png', height=80, width=40)]
RAW_CORRUPTIONS = (
    'short_keypoints', 'long_keypoints', 'nan_keypoint', 'inf_keypoint',
    'string_keypoint', 'null_keypoint',
    'negative_visibility', 'huge_keypoint', 'short_bbox', 'nan_bbox',
    'missing_keypoints', 'missing_bbox', 'missing_id', 'bad_iscrowd',
    'crowd_without_segmentation', 'odd_polygon', 'nan_polygon',
    'rle_wrong_size', 'nan_area', 'keypoints_not_a_list', 'nan_visibility',
    'inf_bbox', 'huge_bbox', 'negative_area', 'missing_category_id',
    'keypoints_without_visibility', 'string_bbox', 'bad_num_keypoints',
    'duplicate_id', 'unknown_image_id')
# fields only the evaluator reads: training files may lack them
HARMLESS_IN_TRAINING = ('missing_area', 'missing_iscrowd',
                        'missing_num_keypoints', 'missing_segmentation')


@st.composite
def annotation_files(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    n = draw(st.integers(1, 12))
    anns, corrupt = [], set()
    for i in range(n):
        img = IMAGES[int(rng.randint(2))]
        W, H = img['width'], img['height']
        scale = draw(st.sampled_from([1.0, 3.0, 1e4]))
        kpts = np.zeros((K, 3))
        kpts[:, 0] = (rng.rand(K) * scale - (scale - 1) / 2) * W
        kpts[:, 1] = (rng.rand(K) * scale - (scale - 1) / 2) * H
        kpts[:, 2] = rng.choice([0, 1, 2], K)
        x, y = rng.rand(2) * [W, H]
        bw, bh = (rng.rand(2) - draw(st.sampled_from([0.0, 0.5, 1.5]))) * \
            [W, H]
        crowd = int(draw(st.booleans()) and rng.rand() < 0.3)
        if crowd:
            kpts[:] = 0
            m = np.zeros((H, W), np.uint8)
            m[int(y):, int(x):] = 1
            seg = uncompressed_rle(m)
        else:
            seg = [[float(x), float(y), float(x + bw), float(y),
                    float(x + bw), float(y + bh)]]
        ann = dict(id=100 + i, image_id=img['id'], category_id=1,
                   iscrowd=crowd, bbox=[float(x), float(y), float(bw),
                                        float(bh)],
                   area=float(abs(bw * bh)), segmentation=seg,
                   num_keypoints=int((kpts[:, 2] > 0).sum()),
                   keypoints=kpts.reshape(-1).tolist())
        what = draw(st.one_of(st.none(), st.none(),
                              st.sampled_from(RAW_CORRUPTIONS),
                              st.sampled_from(HARMLESS_IN_TRAINING)))
        if what in RAW_CORRUPTIONS or (what == 'missing_segmentation'
                                       and crowd):
            corrupt.add(ann['id'])
            if what == 'duplicate_id' and anns:
                corrupt.add(anns[0]['id'])
                ann['id'] = anns[0]['id']
            elif what == 'duplicate_id':
                corrupt.discard(ann['id'])
        if what is not None and what != 'duplicate_id':
            _corrupt(ann, what, rng, img)
        anns.append(ann)
    return dict(images=IMAGES, annotations=anns,
                categories=[dict(id=1, name='person')]), corrupt


def _corrupt(ann, what, rng, img):
    kp = ann['keypoints']
    j = int(rng.randint(len(kp)))
    if what == 'short_keypoints':
        ann['keypoints'] = kp[:-3 * int(rng.randint(1, K))]
    elif what == 'long_keypoints':
        ann['keypoints'] = kp + [0.0] * 3 * int(rng.randint(1, 4))
    elif what == 'nan_keypoint':
        kp[j] = float('nan')
    elif what == 'inf_keypoint':
        kp[j] = float('-inf')
    elif what == 'string_keypoint':
        kp[j] = '12.5'
    elif what == 'null_keypoint':
        kp[j] = None
    elif what == 'negative_visibility':
        kp[2 + 3 * int(rng.randint(K))] = -1
    elif what == 'huge_keypoint':
        kp[j // 3 * 3] = 1e30
    elif what == 'short_bbox':
        ann['bbox'] = ann['bbox'][:3]
    elif what == 'nan_bbox':
        ann['bbox'][int(rng.randint(4))] = float('nan')
    elif what == 'missing_keypoints':
        del ann['keypoints']
    elif what == 'missing_bbox':
        del ann['bbox']
    elif what == 'missing_id':
        ann['id_'] = ann.pop('id')
    elif what == 'bad_iscrowd':
        ann['iscrowd'] = 2
    elif what == 'crowd_without_segmentation':
        ann['iscrowd'] = 1
        ann['segmentation'] = []
    elif what == 'odd_polygon':
        ann['segmentation'] = [[1.0, 2.0, 3.0]]
    elif what == 'nan_polygon':
        ann['segmentation'] = [[1.0, 2.0, float('nan'), 4.0, 5.0, 6.0]]
    elif what == 'rle_wrong_size':
        ann['segmentation'] = dict(counts=[5, 5],
                                   size=[img['height'] + 1, img['width']])
    elif what == 'nan_area':
        ann['area'] = float('nan')
    elif what == 'keypoints_not_a_list':
        ann['keypoints'] = 'x'
    elif what == 'nan_visibility':
        kp[2 + 3 * int(rng.randint(K))] = float('nan')
    elif what == 'inf_bbox':
        ann['bbox'][int(rng.randint(4))] = float('-inf')
    elif what == 'huge_bbox':
        ann['bbox'][int(rng.randint(4))] = 2 * MAX_ABS_COORDINATE
    elif what == 'negative_area':
        ann['area'] = -1.0
    elif what == 'missing_category_id':
        del ann['category_id']
    elif what == 'keypoints_without_visibility':
        ann['keypoints'] = [v for i, v in enumerate(kp) if i % 3 != 2]
    elif what == 'string_bbox':
        ann['bbox'] = '1 2 3 4'
    elif what == 'bad_num_keypoints':
        ann['num_keypoints'] = 'seventeen'
    elif what == 'unknown_image_id':
        ann['image_id'] = 12345
    elif what.startswith('missing_'):  # HARMLESS_IN_TRAINING
        del ann[what[len('missing_'):]]


def _build_dataset(ann_file, image_dir):
    return ValidatedCocoDataset(
        ann_file=str(ann_file), data_root='', data_mode='bottomup',
        metainfo=copy.deepcopy(RAW_META), serialize_data=False,
        data_prefix=dict(img=str(image_dir) + '/'),
        pipeline=copy.deepcopy(TRAIN_PIPELINE))


@PROPERTY
@given(case=annotation_files())
def test_annotation_files_load_and_train_or_name_the_annotation(
        image_dir, tmp_path_factory, case):
    data, corrupt = case
    ann_file = tmp_path_factory.mktemp('ann', numbered=True) / 'ann.json'
    with open(ann_file, 'w') as f:
        json.dump(data, f)  # NaN/inf become JSON's NaN/Infinity literals
    event('corrupt file' if corrupt else 'valid file')
    if corrupt:
        with pytest.raises(AnnotationError) as info:
            _build_dataset(ann_file, image_dir)
        message = str(info.value)
        assert str(ann_file) in message, message
        named = [i for i in corrupt if f'annotation id {i} ' in message
                 or f'annotation ids [{i}' in message]
        # an annotation without an id is named by its position
        missing_id = re.search(r"annotations\[\d+\]\): missing field 'id'",
                               message)
        assert named or missing_id, (message, corrupt)
        return
    dataset = _build_dataset(ann_file, image_dir)
    assert len(dataset) <= 2
    np.random.seed(0)
    packed = []
    for i in range(len(dataset)):
        sample = dataset[i]
        check_targets(sample)
        packed.append(sample)
    event(f'valid file, {len(packed)} training images')
    if packed:
        check_losses(packed)


def test_wrong_keypoint_count_rejected_at_load_time(tmp_path):
    """A real annotation file with one person's last keypoint removed."""
    src = COCO_SAMPLE_ANN
    with open(src) as f:
        data = json.load(f)
    bad = data['annotations'][3]
    bad['keypoints'] = bad['keypoints'][:-3]
    ann_file = tmp_path / 'coco_16_keypoints.json'
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    with pytest.raises(AnnotationError,
                       match=r'has 48 values but the dataset has 17') as info:
        ValidatedCocoDataset(ann_file=str(ann_file), data_mode='bottomup',
                             data_prefix=dict(img=COCO_SAMPLES),
                             pipeline=[])
    assert str(ann_file) in str(info.value)
    assert f'annotation id {bad["id"]} ' in str(info.value)


def test_validated_dataset_on_the_sample_data():
    """The tiny config's data load unchanged through ValidatedCocoDataset
    (with MMPose's box clipping, ``clip_bbox=True``, as CocoDataset)."""
    cfg = Config.fromfile(TINY_CONFIG)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.type = 'ValidatedCocoDataset'
    ds_cfg.pipeline = []
    ds_cfg.clip_bbox = True
    validated = DATASETS.build(ds_cfg)
    ds_cfg.type = 'CocoDataset'
    del ds_cfg.clip_bbox  # a ValidatedCocoDataset option
    plain = DATASETS.build(ds_cfg)
    assert len(validated) == len(plain) == 4
    for i in range(4):
        a, b = validated.get_data_info(i), plain.get_data_info(i)
        np.testing.assert_array_equal(a['keypoints'], b['keypoints'])
        np.testing.assert_array_equal(a['bbox'], b['bbox'])


# ------------------------------------------------ unreadable images
def _load(path):
    return LoadImage()(dict(img_path=str(path)))


@pytest.mark.parametrize('kind', ['missing', 'empty', 'text', 'directory',
                                  'truncated_png'])
def test_unreadable_image_error_names_the_file(tmp_path, kind):
    path = tmp_path / f'{kind}.png'
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'text':
        path.write_text('not an image')
    elif kind == 'directory':
        path.mkdir()
    elif kind == 'truncated_png':
        ok, buf = cv2.imencode('.png', np.zeros((32, 32, 3), np.uint8))
        path.write_bytes(buf.tobytes()[:40])
    with pytest.raises(Exception) as info:
        _load(path)
    assert str(path) in str(info.value), str(info.value)


@PROPERTY
@given(data=st.binary(max_size=256))
def test_random_bytes_load_or_error_naming_the_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp('bytes', numbered=True) / 'img.jpg'
    path.write_bytes(data)
    try:
        results = _load(path)
    except Exception as e:  # noqa: BLE001  any type, but it names the file
        assert str(path) in str(e), repr(e)
    else:
        assert results['img'].ndim in (2, 3) and results['img'].size > 0


def test_unreadable_image_in_a_dataset_names_the_file(tmp_path, image_dir):
    data = dict(images=[dict(id=1, file_name='gone.jpg', height=48,
                             width=64)],
                annotations=[dict(id=5, image_id=1, category_id=1,
                                  iscrowd=0, bbox=[1.0, 1.0, 20.0, 30.0],
                                  area=600.0, num_keypoints=17,
                                  keypoints=[10.0, 10.0, 2.0] * K)],
                categories=[dict(id=1, name='person')])
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(data))
    dataset = _build_dataset(ann_file, image_dir)
    # an exception, not MMEngine's silent refetch of another image
    with pytest.raises(Exception) as info:
        dataset[0]
    assert osp.join(str(image_dir), 'gone.jpg') in str(info.value)


# ------------------------------------------------ evaluation fields
@pytest.mark.parametrize('what', ['missing_area', 'stray_category',
                                  'no_categories'])
def test_test_mode_needs_what_coco_metric_reads(tmp_path, image_dir, what):
    """CocoMetric (xtcocotools COCOeval, use_area=True) reads "area" of
    every annotation and scores only listed categories ("iscrowd" may be
    absent: xtcocotools fills it in)."""
    ann = dict(id=5, image_id=1, category_id=1, iscrowd=0, area=600.0,
               bbox=[1.0, 1.0, 20.0, 30.0], num_keypoints=K,
               keypoints=[10.0, 10.0, 2.0] * K)
    data = dict(images=IMAGES, annotations=[ann],
                categories=[dict(id=1, name='person')])
    if what == 'stray_category':
        ann['category_id'] = 2
    elif what == 'no_categories':
        del data['categories']
    else:
        del ann[what[len('missing_'):]]
    ann_file = tmp_path / 'val.json'
    ann_file.write_text(json.dumps(data))
    _build_dataset(ann_file, image_dir)  # fine for training
    with pytest.raises(AnnotationError) as info:
        ValidatedCocoDataset(
            ann_file=str(ann_file), data_mode='bottomup', test_mode=True,
            metainfo=copy.deepcopy(RAW_META), pipeline=[],
            data_prefix=dict(img=str(image_dir) + '/'))
    message = str(info.value)
    assert str(ann_file) in message
    if what.startswith('missing_'):
        assert "annotation id 5 of image 'a.jpg' (id 1)" in message
        assert f"missing field '{what[len('missing_'):]}'" in message
    else:
        assert 'categor' in message


@pytest.mark.parametrize('what', ['num_keypoints', 'crowdIndex', 'none'])
def test_crowdpose_test_mode_needs_num_keypoints_and_crowd_index(tmp_path,
                                                                 what):
    """CrowdPose's evaluation (iou_type='keypoints_crowd', use_area=False)
    reads "num_keypoints" of every annotation and "crowdIndex" of every
    image (its easy / medium / hard split), not "area"."""
    with open(CROWDPOSE_SAMPLE_ANN) as f:
        data = json.load(f)
    assert all('area' not in a for a in data['annotations'])
    if what == 'num_keypoints':
        del data['annotations'][1]['num_keypoints']
    elif what == 'crowdIndex':
        del data['images'][1]['crowdIndex']
    ann_file = tmp_path / 'crowdpose_test.json'
    ann_file.write_text(json.dumps(data))

    def build():
        return ValidatedCrowdPoseDataset(
            ann_file=str(ann_file), data_mode='bottomup', test_mode=True,
            data_prefix=dict(img='../shared/data/crowdpose/'), pipeline=[])

    if what == 'none':
        assert len(build()) == 2
        return
    with pytest.raises(AnnotationError) as info:
        build()
    message = str(info.value)
    assert str(ann_file) in message and f"missing field '{what}'" in message
    if what == 'num_keypoints':
        ann = data['annotations'][1]
        assert f'annotation id {ann["id"]} ' in message
        assert f'(id {ann["image_id"]})' in message
    else:
        assert f'image id {data["images"][1]["id"]} ' in message


# ------------------------------------------------ one layer
def test_training_datasets_are_the_validated_ones():
    """Every training set of the configs is a validated dataset (the bases
    hold the datasets, the leaves their pipelines)."""
    for path in ('configs/boir/_base_boir_coco.py',
                 'configs/boir/_base_boir_crowdpose.py',
                 'configs/boir/boir_w32_coco.py',
                 'configs/boir/boir_w48_coco.py',
                 'configs/boir/boir_w32_crowdpose.py',
                 'configs/boir/boir_w48_crowdpose.py',
                 TINY_CONFIG,
                 'configs/boir/tiny/boir_tiny_coco_iter.py',
                 TINY_CROWDPOSE_CONFIG):
        cfg = Config.fromfile(path)
        dataset = cfg.train_dataloader.dataset
        assert 'pipeline' in dataset or '/_base_' in path, path
        assert cfg.train_dataloader.dataset.type.startswith('Validated'), \
            path


def test_one_threshold():
    """A coordinate just inside MAX_ABS_COORDINATE is valid, just outside it
    is rejected."""
    img = dict(id=1, file_name='a.jpg', height=48, width=64)

    def problems(x):
        ann = dict(id=5, image_id=1, category_id=1, bbox=[1.0, 1.0, 2.0, 2.0],
                   keypoints=[x, 10.0, 2.0] + [10.0, 10.0, 2.0] * (K - 1))
        return annotation_file_problems(
            dict(images=[img], annotations=[ann]), 'f.json', K)

    inside, outside = 0.999 * MAX_ABS_COORDINATE, 1.001 * MAX_ABS_COORDINATE
    assert problems(inside) == []
    assert len(problems(outside)) == 1


# ------------------------------------------------ transform guards
def _codec_inputs(n=2):
    rng = np.random.RandomState(0)
    kpts = (rng.rand(n, K, 2) * 40 + 10).astype(np.float32)
    lo, hi = kpts.min(1), kpts.max(1)
    corners = np.stack((lo, np.stack((lo[:, 0], hi[:, 1]), -1),
                        np.stack((hi[:, 0], lo[:, 1]), -1), hi), 1)
    return kpts, np.ones((n, K), np.float32), corners


def test_box_embedding_sampling_names_the_image_for_nonfinite_boxes():
    from mmpose_boir.datasets.transforms import BoxEmbeddingSampling
    _, _, corners = _codec_inputs()
    corners[1, 0, 0] = np.nan
    results = dict(img_path='broken.jpg', bbox=corners, id=[11, 12],
                   instance_indices=np.array([0, 1]))
    with pytest.raises(ValueError, match=r'broken\.jpg.*\[12\]'):
        BoxEmbeddingSampling(INPUT, HEATMAP)(results)
