"""Inference parity with the authors' release, on the float64 fixtures.

Each ``../shared/fixtures/release_*_f64.npz`` that is not a training fixture
(see the fixtures' README, "Float64 fixtures") records what the release
predicts in double precision for one image with synthetic weights: its
network input, its center heatmap and every person it keeps (before
OKS-NMS). Every such file is tested, whichever paper config its
``cfg_name`` names. The weights of the fixture's rule go through
``tools/convert_release_checkpoint.py`` into the model of our config, which
is widened to float64 and run through the public predict path (flip test as
the config says) on the fixture's input, picking its people from its own
center map.

In float64 the release and ours agree to about 1e-8 on any machine, so the
comparison is strict. Our float32 path is then compared with our own
float64 path, at tolerances float32 gives on any CPU: with these synthetic
weights the center peaks lie within ~1e-7 of each other, so float32 noise
reorders them; only people found at the same center cell are compared.
"""
import copy
import glob
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from release_fixture import (DATA_DIR, config_of, converted_state_dict,
                             float64_fixtures, load_fixture)

pytestmark = [pytest.mark.shared_worker('float64_parity'),
              pytest.mark.run_first(0)]

FIXTURES = float64_fixtures(training=False)
#: float64 against the release: keypoints (pixels), scores, center map
TOL = 1e-6
#: float32 against float64: the center map (absolute; float32 noise is
#: ~1e-7 here), keypoint and person scores (absolute)
F32_CENTER_TOL = 1e-5
F32_SCORE_TOL = 1e-5


def _name(path: str) -> str:
    return osp.basename(path)[:-len('.npz')]


def test_float64_fixtures_are_found():
    names = [str(load_fixture(p)['cfg_name']) for p in FIXTURES]
    assert 'coco_w32' in names and 'coco_w48' in names, FIXTURES


def _flip_indices(cfg: Config):
    dataset = DATASETS.get(cfg.test_dataloader.dataset.type)
    return parse_pose_metainfo(dataset.METAINFO)['flip_indices']


def _test_data(cfg: Config, image: str) -> dict:
    """The config's test pipeline on ``image``, as for a dataset image
    (with an ``img_id``: every candidate is kept, as the release
    evaluates)."""
    return Compose(cfg.test_dataloader.dataset.pipeline)(
        dict(img_path=image, img_id=0, flip_indices=_flip_indices(cfg)))


def _predict(model, inputs: torch.Tensor, data: dict) -> SimpleNamespace:
    """``model``'s public predict path on ``inputs`` with the metainfo of
    ``data``: the people (image and input pixels), their scores and the
    center map with its peaks (the cell of each person)."""
    batch = pseudo_collate([copy.deepcopy(data)])
    with torch.no_grad():  # as MMEngine's test loop
        out = model(inputs, batch['data_samples'], mode='predict')[0]
    pred, meta = out.pred_instances, out.metainfo
    size = np.asarray(meta['input_size'], dtype=np.float64)
    scale = np.asarray(meta['input_scale'], dtype=np.float64)
    center_xy = np.asarray(meta['input_center'], dtype=np.float64)
    image_xy = np.asarray(pred.keypoints, dtype=np.float64)
    center = torch.as_tensor(out.pred_fields.heatmaps)
    cfg = model.test_cfg
    _, cells, _ = model.head.decoder.decode_centers(
        center, cfg.get('max_instances', 30), cfg.get('score_thr',
                                                      0.01),
        cfg.get('blur_kernel_size', 3))
    return SimpleNamespace(
        image_xy=image_xy,
        # MMPose's input -> image mapping, inverted
        input_xy=(image_xy - center_xy + 0.5 * scale) / scale * size,
        scores=np.asarray(pred.keypoint_scores, dtype=np.float64),
        center_scores=np.asarray(pred.bbox_scores, dtype=np.float64),
        center=center[0].double().numpy(),
        cells=[tuple(c) for c in cells.tolist()])


@pytest.fixture(scope='module', params=FIXTURES, ids=_name)
def case(request, tmp_path_factory):
    """One fixture: our model of its config with the converted release
    weights, predicting its input in float32 and then in float64."""
    fixture = load_fixture(request.param)
    init_default_scope('mmpose')
    cfg = Config.fromfile(config_of(fixture))
    cfg.model.backbone.init_cfg = None
    cfg.model.head.with_aux_heads = False
    cfg.model.test_cfg.output_heatmaps = True  # predict returns the centers
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(converted_state_dict(
        fixture, str(tmp_path_factory.mktemp('release'))), strict=True)
    # the metainfo of an image of the fixture's size: its pixels do not
    # matter, the network input is the fixture's
    h, w = (int(v) for v in fixture['image_hw'])
    blank = str(tmp_path_factory.mktemp('image') / 'blank.png')
    cv2.imwrite(blank, np.zeros((h, w, 3), np.uint8))
    data = _test_data(cfg, blank)
    inputs = torch.from_numpy(fixture['input'])
    assert tuple(data['inputs'].shape[-2:]) == inputs.shape[-2:], (
        f'{_name(request.param)}: our test pipeline gives an input of '
        f'{tuple(data["inputs"].shape[-2:])} for an image of {(h, w)}, '
        f'the release {tuple(inputs.shape[-2:])}')
    assert cfg.model.test_cfg.flip_test
    f32 = _predict(model, inputs.float(), data)
    f64 = _predict(model.double(), inputs, data)
    return SimpleNamespace(name=_name(request.param), fixture=fixture,
                           cfg=cfg, model=model, f32=f32, f64=f64)


def test_network_input_of_the_sample_image(case):
    """Our test pipeline and data preprocessor (float64 now, as the model)
    give the release's input from the fixture's image, when it is one of
    the sample images (found by its size)."""
    fixture, model = case.fixture, case.model
    dataset = str(fixture['cfg_name']).rpartition('_')[0]
    h, w = (int(v) for v in fixture['image_hw'])
    read = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    images = [p for p in sorted(glob.glob(osp.join(DATA_DIR, dataset, '*')))
              if p.endswith(('.jpg', '.png'))
              and cv2.imread(p, read).shape[:2] == (h, w)]
    if not images:
        pytest.skip(f'no sample image of {w}x{h} in {DATA_DIR}/{dataset}')
    release = torch.from_numpy(fixture['input'])
    shares, diffs = [], []
    for image in images:
        data = model.data_preprocessor(
            pseudo_collate([_test_data(case.cfg, image)]), training=False)
        ours = data['inputs']
        assert ours.dtype == torch.float64
        # bilinear warps of uint8 pixels: equal up to one grey level, rarely
        shares.append(float(((ours - release).abs() > 0.05).double().mean()))
        diffs.append(float((ours - release).abs().max()))
    best = int(np.argmin(shares))
    print(f'\nparity {case.name}: network input from '
          f'{osp.basename(images[best])}: max abs diff {diffs[best]:.1e}, '
          f'share of values off by more than 0.05: {shares[best]:.1e}')
    assert min(shares) < 1e-3, dict(zip(images, shares))


def test_center_heatmap_matches_the_release(case):
    release = case.fixture['center_heatmap'][0].astype(np.float64)
    diff = np.abs(case.f64.center - release).max()
    print(f'\nparity {case.name}: center heatmap max abs diff {diff:.1e}')
    assert diff <= TOL


def test_people_match_the_release(case):
    """The same people in the same order, every keypoint within 1e-6
    pixels (input and image) and 1e-6 in score."""
    fixture, ours = case.fixture, case.f64
    release = fixture['poses_input']
    assert ours.input_xy.shape == release[..., :2].shape, (
        f'{len(ours.input_xy)} people, the release {len(release)}')
    dxy_input = np.abs(ours.input_xy - release[..., :2]).max()
    dxy_image = np.abs(ours.image_xy - fixture['poses_image'][..., :2]).max()
    dscore = np.abs(ours.scores - release[..., 2]).max()
    dperson = np.abs(ours.scores.mean(1) - fixture['scores']).max()
    print(f'\nparity {case.name}: {release.shape[0]} people x '
          f'{release.shape[1]} keypoints, max |dxy| {dxy_input:.1e} px '
          f'(input), {dxy_image:.1e} px (image), max score diff '
          f'{dscore:.1e} (keypoints), {dperson:.1e} (people)')
    assert dxy_input <= TOL
    assert dxy_image <= TOL
    assert dscore <= TOL
    assert dperson <= TOL


def test_float32_agrees_with_float64(case):
    """Our float32 path against our float64 path, at what float32 gives on
    any CPU: the center maps within an absolute tolerance; the people found
    at the same center cell in both runs have the same center score and
    keypoint scores within tolerance, and most of their keypoints at the
    same place (a keypoint whose heatmap maximum is nearly tied may move)."""
    f32, f64 = case.f32, case.f64
    dcenter = np.abs(f32.center - f64.center).max()
    cfg = case.model.test_cfg
    threshold = cfg.get('score_thr', 0.01)
    near_threshold = np.abs(f64.center_scores - threshold) < F32_CENTER_TOL
    common = [c for c in f64.cells if c in f32.cells]
    i64 = [f64.cells.index(c) for c in common]
    i32 = [f32.cells.index(c) for c in common]
    dcs = np.abs(f32.center_scores[i32] - f64.center_scores[i64]).max()
    dscore = np.abs(f32.scores[i32] - f64.scores[i64]).max()
    dxy = np.abs(f32.input_xy[i32] - f64.input_xy[i64]).max(-1)
    same = dxy <= TOL
    print(f'\nfloat32 vs float64 {case.name}: center heatmap max abs diff '
          f'{dcenter:.1e}; {len(common)} of {len(f64.cells)} people at the '
          f'same center cell: center score max diff {dcs:.1e}, keypoint '
          f'score max diff {dscore:.1e}, {same.sum()} of {same.size} '
          f'keypoints at the same place (max |dxy| {dxy.max():.2f} px)')
    assert dcenter <= F32_CENTER_TOL
    if not near_threshold.any():
        assert len(f32.cells) == len(f64.cells)
    assert len(common) >= len(f64.cells) // 2
    assert dcs <= F32_CENTER_TOL
    assert dscore <= F32_SCORE_TOL
    assert same.mean() >= 0.9
