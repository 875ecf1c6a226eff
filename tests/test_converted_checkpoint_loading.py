"""Converted release checkpoints load into the W32 model with every weight.

The release-layout state dicts are re-created from the parity fixtures'
manifests (the training fixture's is the release's train-mode state dict,
auxiliary heads included; the inference fixture's the deployed one),
written as the release writes them, converted with
``tools/convert_release_checkpoint.py`` and loaded the way a user loads
them: ``mmengine.runner.load_checkpoint(..., strict=True)`` and a Runner's
``load_from``.
"""
from collections import OrderedDict

import pytest
import torch

import mmpose_boir  # noqa: F401  (first: makes mmpose.models importable)
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS
from mmpose_boir.models.heads.boir_head import AUX_HEADS
from mmpose_boir.models.pose_estimators import BoIR
from release_fixture import (FIXTURE, TRAIN_FIXTURE, load_fixture, manifest,
                             weights_from_manifest)
from tool_modules import load_tool

converter = load_tool('convert_release_checkpoint')
release_key_to_ours = converter.release_key_to_ours

CONFIG = 'configs/boir/boir_w32_coco.py'
AUX_KEY = 'head.multi_heatmap_head.1.weight'  # the aux keypoint heatmap conv


def _release_state(path):
    fixture = load_fixture(path)
    return weights_from_manifest(manifest(fixture), int(fixture['seed']))


def _build(with_aux_heads=True):
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.head.with_aux_heads = with_aux_heads
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def release():
    """Release state dicts: training (with aux heads) and deployed."""
    return dict(train=_release_state(TRAIN_FIXTURE),
                deploy=_release_state(FIXTURE))


@pytest.fixture(scope='module')
def converted(release, tmp_path_factory):
    """Converted files: from a DDP training checkpoint (checkpoint.pth.tar,
    read through its best_state_dict), from the plain deployed state dict,
    and the training one with ``--strip-aux``."""
    root = tmp_path_factory.mktemp('converted')
    train = release['train']
    ckpt = dict(epoch=140, model='boir', perf=-1, optimizer={}, scaler=None,
                state_dict={'module.' + k: v for k, v in train.items()},
                best_state_dict=train)
    torch.save(ckpt, root / 'checkpoint.pth.tar')
    torch.save(release['deploy'], root / 'final_state0.pth.tar')
    paths = dict(train=root / 'train.pth', deploy=root / 'deploy.pth',
                 stripped=root / 'stripped.pth')
    metas = dict(
        train=converter.convert(str(root / 'checkpoint.pth.tar'),
                           str(paths['train'])),
        deploy=converter.convert(str(root / 'final_state0.pth.tar'),
                            str(paths['deploy'])),
        stripped=converter.convert(str(root / 'checkpoint.pth.tar'),
                              str(paths['stripped']), strip_aux=True))
    assert metas['train']['source_state_dict'] == \
        'training checkpoint (epoch 140): best_state_dict'
    assert metas['train']['with_aux_heads']
    assert metas['deploy']['source_state_dict'] == 'plain state dict'
    assert not metas['deploy']['with_aux_heads']
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope='module')
def train_model():
    return _build(with_aux_heads=True)


@pytest.fixture(scope='module')
def deploy_model():
    return _build(with_aux_heads=False)


def _assert_holds(model, release_state):
    """Every weight of ``model`` is the release's, aux head included."""
    ours = model.state_dict()
    source = {release_key_to_ours(k): v for k, v in release_state.items()}
    assert None not in source
    for key, value in ours.items():
        assert key in source, key
        assert torch.equal(value, source[key]), key
    return ours


def test_training_checkpoint_loads_strict(train_model, converted, release):
    load_checkpoint(train_model, converted['train'], map_location='cpu',
                    strict=True)
    ours = _assert_holds(train_model, release['train'])
    assert torch.equal(ours[AUX_KEY],
                       release['train']['multihead.buk_head.head.1.weight'])
    assert len(ours) == len(release['train'])


def test_deployed_checkpoints_load_strict(deploy_model, converted, release):
    for name in ('deploy', 'stripped', 'train'):
        # a training checkpoint loads into the deployed model too: the head
        # drops the auxiliary weights itself
        load_checkpoint(deploy_model, converted[name], map_location='cpu',
                        strict=True)
        source = release['deploy' if name == 'deploy' else 'train']
        ours = _assert_holds(deploy_model, source)
        assert not any(k.split('.')[1] in AUX_HEADS for k in ours
                       if k.startswith('head.'))


def test_runner_load_from(converted, release, tmp_path):
    """A config's ``load_from`` (Runner.load_or_resume, non-strict: a
    renamed key would only be logged) gives the model every release weight."""
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    runner = Runner(model=cfg.model, work_dir=str(tmp_path),
                    load_from=converted['train'], default_scope='mmpose',
                    experiment_name=f'load_from_{id(tmp_path)}',
                    log_level='WARNING')
    runner.load_or_resume()
    _assert_holds(runner.model, release['train'])


def test_checkpoints_with_the_earlier_head_name_load(train_model):
    """Earlier checkpoints call the auxiliary multi-person heatmap head
    ``keypoint_head``. MMPose's pose-estimator hook renames keys containing
    ``keypoint_head`` in state dicts without version metadata (MMPose 0.x
    checkpoints, converted release files) to ``head``; with metadata it
    leaves them. Either way the head's loading hook maps them to
    ``multi_heatmap_head``, in MMPose's ``BottomupPoseEstimator`` (the
    configs') and in ``BoIR``, and the data preprocessor's mean/std are
    still dropped. Today's keys contain no ``keypoint_head``."""
    from mmpose_boir.models.heads.loading import RENAMED_MODULES
    assert RENAMED_MODULES == {'keypoint_head': 'multi_heatmap_head'}
    assert BoIR._load_state_dict_pre_hook is \
        BottomupPoseEstimator._load_state_dict_pre_hook
    assert not [k for k in train_model.state_dict() if 'keypoint_head' in k]
    old_key = AUX_KEY.replace('multi_heatmap_head', 'keypoint_head')
    legacy = {old_key: torch.zeros(1), 'data_preprocessor.mean': torch.ones(3)}
    BottomupPoseEstimator._load_state_dict_pre_hook(train_model, legacy, '',
                                                    {})
    assert list(legacy) == ['head.head.1.weight']  # what MMPose's hook does

    # end to end: the earlier layout, with and without version metadata
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.type = 'BoIR'
    before = train_model.head.multi_heatmap_head[1].weight.detach().clone()
    assert type(train_model) is BottomupPoseEstimator
    try:
        for metadata in (False, True):
            old = {k.replace('multi_heatmap_head', 'keypoint_head'): v.clone()
                   for k, v in train_model.state_dict().items()}
            old['data_preprocessor.mean'] = torch.ones(3, 1, 1)
            old[old_key] = torch.full_like(old[old_key], 0.25)
            if metadata:
                old = OrderedDict(old)
                old._metadata = OrderedDict(
                    {'': dict(version=train_model._version)})
            for model in (train_model, MODELS.build(cfg.model)):
                model.load_state_dict(old, strict=True)
                assert bool((model.state_dict()[AUX_KEY] == 0.25).all())
                model.head.multi_heatmap_head[1].weight.data.zero_()
    finally:
        train_model.head.multi_heatmap_head[1].weight.data.copy_(before)
