"""The authors' release weights, converted, predict what the release
predicted: W32 and W48 COCO fixtures (synthetic weights, one real image each;
see the fixtures' README)."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from release_fixture import (FIXTURE, W48_FIXTURE, load_fixture, manifest,
                             weights_from_manifest)

FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
#: (fixture, config, image)
CASES = {
    'w32': (FIXTURE, 'configs/boir/boir_w32_coco.py',
            '../shared/data/coco/000000197388.jpg'),
    'w48': (W48_FIXTURE, 'configs/boir/boir_w48_coco.py',
            '../shared/data/coco/000000196141.jpg'),
}


@pytest.fixture(scope='module', params=sorted(CASES))
def case(request):
    return CASES[request.param]


@pytest.fixture(scope='module')
def fixture(case):
    return load_fixture(case[0])


@pytest.fixture(scope='module')
def model(case, fixture, tmp_path_factory):
    """The release state dict -> tools/convert_release_checkpoint.py -> the
    deployed model of the case's config."""
    CONFIG = case[1]
    tmp = tmp_path_factory.mktemp('release')
    src, dst = tmp / 'release.pth', tmp / 'converted.pth'
    torch.save(weights_from_manifest(manifest(fixture), int(fixture['seed'])),
               src)
    proc = subprocess.run([sys.executable, 'tools/convert_release_checkpoint.py',
                           str(src), str(dst)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.head.with_aux_heads = False
    model = MODELS.build(cfg.model).eval()
    ckpt = torch.load(dst, weights_only=True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model, cfg


@pytest.fixture(scope='module')
def features(model, fixture):
    """Backbone features of the fixture's input and of its mirror."""
    net, _ = model
    inputs = torch.from_numpy(fixture['input'])
    with torch.no_grad():
        return net.extract_feat(inputs), net.extract_feat(inputs.flip(-1))


def _center_heatmap(net, features):
    """Flip-averaged center heatmap after the sigmoid, before smoothing."""
    from mmpose_boir.codecs.boir_heatmap import sigmoid_clamped
    feats, feats_flip = features[0][-1], features[1][-1].flip(-1)
    center = sigmoid_clamped(
        net.head((torch.cat((feats, feats_flip)), ))['center'])
    return (center[0, 0] + center[1, 0]) / 2


def test_network_input_matches(model, fixture, case):
    """Our input pipeline + preprocessor give the release's network input."""
    net, cfg = model
    data = Compose(cfg.test_dataloader.dataset.pipeline)(
        dict(img_path=case[2], img_id=0, flip_indices=FLIP))
    data = net.data_preprocessor(pseudo_collate([data]), training=False)
    ours = data['inputs']
    assert tuple(ours.shape) == fixture['input'].shape
    # bilinear warps of uint8 images: equal up to one grey level, rarely
    diff = (ours - torch.from_numpy(fixture['input'])).abs()
    assert (diff > 0.05).float().mean() < 1e-3


def _predict(net, features, fixture):
    h, w = fixture['input'].shape[-2:]
    meta = dict(input_size=(w, h), input_center=np.array([w / 2, h / 2]),
                input_scale=np.array([w, h], dtype=np.float32),
                flip_indices=FLIP)
    return net.head.predict(list(features), [PoseDataSample(metainfo=meta)],
                            net.test_cfg)[0]


@pytest.fixture
def release_centers(fixture, monkeypatch):
    """Make the head pick its instances from the release's center heatmap.

    With the fixture's synthetic weights the center map is nearly flat: the
    30 chosen peaks lie within ~1e-6 of each other, so the 1e-7 float noise
    between our center map and the release's reorders and swaps some of
    them. Given the same center map, the rest of inference must agree.
    """
    from mmpose_boir.codecs import BoIRDecoupledHeatmap
    release = torch.from_numpy(fixture['center_heatmap'])
    original = BoIRDecoupledHeatmap.decode_centers

    def decode_release_centers(center, *args, **kwargs):
        assert center.shape == release.shape
        return original(release.to(center), *args, **kwargs)

    monkeypatch.setattr(BoIRDecoupledHeatmap, 'decode_centers',
                        staticmethod(decode_release_centers))


def test_center_heatmap_matches_and_instance_count(model, fixture,
                                                   features):
    net, _ = model
    with torch.no_grad():
        center = _center_heatmap(net, features)
        pred = _predict(net, features, fixture)
    center_diff = (center - torch.from_numpy(
        fixture['center_heatmap'][0])).abs().max().item()
    print(f'parity: center heatmap max abs diff {center_diff:.2e}')
    assert center_diff < 1e-4
    assert len(pred.keypoints) == len(fixture['poses_input'])
    # end to end, on our own center map: instances matched one-to-one
    from scipy.optimize import linear_sum_assignment
    release = fixture['poses_input']
    cost = (np.abs(pred.keypoints[:, None] - release[None, ..., :2]).sum(
        (-1, -2)) + 100 * np.abs(pred.keypoint_scores[:, None] -
                                 release[None, ..., 2]).sum(-1))
    ours, theirs = linear_sum_assignment(cost)
    same = ((np.abs(pred.keypoints[ours] - release[theirs, :, :2]).max(-1) <
             1e-3) & (np.abs(pred.keypoint_scores[ours] -
                             release[theirs, :, 2]) < 1e-3))
    print(f'parity, own center map: {(~same).sum()} of {same.size} '
          'keypoints differ (near-tied centers)')
    assert same.mean() >= 0.9


def test_instances_match_the_release_given_its_centers(
        model, fixture, features, release_centers):
    net, _ = model
    with torch.no_grad():
        pred = _predict(net, features, fixture)
    release = fixture['poses_input']
    assert pred.keypoints.shape == release[..., :2].shape
    coord_ok = np.abs(pred.keypoints - release[..., :2]).max(-1) < 1e-3
    score_ok = np.abs(pred.keypoint_scores - release[..., 2]) < 1e-3
    both = coord_ok & score_ok
    print(f'parity, release centers: {(~both).sum()} of {both.size} '
          'keypoints differ')
    assert both.mean() >= 0.99
    np.testing.assert_allclose(pred.keypoint_scores.mean(1),
                               fixture['scores'], atol=1e-3)


def test_full_test_pipeline_matches_poses_on_the_image(
        model, fixture, case, release_centers):
    net, cfg = model
    data = Compose(cfg.test_dataloader.dataset.pipeline)(
        dict(img_path=case[2], img_id=0, flip_indices=FLIP))
    with torch.no_grad():
        out = net.test_step(pseudo_collate([data]))[0]
    kpts = out.pred_instances.keypoints
    release = fixture['poses_image']
    assert tuple(out.ori_shape) == tuple(fixture['image_hw'])
    assert kpts.shape == release[..., :2].shape
    close = np.linalg.norm(kpts - release[..., :2], axis=-1) <= 1.0
    print(f'image space: {(~close).sum()} of {close.size} keypoints further '
          'than 1 px')
    assert close.mean() >= 0.99
