"""The paper configs augment training data as the release does: the
translation draw, by distribution (Kolmogorov-Smirnov over thousands of
draws of the image center and two other points on the heatmap grid),
against an independent implementation of the release's
``RandomAffineTransform`` formula; MMPose's own shift draw does not pass.

The rest of the release's data recipe is tested with the module it
concerns: the draw's bounds (test_random_affine.py), images read ignoring
EXIF orientation (test_release_configs.py), boxes as annotated
(test_coco_style.py), the placeholder instance (test_boir_heatmap.py) and
results files without person boxes (test_coco_metric.py).
"""
import math

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmpose.registry import TRANSFORMS
from scipy.stats import ks_2samp

import mmpose_boir  # noqa: F401
from conftest import COCO_SAMPLES

IMAGE = COCO_SAMPLES + '000000040083.jpg'  # 500 x 333
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
