"""Valid but hostile inputs go through the real dataset (the one validation
layer, at load time), the training pipeline (no validation transform) and
the loss with finite losses: an image with no people, people without
visible keypoints, zero-area and out-of-image boxes, more people than the
instance cap, a crowd-only image."""
import copy
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from conftest import COCO_SAMPLE_ANN as SRC
from conftest import COCO_SAMPLES as IMAGES
from conftest import TINY_CONFIG as TINY


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
    src = json.load(open(SRC))
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
    init_default_scope('mmpose')
    cfg = Config.fromfile(TINY)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.ann_file = hostile_json
    dataset_cfg.data_root = ''
    dataset_cfg.data_prefix = dict(img=IMAGES)
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
        open(SRC))['images'][1]['id']
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
    model = MODELS.build(cfg.model)
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
