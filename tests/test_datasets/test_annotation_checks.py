"""The annotation checks (mmpose_boir/datasets/annotation_checks.py), as the
datasets run them when an annotation file loads: the one layer of input
checks.

Random raw COCO annotation files, property-based - NaN/inf/huge values,
missing fields, wrong keypoint counts, negative visibilities, malformed
boxes, crowds and segmentations - either fail to load with an
AnnotationError naming the file, the image and the annotation, or load and
train through the BoIR training pipeline and a small head's losses with
finite losses and gradients (tests/hostile_samples.py). Datasets in test
mode reject files without the fields the evaluator reads (``EVAL_FIELDS``),
when the test dataset loads, not after the inference pass.
"""
import copy
import json
import re

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

import mmpose_boir  # noqa: F401
from conftest import (COCO_SAMPLE_ANN, COCO_SAMPLES, CROWDPOSE_SAMPLE_ANN,
                      TINY_CONFIG, TINY_CROWDPOSE_CONFIG)
from hostile_samples import (IMAGES, K, PROPERTY, RAW_META, build_dataset,
                             check_losses, check_targets, uncompressed_rle,
                             write_images)
from mmpose_boir.datasets import (EVAL_FIELDS, MAX_ABS_COORDINATE,
                                  AnnotationError, ValidatedCocoDataset,
                                  ValidatedCrowdPoseDataset,
                                  annotation_file_problems)

pytestmark = pytest.mark.usefixtures('one_torch_thread')


# ------------------------------------------------ annotation files
@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp('hostile_images'))


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
            build_dataset(ann_file, image_dir)
        message = str(info.value)
        assert str(ann_file) in message, message
        named = [i for i in corrupt if f'annotation id {i} ' in message
                 or f'annotation ids [{i}' in message]
        # an annotation without an id is named by its position
        missing_id = re.search(r"annotations\[\d+\]\): missing field 'id'",
                               message)
        assert named or missing_id, (message, corrupt)
        return
    dataset = build_dataset(ann_file, image_dir)
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
    build_dataset(ann_file, image_dir)  # fine for training
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


#: each dataset's tiny test config
EVAL_CONFIGS = {
    'coco': TINY_CONFIG,
    'crowdpose': TINY_CROWDPOSE_CONFIG,
    'ochuman': 'configs/boir/tiny/boir_tiny_ochuman.py',
}


@pytest.mark.parametrize('name', list(EVAL_CONFIGS))
def test_eval_fields_are_checked_when_the_test_dataset_loads(name, tmp_path):
    path = EVAL_CONFIGS[name]
    init_default_scope('mmpose')
    cfg = Config.fromfile(path)
    ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    assert ds_cfg.test_mode and ds_cfg.type.startswith('Validated')
    src = ds_cfg.data_root + ds_cfg.ann_file
    with open(src) as f:
        data = json.load(f)
    field = EVAL_FIELDS[name]['annotation'][0]
    ann = data['annotations'][-1]
    del ann[field]
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(data))
    ds_cfg.ann_file = str(ann_file.resolve())
    with pytest.raises(AnnotationError) as info:
        DATASETS.build(ds_cfg)
    message = str(info.value)
    assert str(ann_file.resolve()) in message
    assert f'annotation id {ann["id"]} ' in message
    assert f"missing field '{field}'" in message
