"""Training-step parity with the authors' release.

The fixture ``release_train_coco_w32_seed1234.npz`` (see the fixtures'
README) holds what the release's own dataset code, target generator and
training forward/backward compute for the four COCO sample images, with
augmentation off and synthetic weights. Our W32 config, with the same
augmentation switched off through its own knobs, must build the same
targets, and our model, with the same weights converted in the training
layout, the same four losses (per image) and gradients.
"""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import mmpose_boir  # noqa: F401
from release_fixture import (TRAIN_FIXTURE, load_fixture, manifest,
                             weights_from_manifest)
from tool_modules import load_tool

release_key_to_ours = load_tool(
    'convert_release_checkpoint').release_key_to_ours

CONFIG = 'configs/boir/boir_w32_coco.py'
DATA = '../shared/data/coco/'
# release loss name -> ours
LOSSES = {
    'multi_heatmap_loss': 'loss_multi_heatmap',
    'single_heatmap_loss': 'loss_instance_heatmap',
    'bbox_mask_loss': 'loss_bbox_mask',
    'bbox_loss': 'loss_bbox',
}


def augmentation_off(cfg: Config, flip: float = 0.) -> Config:
    """The config's training pipeline with every random knob at rest (the
    flip probability ``flip``)."""
    pipeline = []
    for step in cfg.train_dataloader.dataset.pipeline:
        step = dict(step)
        if step['type'] == 'BottomupRandomAffine':
            step.update(rotate_factor=0, scale_factor=(1.0, 1.0),
                        shift_factor=0.)
        elif step['type'] in ('RandomFlip', 'BoIRRandomFlip'):
            step.update(prob=flip)
        elif step['type'] == 'GenerateTarget':
            step['encoder'] = dict(step['encoder'], jitter=False)
        pipeline.append(step)
    cfg.train_dataloader.dataset.pipeline = pipeline
    return cfg


@pytest.fixture(scope='module')
def fixture():
    return load_fixture(TRAIN_FIXTURE)


@pytest.fixture(scope='module')
def cfg():
    init_default_scope('mmpose')
    cfg = augmentation_off(Config.fromfile(CONFIG))
    cfg.train_dataloader.dataset.update(
        data_root=DATA, ann_file='test_coco.json', data_prefix=dict(img=''))
    return cfg


@pytest.fixture(scope='module')
def samples(cfg, fixture):
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


def _release_targets(fixture, i):
    n = int(fixture[f'img{i}_num_inst'][0])
    return dict(
        heatmaps=fixture[f'img{i}_multi_heatmap'],
        mask=fixture[f'img{i}_multi_mask'][0],
        coords=fixture[f'img{i}_instance_coord'][:n, ::-1],  # (y, x) -> xy
        instance_heatmaps=fixture[f'img{i}_instance_heatmap'][:n],
        weights=fixture[f'img{i}_instance_mask'][:n, :, 0, 0],
        boxes=fixture[f'img{i}_bbox'][:n])


def test_targets_match_the_release(samples, fixture):
    for i, data in enumerate(samples):
        ref = _release_targets(fixture, i)
        ds = data['data_samples']
        name = str(fixture[f'img{i}_file_name'])
        hm = ds.gt_fields.heatmaps.numpy()
        assert hm.shape == ref['heatmaps'].shape, name
        print(f'parity: {name} heatmaps max abs diff '
              f'{np.abs(hm - ref["heatmaps"]).max():.1e}')
        np.testing.assert_allclose(hm, ref['heatmaps'], atol=1e-5,
                                   err_msg=name)
        flat, ref_flat = hm.reshape(len(hm), -1), ref['heatmaps'].reshape(
            len(hm), -1)
        drawn = ref_flat.max(1) > 0
        assert (flat.argmax(1)[drawn] == ref_flat.argmax(1)[drawn]).all(), \
            name
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
        np.testing.assert_allclose(ihm, ref['instance_heatmaps'], atol=1e-5,
                                   err_msg=name)
        np.testing.assert_array_equal(
            np.asarray(labels.keypoint_weights).reshape(n, -1),
            ref['weights'], err_msg=name)
        np.testing.assert_allclose(
            np.asarray(labels.instance_boxes).reshape(n, 4), ref['boxes'],
            atol=1e-4, err_msg=name)


def test_flipped_targets_are_the_releases(fixture):
    """With the flip on, the keypoints, centers and instances sit where the
    release's flip puts them: ``x -> W - 1 - x`` on the heatmap grid."""
    init_default_scope('mmpose')
    cfg = augmentation_off(Config.fromfile(CONFIG), flip=1.)
    cfg.train_dataloader.dataset.update(
        data_root=DATA, ann_file='test_coco.json', data_prefix=dict(img=''))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    flip = dataset.metainfo['flip_indices']
    samples = {}
    for i in range(len(dataset)):
        data = dataset[i]
        samples[int(data['data_samples'].metainfo['img_id'])] = data
    checked = 0
    for i in range(int(fixture['num_images'])):
        ds = samples[int(fixture[f'img{i}_image_id'])]['data_samples']
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


@pytest.fixture(scope='module')
def model(cfg, fixture):
    """W32 with aux heads, the fixture's release weights converted."""
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    release = weights_from_manifest(manifest(fixture), int(fixture['seed']))
    state = {release_key_to_ours(k): v for k, v in release.items()}
    assert None not in state
    model.load_state_dict(state, strict=True)
    return model.train()


@pytest.fixture(scope='module')
def batch(model, samples):
    return model.data_preprocessor(pseudo_collate(samples), training=True)


def test_network_inputs_match_the_release(batch, fixture):
    for i, image in enumerate(batch['inputs']):
        ref = torch.from_numpy(fixture[f'img{i}_image'])
        # the same warped pixels; the normalisations round differently
        assert (image - ref).abs().max() < 1e-5, i


@pytest.fixture(scope='module')
def step(model, batch, fixture):
    """One training forward and backward of our model on our targets.

    The network input is the release's tensor: ours equals it up to float
    rounding of the normalisation (about 5e-7, checked above), but that
    rounding alone moves the gradient of the first backbone conv by about
    0.4 % with these random weights, which would hide what is compared
    here, the model and its losses.
    """
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    model.zero_grad()
    inputs = torch.stack([
        torch.from_numpy(fixture[f'img{i}_image'])
        for i in range(len(batch['inputs']))
    ])
    losses = model(inputs, batch['data_samples'], mode='loss')
    sum(losses.values()).backward()
    return losses


def test_losses_match_the_release(step, fixture):
    """The release's losses divided by the images, as its trainer does."""
    images = int(fixture['batch_size'])
    for key, ours in LOSSES.items():
        ref = float(fixture[f'loss_{key}']) / images
        print(f'parity: {ours} {float(step[ours]):.6g}, release / '
              f'{images} {ref:.6g}, rel diff '
              f'{abs(float(step[ours]) - ref) / abs(ref):.1e}')
        assert float(step[ours]) == pytest.approx(ref, rel=1e-4), key


def test_gradients_match_the_release(step, model, fixture):
    """Gradient norms of the summed per-image losses, times the images,
    against the release's gradients of the summed batch losses."""
    images = int(fixture['batch_size'])
    params = dict(model.named_parameters())
    for key, ref in zip(fixture['grad_keys'], fixture['grad_norms']):
        grad = params[release_key_to_ours(str(key))].grad
        assert grad is not None, key
        norm = float(grad.double().norm()) * images
        print(f'parity: grad norm {key} rel diff '
              f'{abs(norm - float(ref)) / float(ref):.1e}')
        assert norm == pytest.approx(float(ref), rel=1e-3), key
