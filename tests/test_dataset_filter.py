"""The release's COCO training-image filter: ``filter_cfg=dict(
min_labelled_people=1)`` keeps only images with at least one non-crowd
person with a labelled keypoint (visibility > 0)."""
import json

import pytest
from mmengine.config import Config

from mmpose_boir.datasets import ValidatedCocoDataset

K = 17


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
