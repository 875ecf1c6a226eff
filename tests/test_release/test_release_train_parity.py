"""Training-step parity with the authors' release, on the float64 fixtures.

Each ``../shared/fixtures/release_train_*_f64.npz`` (see the fixtures'
README, "Training fixture" and "Float64 fixtures") holds what the release's
own dataset code, target generator and one training forward and backward
compute for the sample images of its dataset, with augmentation off and
synthetic weights, the network in double precision. Every such file is
tested, whichever paper config its ``cfg_name`` names. Our config, with the
same augmentation switched off through its own knobs, must build the same
targets; our model, with the same weights converted and widened to float64,
fed the fixture's images, the same four losses and gradient norms (1e-6
relative).

Our float32 training step is then compared with our own float64 one, at
tolerances float32 gives on any CPU: with these synthetic weights a float32
rounding difference moves the first convolution's gradient norm by about
1 % and the box loss by about 2e-5 (the README, and the fixtures' float32
and float64 records), so gradient norms are checked at 5 %, losses at
1e-3.
"""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from release_fixture import (DATA_DIR, config_of, converted_state_dict,
                             float64_fixtures, load_fixture)
from tool_modules import load_tool

pytestmark = [pytest.mark.shared_worker('float64_parity'),
              pytest.mark.run_first(1)]

release_key_to_ours = load_tool(
    'convert_release_checkpoint').release_key_to_ours

FIXTURES = float64_fixtures(training=True)
# release loss name -> ours
LOSSES = {
    'multi_heatmap_loss': 'loss_multi_heatmap',
    'single_heatmap_loss': 'loss_instance_heatmap',
    'bbox_mask_loss': 'loss_bbox_mask',
    'bbox_loss': 'loss_bbox',
}
#: float64 against the release (relative): losses and gradient norms
TOL = 1e-6
#: float32 against float64 (relative)
F32_LOSS_TOL = 1e-3
F32_GRAD_TOL = 5e-2
#: the affine transforms of the training pipelines (MMPose's, ours)
AFFINES = ('BottomupRandomAffine', 'BoIRRandomAffine')


def _name(path: str) -> str:
    return osp.basename(path)[:-len('.npz')]


def test_float64_training_fixtures_are_found():
    names = [str(load_fixture(p)['cfg_name']) for p in FIXTURES]
    assert 'coco_w32' in names, FIXTURES


def augmentation_off(cfg: Config, flip: float = 0.) -> Config:
    """The config's training pipeline with every random knob at rest (the
    flip probability ``flip``): no rotation, scale 1, no translation (in
    either shift mode), no center jitter."""
    pipeline = []
    for step in cfg.train_dataloader.dataset.pipeline:
        step = dict(step)
        if step['type'] in AFFINES:
            step.update(rotate_factor=0, scale_factor=(1.0, 1.0),
                        shift_factor=0.)
            step.update({k: 0 for k in step if 'translate' in k})
        elif step['type'] in ('RandomFlip', 'BoIRRandomFlip'):
            step.update(prob=flip)
        elif step['type'] == 'GenerateTarget':
            step['encoder'] = dict(step['encoder'], jitter=False)
        pipeline.append(step)
    assert sum(s['type'] in AFFINES for s in pipeline) == 1, pipeline
    cfg.train_dataloader.dataset.pipeline = pipeline
    return cfg


def _config(fixture, flip: float = 0.) -> Config:
    """The fixture's paper config on the sample images of its dataset,
    augmentation off."""
    init_default_scope('mmpose')
    cfg = augmentation_off(Config.fromfile(config_of(fixture)), flip)
    dataset = str(fixture['dataset'])
    cfg.train_dataloader.dataset.update(
        data_root=osp.join(DATA_DIR, dataset),
        ann_file=f'test_{dataset}.json', data_prefix=dict(img=''))
    return cfg


def _samples(cfg: Config, fixture) -> list:
    """Our pipeline's output for the fixture's images, in its order."""
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    by_id = {}
    for i in range(len(dataset)):
        data = dataset[i]
        by_id[int(data['data_samples'].metainfo['img_id'])] = data
    ids = [int(fixture[f'img{i}_image_id'])
           for i in range(int(fixture['num_images']))]
    assert set(ids) <= set(by_id), (ids, list(by_id))
    return [by_id[i] for i in ids]


@pytest.fixture(scope='module', params=FIXTURES, ids=_name)
def case(request):
    fixture = load_fixture(request.param)
    cfg = _config(fixture)
    return SimpleNamespace(name=_name(request.param), fixture=fixture,
                           cfg=cfg, samples=_samples(cfg, fixture))


def _release_targets(fixture, i):
    n = int(fixture[f'img{i}_num_inst'][0])
    return dict(
        heatmaps=fixture[f'img{i}_multi_heatmap'],
        mask=fixture[f'img{i}_multi_mask'][0],
        coords=fixture[f'img{i}_instance_coord'][:n, ::-1],  # (y, x) -> xy
        instance_heatmaps=fixture[f'img{i}_instance_heatmap'][:n],
        weights=fixture[f'img{i}_instance_mask'][:n, :, 0, 0],
        # float32, as the release's collate function casts them
        boxes=fixture[f'img{i}_bbox'][:n].astype(np.float32))


def test_targets_match_the_release(case):
    """Every target equal; the boxes up to float32 rounding (MMPose keeps
    annotated boxes and their warped corners in float32, the release in
    float64)."""
    fixture = case.fixture
    box_diff = 0.
    for i, data in enumerate(case.samples):
        ref = _release_targets(fixture, i)
        ds = data['data_samples']
        name = str(fixture[f'img{i}_file_name'])
        hm = ds.gt_fields.heatmaps.numpy()
        np.testing.assert_array_equal(hm, ref['heatmaps'], err_msg=name)
        mask = ds.gt_fields.heatmap_mask.numpy().reshape(ref['mask'].shape)
        np.testing.assert_array_equal(mask.astype(np.float32), ref['mask'],
                                      err_msg=name)
        labels = ds.gt_instance_labels
        n = len(ref['coords'])
        np.testing.assert_array_equal(
            np.asarray(labels.instance_coords).reshape(-1, 2), ref['coords'],
            err_msg=name)
        ihm = ds.gt_fields.instance_heatmaps.numpy().reshape(
            ref['instance_heatmaps'].shape)
        np.testing.assert_array_equal(ihm, ref['instance_heatmaps'],
                                      err_msg=name)
        np.testing.assert_array_equal(
            np.asarray(labels.keypoint_weights).reshape(n, -1),
            ref['weights'], err_msg=name)
        boxes = np.asarray(labels.instance_boxes).reshape(n, 4)
        assert boxes.dtype == np.float32
        # a few float32 units in the last place
        np.testing.assert_allclose(boxes, ref['boxes'], rtol=1e-6,
                                   atol=1e-5, err_msg=name)
        box_diff = max(box_diff, float(np.abs(boxes - ref['boxes']).max()))
    print(f'\nparity {case.name}: targets equal, boxes max abs diff '
          f'{box_diff:.1e} cells')


def test_flipped_targets_are_the_releases(case):
    """With the flip on, the keypoints, centers and instances sit where the
    release's flip puts them: ``x -> W - 1 - x`` on the heatmap grid."""
    fixture = case.fixture
    cfg = _config(fixture, flip=1.)
    flip = DATASETS.build(cfg.train_dataloader.dataset).metainfo[
        'flip_indices']
    checked = 0
    for i, data in enumerate(_samples(cfg, fixture)):
        ds = data['data_samples']
        H, W = ds.gt_fields.heatmaps.shape[-2:]
        kpts = fixture[f'img{i}_keypoints_out'].copy()  # [A, K, 3] unflipped
        kpts[..., 0] = W - 1 - kpts[..., 0]
        kpts = kpts[:, flip]
        hm = ds.gt_fields.heatmaps.numpy()
        for person in kpts:
            for k, (x, y, v) in enumerate(person):
                cx, cy = int(x), int(y)
                if v > 0 and 0 <= cx < W and 0 <= cy < H:
                    assert hm[k, cy, cx] == 1, (i, k, cx, cy)
                    checked += 1
        # instances: the same people in the same order, centers mirrored
        ann_ids = list(fixture[f'img{i}_ann_ids'])
        rows = [ann_ids.index(a) for a in fixture[f'img{i}_inst_ann_id']]
        centers = fixture[f'img{i}_centers_out'][rows, 0]
        expected = [(int(W - 1 - cx), int(cy)) for cx, cy, _ in centers]
        ours = [tuple(c) for c in np.asarray(
            ds.gt_instance_labels.instance_coords).reshape(-1, 2).tolist()]
        assert ours == expected, (i, ours, expected)
    assert checked > 20


def _step(model, inputs, data_samples) -> SimpleNamespace:
    """One training forward and backward of ``model`` (train mode: batch
    statistics) on the release's images: the losses and the gradient norms,
    float64 numbers."""
    model.zero_grad()
    losses = model(inputs, data_samples, mode='loss')
    sum(losses.values()).backward()
    return SimpleNamespace(
        losses={k: float(v) for k, v in losses.items()},
        grads={k: float(p.grad.double().norm())
               for k, p in model.named_parameters() if p.grad is not None})


@pytest.fixture(scope='module')
def steps(case, tmp_path_factory):
    """Our model of the fixture's config (auxiliary heads on) with the
    converted release weights: one training step in float32, then one
    with the model widened to float64, both on the fixture's images (ours
    equal them up to the rounding of the normalisation, checked below).

    Only the parameters whose gradient norms the fixture lists require
    gradients: the backward still runs through the whole network to reach
    them (the first convolution is one), their gradients are the same bit
    for bit, and the other parameters' weight gradients, which nothing
    compares, are not computed (a third less time)."""
    fixture, cfg = case.fixture, case.cfg
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted_state_dict(
        fixture, str(tmp_path_factory.mktemp('release'))), strict=True)
    model.train()
    listed = {release_key_to_ours(str(k)) for k in fixture['grad_keys']}
    for name, p in model.named_parameters():
        p.requires_grad_(name in listed)
    batch = model.data_preprocessor(pseudo_collate(case.samples),
                                    training=True)
    images = torch.stack([
        torch.from_numpy(fixture[f'img{i}_image'])
        for i in range(len(case.samples))
    ])
    f32 = _step(model, images, batch['data_samples'])
    f64 = _step(model.double(), images.double(), batch['data_samples'])
    return SimpleNamespace(inputs=batch['inputs'], f32=f32, f64=f64)


def test_network_inputs_match_the_release(case, steps):
    for i, image in enumerate(steps.inputs):
        ref = torch.from_numpy(case.fixture[f'img{i}_image'])
        # the same warped pixels; the normalisations round differently
        assert (image - ref).abs().max() < 1e-5, i


def _release_losses(case, step):
    """(ours, the release's) per loss: ours times the images, as the
    release's forward returns them (not divided by the batch)."""
    images = int(case.fixture['batch_size'])
    assert images == len(case.samples)
    return {key: (step.losses[ours] * images,
                  float(case.fixture[f'loss_{key}']))
            for key, ours in LOSSES.items()}


def _release_grads(case, step):
    """(ours, the release's) gradient norm of each listed parameter."""
    images = int(case.fixture['batch_size'])
    out = {}
    for key, ref in zip(case.fixture['grad_keys'], case.fixture['grad_norms']):
        ours = release_key_to_ours(str(key))
        assert ours in step.grads, key
        out[str(key)] = (step.grads[ours] * images, float(ref))
    return out


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_losses_match_the_release(case, steps):
    pairs = _release_losses(case, steps.f64)
    for key, (ours, ref) in pairs.items():
        print(f'\nparity {case.name}: {key} {ours:.10g}, release {ref:.10g},'
              f' rel diff {_rel(ours, ref):.1e}', end='')
    worst = max(_rel(*p) for p in pairs.values())
    print(f'\nparity {case.name}: losses max rel diff {worst:.1e}')
    for key, (ours, ref) in pairs.items():
        assert ours == pytest.approx(ref, rel=TOL), key


def test_gradients_match_the_release(case, steps):
    pairs = _release_grads(case, steps.f64)
    assert len(pairs) >= 4
    for key, (ours, ref) in pairs.items():
        print(f'\nparity {case.name}: grad norm {key} {ours:.10g}, release '
              f'{ref:.10g}, rel diff {_rel(ours, ref):.1e}', end='')
    worst = max(_rel(*p) for p in pairs.values())
    print(f'\nparity {case.name}: grad norms max rel diff {worst:.1e}')
    for key, (ours, ref) in pairs.items():
        assert ours == pytest.approx(ref, rel=TOL), key


def test_float32_step_agrees_with_float64(case, steps):
    """Our float32 training step against our float64 one: the losses and
    every gradient norm the fixture lists, at float32's tolerances."""
    losses = {k: (steps.f32.losses[k], steps.f64.losses[k])
              for k in LOSSES.values()}
    grads = {k: (steps.f32.grads[release_key_to_ours(str(k))],
                 steps.f64.grads[release_key_to_ours(str(k))])
             for k in case.fixture['grad_keys']}
    dloss = max(_rel(*p) for p in losses.values())
    dgrad = {k: _rel(*p) for k, p in grads.items()}
    worst = max(dgrad, key=dgrad.get)
    print(f'\nfloat32 vs float64 {case.name}: losses max rel diff '
          f'{dloss:.1e}, grad norms max rel diff {dgrad[worst]:.1e} '
          f'({worst})')
    for key, (f32, f64) in losses.items():
        assert f32 == pytest.approx(f64, rel=F32_LOSS_TOL), key
    for key, (f32, f64) in grads.items():
        assert f32 == pytest.approx(f64, rel=F32_GRAD_TOL), key
