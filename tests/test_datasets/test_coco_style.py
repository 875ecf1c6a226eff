"""The COCO-style datasets (mmpose_boir/datasets/coco_style.py): MMPose's
CocoDataset, CrowdPoseDataset and OCHumanDataset with what BoIR adds.

- the release's COCO training-image filter: ``filter_cfg=dict(
  min_labelled_people=1)`` keeps only images with at least one non-crowd
  person with a labelled keypoint (visibility > 0);
- boxes as annotated (``clip_bbox=False``, the paper configs), MMPose's
  clipping as the opt-in; the sample data load unchanged otherwise;
- image files that cannot be read: an error naming the file (MMPose's
  LoadImage, property-based over random bytes, and the dataset);
- every training set of the configs is a validated dataset.
"""
import copy
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import DATASETS

import mmpose_boir  # noqa: F401
from conftest import (COCO_SAMPLE_ANN, COCO_SAMPLES, TINY_CONFIG,
                      TINY_CROWDPOSE_CONFIG, tiny_config)
from hostile_samples import K, PROPERTY, build_dataset, write_images
from mmpose_boir.datasets import ValidatedCocoDataset


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmpose')


# ------------------------------------------------ the release's image filter
def _ann(ann_id, image_id, visible, iscrowd=0):
    kpts = []
    for k in range(K):
        v = 2 if (visible and k < 5) else 0
        kpts += [10.0 + 5 * k, 20.0 + 3 * k, v] if v else [0.0, 0.0, 0]
    ann = dict(id=ann_id, image_id=image_id, category_id=1,
               bbox=[5.0, 5.0, 100.0, 120.0], area=100.0 * 120.0,
               iscrowd=iscrowd, keypoints=kpts,
               num_keypoints=5 if visible else 0)
    if iscrowd:
        ann['segmentation'] = dict(counts=[0, 200 * 300], size=[300, 200])
    else:
        ann['segmentation'] = [[5.0, 5.0, 105.0, 5.0, 105.0, 125.0]]
    return ann


@pytest.fixture
def ann_file(tmp_path):
    images = [dict(id=i, file_name=f'{i:06d}.jpg', width=200, height=300)
              for i in (1, 2, 3, 4, 5)]
    annotations = [
        # 1: one labelled person (plus a keypoint-less one): kept
        _ann(1, 1, visible=True), _ann(2, 1, visible=False),
        # 2: a crowd annotation only (its keypoints labelled): dropped
        _ann(3, 2, visible=True, iscrowd=1),
        # 3: only people without labelled keypoints: dropped
        _ann(4, 3, visible=False), _ann(5, 3, visible=False),
        # 4: a crowd region and a labelled person: kept
        _ann(6, 4, visible=False, iscrowd=1), _ann(7, 4, visible=True),
        # 5: no annotation at all (never in a bottom-up training list)
    ]
    data = dict(images=images, annotations=annotations,
                categories=[dict(id=1, name='person')])
    path = tmp_path / 'filter_coco.json'
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def _build(ann_file, **kwargs):
    return ValidatedCocoDataset(
        ann_file=str(ann_file), data_root='', data_mode='bottomup',
        data_prefix=dict(img=''), serialize_data=False, pipeline=[],
        **kwargs)


def test_without_filter_every_annotated_image_is_kept(ann_file):
    dataset = _build(ann_file)
    assert sorted(dataset.get_data_info(i)['img_id']
                  for i in range(len(dataset))) == [1, 2, 3, 4]


def test_min_labelled_people_keeps_the_release_images(ann_file):
    dataset = _build(ann_file, filter_cfg=dict(min_labelled_people=1))
    assert sorted(dataset.get_data_info(i)['img_id']
                  for i in range(len(dataset))) == [1, 4]


def test_min_labelled_people_two(ann_file):
    dataset = _build(ann_file, filter_cfg=dict(min_labelled_people=2))
    assert len(dataset) == 0


def test_filter_is_for_bottomup_mode(ann_file):
    with pytest.raises(ValueError, match='min_labelled_people'):
        ValidatedCocoDataset(
            ann_file=str(ann_file), data_root='', data_mode='topdown',
            data_prefix=dict(img=''), serialize_data=False, pipeline=[],
            filter_cfg=dict(min_labelled_people=1))


def test_coco_config_filters_training_images():
    cfg = Config.fromfile('configs/boir/_base_boir_coco.py')
    assert cfg.train_dataloader.dataset.filter_cfg == dict(
        min_labelled_people=1)


# ------------------------------------------------ boxes
def test_validated_dataset_on_the_sample_data():
    """The tiny config's data load unchanged through ValidatedCocoDataset
    (with MMPose's box clipping, ``clip_bbox=True``, as CocoDataset)."""
    cfg = tiny_config()
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


def _write_json(tmp_path, data, name='ann.json'):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _train_dataset(cfg, ann_file):
    """The config's training set on ``ann_file``, without a pipeline."""
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.update(data_root='', ann_file=ann_file,
              data_prefix=dict(img=osp.abspath(COCO_SAMPLES)), pipeline=[])
    return DATASETS.build(ds)


def _info(dataset, img_id):
    return next(info for info in map(dataset.get_data_info,
                                     range(len(dataset)))
                if info['img_id'] == img_id)


def test_boxes_touching_the_image_edge_are_kept_as_annotated(tmp_path):
    data = json.load(open(COCO_SAMPLE_ANN))
    img = next(i for i in data['images'] if i['id'] == 40083)
    ann = next(a for a in data['annotations'] if a['image_id'] == 40083
               and not a['iscrowd'] and a['num_keypoints'] > 0)
    W, H = img['width'], img['height']
    ann['bbox'] = [W - 100.5, H - 80.25, 100.5, 80.25]  # to the far edges
    ann_file = _write_json(tmp_path, data)
    for config in ('configs/boir/boir_w32_coco.py',
                   'configs/boir/boir_w32_crowdpose.py'):
        cfg = Config.fromfile(config)
        cfg.train_dataloader.dataset.type = 'ValidatedCocoDataset'
        ds = _train_dataset(cfg, ann_file)
        info = _info(ds, 40083)
        row = [i for i, a in enumerate(info['raw_ann_info'])
               if a['id'] == ann['id']][0]
        np.testing.assert_allclose(info['bbox'][row],
                                   [W - 100.5, H - 80.25, W, H])
    # MMPose's clipping, the opt-in
    cfg.train_dataloader.dataset.clip_bbox = True
    info = _info(_train_dataset(cfg, ann_file), 40083)
    np.testing.assert_allclose(info['bbox'][row],
                               [W - 100.5, H - 80.25, W - 1, H - 1])


# ------------------------------------------------ unreadable images
@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp('hostile_images'))


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
    dataset = build_dataset(ann_file, image_dir)
    # an exception, not MMEngine's silent refetch of another image
    with pytest.raises(Exception) as info:
        dataset[0]
    assert osp.join(str(image_dir), 'gone.jpg') in str(info.value)


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
