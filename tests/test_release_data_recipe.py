"""The paper configs read and augment training data as the release does.

- the translation draw, by distribution, against an independent
  implementation of the release's ``RandomAffineTransform`` formula;
- images read as stored, ignoring EXIF orientation, in every paper config's
  train and test pipeline;
- the annotated boxes unclipped;
- the placeholder instance of an image left without instances, and what it
  adds to the losses;
- results files without person boxes (detection areas from keypoints).
"""
import copy
import glob
import json
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from PIL import Image
from scipy.stats import ks_2samp

import mmpose_boir  # noqa: F401

COCO = '../shared/data/coco/'
IMAGE = COCO + '000000040083.jpg'  # 500 x 333
PAPER_CONFIGS = sorted(
    p for p in glob.glob('configs/boir/boir_*.py'))
DRAWS = 4000


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmpose')


def _steps(cfg: Config, *types):
    return [dict(t) for t in cfg.train_dataloader.dataset.pipeline
            if t['type'] in types]


# --------------------------------------------------------------- translation
def release_draws(image_hw, points, input_size, output_size, n, seed,
                  scale_range=(0.75, 1.5), max_rotation=30,
                  max_translate=40, flip_prob=0.5):
    """Where ``points`` (P, 2) land on the release's output grid, ``n``
    times: the release's formulas (short-side scale / 200, uniform scale and
    rotation, whole-pixel translation ``randint(-40 s, 40 s)`` on both axes,
    the crop affine, then the flip ``x -> out - 1 - x``), written here from
    their description, independently of our transforms."""
    rng = np.random.RandomState(seed)
    h, w = image_hw
    out = np.empty((n, len(points), 2))
    for i in range(n):
        s = (min(h, w) / 200) * (rng.random_sample() *
                                 (scale_range[1] - scale_range[0]) +
                                 scale_range[0])
        rot = (rng.random_sample() * 2 - 1) * max_rotation
        lo, hi = int(-max_translate * s), int(max_translate * s)
        cx = w / 2 + rng.randint(lo, hi)
        cy = h / 2 + rng.randint(lo, hi)
        side = 200 * s
        # crop of side `side` around (cx, cy) -> output_size, then a rotation
        # by -rot degrees about the output's center
        xy = (points - [cx, cy]) * (output_size / side) + output_size / 2
        a = -math.radians(rot)
        c, sn = math.cos(a), math.sin(a)
        d = xy - output_size / 2
        xy = np.stack((c * d[:, 0] - sn * d[:, 1],
                       sn * d[:, 0] + c * d[:, 1]), -1) + output_size / 2
        if rng.random_sample() < flip_prob:
            xy[:, 0] = output_size - 1 - xy[:, 0]
        out[i] = xy
    return out


def our_draws(cfg, image, points, n, seed, shift_mode=None):
    """Where ``points`` land on the heatmap grid through the config's own
    affine and flip steps."""
    affine, flip = _steps(cfg, 'BoIRRandomAffine', 'BottomupRandomAffine'), \
        _steps(cfg, 'BoIRRandomFlip', 'RandomFlip')
    assert len(affine) == 1 and len(flip) == 1
    if shift_mode:
        affine[0]['shift_mode'] = shift_mode
    affine = TRANSFORMS.build(affine[0])
    # the image warp does not move the points (cv2.transform with the same
    # matrix does): skip it, keep a stand-in image
    affine._transform = lambda img, mat, size: img
    pipeline = Compose([affine, TRANSFORMS.build(flip[0])])
    (codec, ) = [t['encoder'] for t in _steps(cfg, 'GenerateTarget')]
    stride = codec['input_size'][0] / codec['heatmap_size'][0]
    np.random.seed(seed)
    h, w = image.shape[:2]
    out = np.empty((n, len(points), 2))
    for i in range(n):
        results = pipeline(dict(
            img=image[:2, :2].copy(), img_shape=(h, w),
            keypoints=np.asarray(points, np.float32)[None],
            keypoints_visible=np.ones((1, len(points)), np.float32),
            bbox=np.array([[0, 0, w, h]], np.float32),
            flip_indices=list(range(len(points)))))
        out[i] = results['keypoints'][0] / stride
    return out, codec


@pytest.mark.parametrize('config', [
    'configs/boir/boir_w32_coco.py', 'configs/boir/boir_w48_coco.py',
    'configs/boir/boir_w32_crowdpose.py'
])
def test_translation_draw_matches_the_release_by_distribution(config):
    """The image center and two other points, on the heatmap grid: ours and
    the release's formula agree by Kolmogorov-Smirnov on every coordinate;
    MMPose's own shift draw does not (so the test can fail)."""
    cfg = Config.fromfile(config)
    image = cv2.imread(IMAGE)
    h, w = image.shape[:2]
    points = np.array([[w / 2, h / 2], [0.2 * w, 0.8 * h], [0.9 * w, 0.1 * h]])
    ours, codec = our_draws(cfg, image, points, DRAWS, seed=1)
    release = release_draws((h, w), points, codec['input_size'][0],
                            codec['heatmap_size'][0], DRAWS, seed=2)
    for p in range(len(points)):
        for axis in (0, 1):
            stat = ks_2samp(ours[:, p, axis], release[:, p, axis])
            assert stat.pvalue > 1e-3, (config, p, axis, stat)
    mmpose, _ = our_draws(cfg, image, points[:1], DRAWS, seed=1,
                          shift_mode='mmpose')
    assert ks_2samp(mmpose[:, 0, 0], release[:, 0, 0]).pvalue < 1e-6
    print(f'{config}: image center x std {ours[:, 0, 0].std():.2f} cells '
          f'(release {release[:, 0, 0].std():.2f}, MMPose\'s draw '
          f'{mmpose[:, 0, 0].std():.2f})')


def test_translation_bounds_are_the_releases():
    """Whole pixels in ``[-floor(m), floor(m) - 1]``, ``m = 0.2 * short side
    * s``, on both axes."""
    t = TRANSFORMS.build(dict(
        type='BoIRRandomAffine', input_size=(512, 512), shift_mode='release',
        shift_factor=0.2, scale_factor=(1.0, 1.0), rotate_factor=0,
        distribution='uniform'))
    t._image_hw = (333, 500)
    np.random.seed(0)
    shifts = np.array([t._get_transform_params()[0] * [500, 333]
                       for _ in range(3000)])
    assert np.allclose(shifts, np.round(shifts), atol=1e-9)
    m = math.floor(0.2 * 333)
    for axis in (0, 1):
        assert shifts[:, axis].min() == -m
        assert shifts[:, axis].max() == m - 1
    with pytest.raises(ValueError, match='shift_mode'):
        TRANSFORMS.build(dict(type='BoIRRandomAffine', input_size=(64, 64),
                              shift_mode='pixels'))
    with pytest.raises(ValueError, match='distribution'):
        TRANSFORMS.build(dict(type='BoIRRandomAffine', input_size=(64, 64),
                              distribution='trunc_norm'))


# ---------------------------------------------------------------------- EXIF
@pytest.fixture(scope='module')
def exif_jpeg(tmp_path_factory):
    """A JPEG of 40 x 60 stored pixels (w x h) tagged Orientation=6."""
    path = tmp_path_factory.mktemp('exif') / 'rotated.jpg'
    pixels = np.zeros((60, 40, 3), np.uint8)
    pixels[:10] = 255  # a white band at the top of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, exif=exif.tobytes())
    return str(path)


def _load_steps(pipeline):
    return [t for t in pipeline if t['type'] == 'LoadImage']


@pytest.mark.parametrize('config', PAPER_CONFIGS)
def test_exif_orientation_is_ignored_in_train_and_test(config, exif_jpeg):
    cfg = Config.fromfile(config)
    pipelines = dict(train=cfg.train_dataloader.dataset.pipeline,
                     test=cfg.test_dataloader.dataset.pipeline)
    for name, pipeline in pipelines.items():
        (step, ) = _load_steps(pipeline)
        out = TRANSFORMS.build(step)(dict(img_path=exif_jpeg))
        assert out['img'].shape == (60, 40, 3), (config, name)
        assert out['img'][:10].mean() > 200  # stored rows, not rotated
    # MMPose's default applies the tag (what the configs must not do)
    out = TRANSFORMS.build(dict(type='LoadImage'))(dict(img_path=exif_jpeg))
    assert out['img'].shape == (40, 60, 3)


# ----------------------------------------------------------------- raw boxes
def _write_json(tmp_path, data, name='ann.json'):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _train_dataset(cfg, ann_file, pipeline=()):
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.update(data_root='', ann_file=ann_file,
              data_prefix=dict(img=osp.abspath(COCO)), pipeline=list(pipeline))
    return DATASETS.build(ds)


def _info(dataset, img_id):
    return next(info for info in map(dataset.get_data_info,
                                     range(len(dataset)))
                if info['img_id'] == img_id)


def test_boxes_touching_the_image_edge_are_kept_as_annotated(tmp_path):
    data = json.load(open(COCO + 'test_coco.json'))
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


# -------------------------------------------------------------- placeholder
def _no_instance_json(tmp_path):
    """The sample json plus a copy of image 40083 whose only person is too
    small to get a center (area under the tiny config's 8^2 input px^2)."""
    data = json.load(open(COCO + 'test_coco.json'))
    img = dict(next(i for i in data['images'] if i['id'] == 40083), id=1)
    person = dict(next(a for a in data['annotations']
                       if a['image_id'] == 40083 and not a['iscrowd']),
                  id=10**9, image_id=1, bbox=[100, 100, 12, 12], area=144,
                  num_keypoints=1, segmentation=[[100, 100, 112, 100,
                                                  112, 112]])
    kpts = [0] * 51
    kpts[:3] = [106, 106, 2]
    person['keypoints'] = kpts
    data['images'] = [i for i in data['images'] if i['id'] == 197388] + [img]
    data['annotations'] = [a for a in data['annotations']
                           if a['image_id'] == 197388] + [person]
    return _write_json(tmp_path, data)


def _no_augmentation(pipeline, placeholder):
    steps = []
    for t in pipeline:
        t = copy.deepcopy(dict(t))
        if t['type'] == 'BoIRRandomAffine':
            t.update(rotate_factor=0, scale_factor=(1.0, 1.0),
                     shift_factor=0.)
        elif t['type'] == 'BoIRRandomFlip':
            t['prob'] = 0.
        elif t['type'] == 'GenerateTarget':
            t['encoder'] = dict(t['encoder'], jitter=False,
                                placeholder_instance=placeholder)
        steps.append(t)
    return steps


def test_placeholder_instance_of_an_image_without_instances(tmp_path):
    """An image whose people all lose their center gets the release's
    placeholder: one instance at cell (0, 0) with zero heatmaps, weights and
    box. It counts as one more Bbox Mask Loss instance (whose box adds no
    term) and adds its 2x2 cells at (0, 0) to the box loss; the keypoint
    losses are unchanged."""
    cfg = Config.fromfile('configs/boir/tiny/boir_tiny_coco.py')
    ann_file = _no_instance_json(tmp_path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).double()
    with torch.no_grad():  # a box head that is not all zeros
        for p in model.head.bbox_head.parameters():
            p.normal_(0, 0.1)
    losses, counts = {}, {}
    for placeholder in (True, False):
        ds = _train_dataset(cfg, ann_file, _no_augmentation(
            cfg.train_dataloader.dataset.pipeline, placeholder))
        batch = [ds[i] for i in range(len(ds))]
        empty = [b['data_samples'] for b in batch
                 if b['data_samples'].metainfo['img_id'] == 1][0]
        labels = empty.gt_instance_labels
        if placeholder:
            assert labels.instance_coords.tolist() == [[0, 0]]
            assert float(labels.keypoint_weights.abs().sum()) == 0
            assert labels.instance_boxes.tolist() == [[0, 0, 0, 0]]
            assert float(empty.gt_fields.instance_heatmaps.abs().sum()) == 0
        else:
            assert len(labels.instance_coords) == 0
        counts[placeholder] = sum(len(b['data_samples'].gt_instance_labels
                                      .instance_coords) for b in batch)
        data = model.data_preprocessor(pseudo_collate(batch), training=True)
        with torch.no_grad():
            losses[placeholder] = model(data['inputs'].double(),
                                        data['data_samples'], mode='loss')
    n = counts[False]
    assert counts[True] == n + 1
    with_p, without = losses[True], losses[False]
    for key in ('loss_multi_heatmap', 'loss_instance_heatmap'):
        assert torch.allclose(with_p[key], without[key], rtol=1e-12), key
    torch.testing.assert_close(with_p['loss_bbox_mask'] * (n + 1),
                               without['loss_bbox_mask'] * n, rtol=1e-10,
                               atol=0)
    # the box loss: the 3x3 cells of each instance inside the map, plus the
    # placeholder's 4; its cells' CIoU against the box (0, 0, 0, 0)
    assert not torch.allclose(with_p['loss_bbox'], without['loss_bbox'])


# ------------------------------------------------------------------ results
def test_results_file_has_no_person_box_and_keypoint_extent_areas(tmp_path):
    """As the release's results file: no ``bbox``, so the COCO tools take
    each detection's area from the extent of all its keypoints;
    ``write_bbox=True`` writes our boxes (MMPose's)."""
    from mmpose.structures import PoseDataSample  # noqa: F401
    from xtcocotools.coco import COCO as XCOCO

    cfg = Config.fromfile('configs/boir/boir_w32_coco.py')
    ann_file = COCO + 'test_coco.json'
    gt = json.load(open(ann_file))
    samples = []
    for img in gt['images']:
        anns = [a for a in gt['annotations'] if a['image_id'] == img['id']
                and a['num_keypoints'] > 0]
        kpts = np.array([a['keypoints'] for a in anns], np.float32).reshape(
            len(anns), 17, 3)
        samples.append(dict(
            id=img['id'], img_id=img['id'], ori_shape=(img['height'],
                                                       img['width']),
            raw_ann_info=[], gt_instances=dict(),
            pred_instances=dict(
                keypoints=kpts[..., :2], keypoint_scores=np.full(
                    kpts.shape[:2], 0.9, np.float32),
                bbox_scores=np.full(len(anns), 0.9, np.float32),
                # a box far from the keypoints' extent
                bboxes=np.tile(np.array([[0, 0, 5, 5]], np.float32),
                               (len(anns), 1)))))
    for write_bbox in (False, True):
        metric = METRICS.build(dict(
            cfg.val_evaluator, ann_file=ann_file, write_bbox=write_bbox,
            outfile_prefix=str(tmp_path / f'r{int(write_bbox)}')))
        metric.dataset_meta = DATASETS.build(dict(
            type='ValidatedCocoDataset', data_root='', ann_file=ann_file,
            data_mode='bottomup', test_mode=True, pipeline=[],
            data_prefix=dict(img=COCO))).metainfo
        metric.process([], copy.deepcopy(samples))
        metric.evaluate(len(samples))
        path = str(tmp_path / f'r{int(write_bbox)}.keypoints.json')
        results = json.load(open(path))
        assert results and all(('bbox' in r) == write_bbox for r in results)
        loaded = XCOCO(ann_file).loadRes(path)
        for ann in loaded.dataset['annotations']:
            x, y = np.array(ann['keypoints'][0::3]), np.array(
                ann['keypoints'][1::3])
            extent = (x.max() - x.min()) * (y.max() - y.min())
            if write_bbox:
                assert ann['area'] == pytest.approx(25)
            else:
                assert ann['area'] == pytest.approx(extent)
