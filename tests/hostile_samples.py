"""Helpers of the hostile-input tests (not a test module): a small BoIR
training pipeline and head, the checks of its targets and losses, COCO's
keypoint metainfo, and annotation files on two small images.

The pipeline is the BoIR training pipeline on 64x64 inputs and 16x16 maps

    LoadImage -> BottomupRandomAffine -> RandomFlip ->
    GenerateTarget(BoIRDecoupledHeatmap) -> BoxEmbeddingSampling ->
    BottomupGetHeatmapMaskRLE -> PackPoseInputs

and the head a small BoIRHead (8 channels) fed random features: small
images and maps keep 200 examples per property fast. Used by the
property-based tests of the annotation checks, the datasets, the heatmap
mask and the head's losses.
"""
import copy
import os
import os.path as osp

import cv2
import mmpose
import numpy as np
import torch
from hypothesis import HealthCheck, settings
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from conftest import LOSS_NAMES
from mmpose_boir.datasets import ValidatedCocoDataset

K = 17
INPUT, HEATMAP = (64, 64), (16, 16)
CHANNELS = 8
# 200 examples per property in CI; BOIR_HYPOTHESIS_EXAMPLES=5000 for a
# longer hunt
PROPERTY = settings(max_examples=int(os.environ.get(
    'BOIR_HYPOTHESIS_EXAMPLES', 200)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
LOSSES = set(LOSS_NAMES)

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
#: the images of :func:`write_images`, as an annotation file lists them
IMAGES = [dict(id=1, file_name='a.jpg', height=48, width=64),
          dict(id=2, file_name='b.png', height=80, width=40)]

_CACHE = {}


def get_pipeline():
    """:data:`TRAIN_PIPELINE`, built once per process."""
    if 'pipeline' not in _CACHE:
        init_default_scope('mmpose')
        _CACHE['pipeline'] = Compose(copy.deepcopy(TRAIN_PIPELINE))
    return _CACHE['pipeline']


def get_head():
    """A small BoIRHead (8 channels) fed random 16x16 features."""
    if 'head' not in _CACHE:
        init_default_scope('mmpose')
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


def write_images(root):
    """The two small random images of :data:`IMAGES` in ``root``; returns
    ``root``."""
    rng = np.random.RandomState(0)
    for name, (h, w) in (('a.jpg', (48, 64)), ('b.png', (80, 40))):
        cv2.imwrite(str(root / name),
                    rng.randint(0, 256, (h, w, 3)).astype(np.uint8))
    return root


def build_dataset(ann_file, image_dir):
    """A bottom-up training ``ValidatedCocoDataset`` of ``ann_file`` with
    :data:`TRAIN_PIPELINE`."""
    init_default_scope('mmpose')
    return ValidatedCocoDataset(
        ann_file=str(ann_file), data_root='', data_mode='bottomup',
        metainfo=copy.deepcopy(RAW_META), serialize_data=False,
        data_prefix=dict(img=str(image_dir) + '/'),
        pipeline=copy.deepcopy(TRAIN_PIPELINE))
