"""How checkpoints load into BoIRHead (mmpose_boir/models/heads/loading.py),
fed real checkpoint files, in MMPose's ``BottomupPoseEstimator`` (the
configs' estimator) and in ``BoIR``.

- a CrowdPose-shaped (14-keypoint) checkpoint in a COCO (17) config: every
  way of predicting refuses it, naming both counts and the config that fits;
  fine-tuning from it (``loss``) trains the dropped layers, then predicts;
- a COCO checkpoint fine-tunes on CrowdPose (the tiny fine-tuning config):
  only the keypoint-count-dependent layers are dropped;
- the authors' release checkpoint, unconverted: the error gives the
  converter's command;
- another model's checkpoint (CID): refused with the counts;
- checkpoints without (or with part of) the auxiliary heads;
- converted release checkpoints load into the W32 model with every weight:
  the release-layout state dicts are re-created from the parity fixtures'
  manifests (the training fixture's is the release's train-mode state dict,
  auxiliary heads included; the inference fixture's the deployed one),
  written as the release writes them, converted with
  ``tools/convert_release_checkpoint.py`` and loaded the way a user loads
  them: ``mmengine.runner.load_checkpoint(..., strict=True)`` and a
  Runner's ``load_from``; checkpoints with the earlier name of the
  auxiliary multi-person heatmap head load too;
- no function of the package inspects the call stack (as the loading once
  did).

The W32 models and the converted release files are module-scoped
fixtures: keep their tests in this module, so that they are built once.
The ``test_cfg`` checks: test_runtime_cfg.py.
"""
import copy
import os.path as osp
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401  (first: makes mmpose.models importable)
from conftest import (REPO_ROOT, TINY_CONFIG, TINY_CROWDPOSE_CONFIG,
                      save_checkpoint, tiny_config)
from mmpose_boir.models.heads.boir_head import AUX_HEADS, KEYPOINT_LAYERS
from mmpose_boir.models.heads.loading import (CONVERTER,
                                              CheckpointMismatchError,
                                              KeypointCountMismatchError)
from mmpose_boir.models.pose_estimators import BoIR
from release_fixture import (FIXTURE, TRAIN_FIXTURE, load_fixture, manifest,
                             weights_from_manifest)
from tool_modules import load_tool

converter = load_tool('convert_release_checkpoint')
release_key_to_ours = converter.release_key_to_ours

TINY_CROWDPOSE = TINY_CROWDPOSE_CONFIG
W32 = 'configs/boir/boir_w32_coco.py'
IMAGE = osp.join(REPO_ROOT, '..', 'shared', 'data', 'coco',
                 '000000196141.jpg')
CID_W32 = 'body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py'
ESTIMATORS = ('BottomupPoseEstimator', 'BoIR')
AUX_KEY = 'head.multi_heatmap_head.1.weight'  # the aux keypoint heatmap conv


def _cfg(config=TINY_CONFIG, estimator=None, **options):
    cfg = tiny_config(config)
    if estimator:
        cfg.model.type = estimator
    cfg.merge_from_dict(options)
    return cfg


def _build(config=TINY_CONFIG, estimator=None, **options):
    torch.manual_seed(0)
    return MODELS.build(_cfg(config, estimator, **options).model)


@pytest.fixture(scope='module')
def crowdpose_ckpt(tmp_path_factory):
    """A tiny CrowdPose model's checkpoint (14 keypoints)."""
    return save_checkpoint(_build(TINY_CROWDPOSE),
                           tmp_path_factory.mktemp('crowd') / 'crowd.pth')


# ------------------------------------------ another keypoint count (K)
def _assert_names_counts_and_config(msg):
    assert 'has 14 keypoints and this config 17' in msg
    assert 'configs/boir/tiny/boir_tiny_crowdpose.py' in msg  # it fits
    assert 'load_from' in msg  # how to fine-tune instead


@pytest.mark.parametrize('estimator', ESTIMATORS)
def test_crowdpose_checkpoint_in_coco_config_refuses_predict(
        crowdpose_ckpt, estimator):
    model = _build(estimator=estimator).eval()
    load_checkpoint(model, crowdpose_ckpt, map_location='cpu')
    meta = dict(input_size=(64, 64), input_center=np.array([32., 32.]),
                input_scale=np.array([64., 64.]),
                flip_indices=list(range(17)))
    with pytest.raises(KeypointCountMismatchError) as err:
        model.predict(torch.zeros(1, 3, 64, 64),
                      [PoseDataSample(metainfo=meta)])
    _assert_names_counts_and_config(str(err.value))


def test_crowdpose_checkpoint_in_coco_config_refuses_the_inferencer(
        crowdpose_ckpt):
    from mmpose.apis import MMPoseInferencer
    inferencer = MMPoseInferencer(pose2d=osp.join(REPO_ROOT, TINY_CONFIG),
                                  pose2d_weights=crowdpose_ckpt,
                                  device='cpu', show_progress=False)
    with pytest.raises(KeypointCountMismatchError) as err:
        next(inferencer(IMAGE))
    _assert_names_counts_and_config(str(err.value))


def test_crowdpose_checkpoint_in_coco_config_refuses_export(crowdpose_ckpt):
    from mmpose_boir.deploy import build_deploy_model
    model = build_deploy_model(osp.join(REPO_ROOT, TINY_CONFIG),
                               crowdpose_ckpt)
    with pytest.raises(KeypointCountMismatchError) as err:
        model(torch.zeros(1, 3, 64, 64))
    _assert_names_counts_and_config(str(err.value))


def test_crowdpose_checkpoint_in_coco_config_refuses_the_demo(
        crowdpose_ckpt, tmp_path, capsys):
    """tools/demo.py's ``main`` (in this process; its command line runs in
    the demo's own tests): exit status 1 and one message, no traceback."""
    demo = load_tool('demo')
    threads = torch.get_num_threads()  # the tool sets them for the machine
    try:
        rc = demo.main([TINY_CONFIG, crowdpose_ckpt, IMAGE, '--out-dir',
                        str(tmp_path / 'out')])
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    assert rc == 1, err
    _assert_names_counts_and_config(err)
    assert crowdpose_ckpt in err and TINY_CONFIG in err
    assert 'Traceback' not in err


def test_fine_tuning_from_another_keypoint_count_trains_then_predicts(
        crowdpose_ckpt):
    """``load_from`` in a training run keeps today's behaviour: the
    K-dependent layers are dropped (one info line) and the rest loads; the
    first ``loss`` (training) lifts the refusal to predict."""
    cfg = _cfg()
    model = MODELS.build(cfg.model)
    before = model.head.instance_head.heatmap_conv.weight.detach().clone()
    load_checkpoint(model, crowdpose_ckpt, map_location='cpu')
    crowd = torch.load(crowdpose_ckpt, weights_only=True)['state_dict']
    # everything but the K-dependent layers came from the checkpoint
    assert torch.equal(model.head.neck.project[0].weight,
                       crowd['head.neck.project.0.weight'])
    assert torch.equal(model.head.instance_head.heatmap_conv.weight, before)
    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    torch.manual_seed(0)
    batch = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(2)]), True)
    model.train()
    losses = model.loss(**batch)
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    meta = dict(input_size=(64, 64), input_center=np.array([32., 32.]),
                input_scale=np.array([64., 64.]),
                flip_indices=list(range(17)))
    with torch.no_grad():
        model.predict(torch.zeros(1, 3, 64, 64),
                      [PoseDataSample(metainfo=meta)])


def test_a_fitting_checkpoint_lifts_the_refusal(crowdpose_ckpt, tmp_path):
    model = _build()
    coco = save_checkpoint(_build(), tmp_path / 'coco.pth')
    load_checkpoint(model, crowdpose_ckpt, map_location='cpu')
    load_checkpoint(model, coco, map_location='cpu')
    model.head.predict_tensors([torch.zeros(1, 120, 16, 16)], 1, (64, 64))


# ------------------------------------------------- unconverted release
def _release_checkpoint(tmp_path, training_file):
    """The authors' W32 state dict (the parity fixture's manifest), written
    as the release writes it: a plain state dict, or the training
    checkpoint with its DDP-prefixed ``state_dict``."""
    from release_fixture import (FIXTURE, load_fixture, manifest,
                                 weights_from_manifest)
    fixture = load_fixture(osp.join(REPO_ROOT, FIXTURE))
    state = weights_from_manifest(manifest(fixture), int(fixture['seed']))
    assert any(k.startswith('multihead.') for k in state)
    path = tmp_path / 'w32.pth.tar'
    if training_file:
        torch.save(dict(epoch=140, model='boir', perf=0.7,
                        state_dict={'module.' + k: v
                                    for k, v in state.items()}), path)
    else:
        torch.save(state, path)
    return str(path)


@pytest.mark.parametrize('training_file', [False, True])
def test_unconverted_release_checkpoint_names_the_converter(
        tmp_path, training_file):
    ckpt = _release_checkpoint(tmp_path, training_file)
    model = _build(W32)
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, ckpt, map_location='cpu')
    msg = str(err.value)
    assert 'python tools/convert_release_checkpoint.py SRC DST' in msg
    assert CONVERTER in msg and 'not converted' in msg
    # torch's own load_state_dict too
    state = torch.load(ckpt, weights_only=True)
    with pytest.raises(CheckpointMismatchError, match=re.escape(CONVERTER)):
        model.load_state_dict(state.get('state_dict', state), strict=False)


# ------------------------------------------- another model's checkpoint
@pytest.mark.parametrize('estimator', ESTIMATORS)
def test_cid_checkpoint_is_refused_in_either_estimator(tmp_path, estimator):
    """MMPose's CID on the tiny backbone: the backbone fits, the head not at
    all; refused in MMPose's BottomupPoseEstimator as in BoIR."""
    import mmpose
    boir = _cfg()
    cid = Config.fromfile(osp.join(osp.dirname(mmpose.__file__), '.mim',
                                   'configs', CID_W32))
    cid.model.backbone = copy.deepcopy(boir.model.backbone)
    cid.model.head.in_channels = boir.model.head.in_channels
    ckpt = save_checkpoint(MODELS.build(cid.model), tmp_path / 'cid.pth')
    model = _build(estimator=estimator)
    assert type(model).__name__ == estimator
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, ckpt, map_location='cpu')
    msg = str(err.value)
    assert re.search(r'\b0 of \d+ head parameters fit', msg)
    assert 'CID' in msg


def test_checkpoint_without_aux_heads_loads_strict():
    full = _build()
    stripped = {k: v for k, v in full.state_dict().items()
                if k.split('.')[1:2] != ['multi_heatmap_head']
                and k.split('.')[1:2] != ['embedding_head']
                and k.split('.')[1:2] != ['bbox_head']}
    model = _build(estimator='BoIR')
    result = model.load_state_dict(stripped, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # a partial set of auxiliary heads is not a stripped checkpoint
    partial = dict(stripped, **{k: v for k, v in full.state_dict().items()
                                if k.startswith('head.bbox_head.')})
    with pytest.raises(CheckpointMismatchError,
                       match='missing e.g. head.multi_heatmap_head'):
        model.load_state_dict(partial, strict=False)


# ------------------------------------------- COCO -> CrowdPose fine-tuning
def test_coco_checkpoint_loads_into_crowdpose_and_trains(tmp_path):
    """A COCO checkpoint fine-tunes on CrowdPose (14 keypoints): the tiny
    fine-tuning config with ``load_from``, trained by MMEngine's Runner in
    this process (``tools/train.py`` runs the same Runner; its command line
    is tested with the tools)."""
    init_default_scope('mmpose')
    coco = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    ckpt = tmp_path / 'coco.pth'
    torch.save(dict(state_dict=coco.state_dict(), meta=dict()), ckpt)

    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/boir/tiny/boir_tiny_crowdpose_finetune.py'))
    cfg.merge_from_dict(dict(load_from=str(ckpt)))
    cfg.work_dir = str(tmp_path / 'ft')
    # MMEngine keeps one visualizer per name in a process: a fresh one
    cfg.visualizer.name = f'visualizer_{tmp_path}'
    runner = Runner.from_cfg(cfg)
    runner.train()
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        log = f.read()
    assert 'dropped the keypoint-count-dependent layers' in log
    for name in KEYPOINT_LAYERS:
        assert f'head.{name}' in log
    assert 'loss_instance_heatmap' in log
    # MMEngine's loader (weights-only, MMEngine's types allowed in scope)
    tuned = CheckpointLoader.load_checkpoint(
        str(tmp_path / 'ft' / 'epoch_1.pth'), map_location='cpu')
    # everything but the K-dependent layers came from the COCO checkpoint
    # (and moved by one epoch of training); those have CrowdPose's shape
    assert tuned['state_dict']['head.instance_head.heatmap_conv.weight'] \
        .shape[0] == 14


def test_direct_load_drops_only_the_keypoint_layers():
    init_default_scope('mmpose')
    coco = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    crowd = MODELS.build(Config.fromfile(TINY_CROWDPOSE_CONFIG).model)
    result = crowd.load_state_dict(coco.state_dict(), strict=False)
    assert set(result.missing_keys) == {f'head.{n}' for n in KEYPOINT_LAYERS}
    assert not result.unexpected_keys
    torch.testing.assert_close(crowd.head.neck.project[0].weight,
                               coco.head.neck.project[0].weight)


# ------------------------------------------ converted release checkpoints
def _release_state(path):
    fixture = load_fixture(path)
    return weights_from_manifest(manifest(fixture), int(fixture['seed']))


def _w32(with_aux_heads=True):
    cfg = _cfg(W32)
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
    return _w32(with_aux_heads=True)


@pytest.fixture(scope='module')
def deploy_model():
    return _w32(with_aux_heads=False)


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
    cfg = Config.fromfile(osp.join(REPO_ROOT, W32))
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
    cfg = Config.fromfile(osp.join(REPO_ROOT, W32))
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


# ------------------------------------------------------- no stack peeking
STACK_INSPECTION = re.compile(
    r'inspect\.(stack|currentframe|getouterframes|trace)\b|sys\._getframe'
    r'|\bf_back\b|\bf_locals\b')


def test_pattern_finds_stack_inspection():
    for code in ('frame = inspect.currentframe()', 'sys._getframe(1)',
                 'frame.f_back', 'loc = frame.f_locals', 'inspect.stack()'):
        assert STACK_INSPECTION.search(code), code
    assert not STACK_INSPECTION.search('inspect.signature(cls.__init__)')


def test_no_function_in_the_package_inspects_the_call_stack():
    import glob
    found = []
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'mmpose_boir', '**',
                                          '*.py'), recursive=True)):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if STACK_INSPECTION.search(line):
                    found.append(f'{osp.relpath(path, REPO_ROOT)}:{n}: '
                                 f'{line.strip()}')
    assert not found, '\n'.join(found)
