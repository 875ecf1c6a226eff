"""The head's loading policy (mmpose_boir/models/heads/loading.py) and its
``test_cfg`` checks (runtime_cfg.py), fed real checkpoint files, in MMPose's
``BottomupPoseEstimator`` (the configs' estimator) and in ``BoIR``.

- a CrowdPose-shaped (14-keypoint) checkpoint in a COCO (17) config: every
  way of predicting refuses it, naming both counts and the config that fits;
  fine-tuning from it (``loss``) trains the dropped layers, then predicts;
- the authors' release checkpoint, unconverted: the error gives the
  converter's command;
- another model's checkpoint (CID): refused with the counts;
- ``test_cfg`` typos and values of the wrong kind: refused when the model is
  built, naming the key; MMPose CID's own keys accepted;
- no function of the package inspects the call stack.
"""
import argparse
import copy
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG, repo_env, save_checkpoint
from mmpose_boir.models.heads.loading import (CONVERTER,
                                              CheckpointMismatchError,
                                              KeypointCountMismatchError)

TINY_CROWDPOSE = 'configs/boir/tiny/boir_tiny_crowdpose.py'
IMAGE = osp.join(REPO_ROOT, '..', 'shared', 'data', 'coco',
                 '000000196141.jpg')
CID_W32 = 'body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py'
ESTIMATORS = ('BottomupPoseEstimator', 'BoIR')


def _cfg(config=TINY_CONFIG, estimator=None, **options):
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    cfg.model.backbone.init_cfg = None
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


def test_the_configs_use_mmpose_bottomup_estimator():
    assert _cfg().model.type == 'BottomupPoseEstimator'
    assert _cfg('configs/boir/boir_w32_coco.py').model.type == \
        'BottomupPoseEstimator'
    # the multi-scale test needs BoIR's estimator
    assert _cfg('configs/boir/boir_w32_coco_multiscale.py').model.type == \
        'BoIR'


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
        crowdpose_ckpt, tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/demo.py', TINY_CONFIG, crowdpose_ckpt, IMAGE,
         '--out-dir', str(tmp_path / 'out')], cwd=REPO_ROOT, env=repo_env(),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_names_counts_and_config(proc.stderr)
    assert crowdpose_ckpt in proc.stderr and TINY_CONFIG in proc.stderr
    assert 'Traceback' not in proc.stderr


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
    model = _build('configs/boir/boir_w32_coco.py')
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


# ------------------------------------------------------------ test_cfg
def _cfg_options(*args):
    """``--cfg-options`` as MMPose's tools parse them."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *args]).cfg_options


@pytest.mark.parametrize('estimator', ESTIMATORS)
@pytest.mark.parametrize('option, expected', [
    ('model.test_cfg.score_thr=abc', 'a finite number or None'),
    ('model.test_cfg.score_thr=0.5x', 'a finite number'),
    ('model.test_cfg.flip_test=yes', 'True or False'),
    ('model.test_cfg.max_instances=0', 'a positive integer'),
    ('model.test_cfg.max_instances=2.5', 'a positive integer'),
    ('model.test_cfg.blur_kernel_size=4', 'an odd positive integer'),
    ('model.test_cfg.bbox_keypoint_thr=nan', 'a finite number'),
])
def test_test_cfg_values_of_the_wrong_kind_fail_at_build(option, expected,
                                                         estimator):
    key = option.split('=')[0]
    with pytest.raises(ValueError) as err:
        _build(estimator=estimator, **_cfg_options(option))
    assert f'{key} = ' in str(err.value) and expected in str(err.value)


@pytest.mark.parametrize('estimator', ESTIMATORS)
def test_test_cfg_typo_is_refused_in_either_estimator(estimator):
    with pytest.raises(ValueError, match='did you mean flip_test'):
        _build(estimator=estimator,
               **_cfg_options('model.test_cfg.flip_tset=False'))


def test_cid_test_cfg_keys_and_none_are_accepted():
    model = _build(**_cfg_options(
        'model.test_cfg.shift_heatmap=False',
        'model.test_cfg.align_corners=False',
        'model.test_cfg.score_threshold=0.2',  # CID's name of score_thr
        'model.test_cfg.score_thr=None', 'model.test_cfg.score_thr=0.3'))
    assert model.head.test_cfg['shift_heatmap'] is False
    assert model.head.test_cfg['score_thr'] == 0.3
    assert model.head.test_cfg['score_threshold'] == 0.2


def test_score_thr_abc_fails_in_tools_test_before_running(tmp_path):
    ckpt = save_checkpoint(_build(), tmp_path / 'tiny.pth')
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', TINY_CONFIG, ckpt,
         '--cfg-options', 'model.test_cfg.score_thr=abc'], cwd=REPO_ROOT,
        env=repo_env(), capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'model.test_cfg.score_thr' in out and 'a finite number' in out


def test_test_cfg_changed_after_build_is_checked_on_predict():
    """MMPose's inferencer rewrites the estimator's test_cfg before it
    predicts: the head checks what it is given."""
    model = _build().eval()
    model.test_cfg = dict(model.test_cfg, score_thr='0.5')
    meta = dict(input_size=(64, 64), input_center=np.array([32., 32.]),
                input_scale=np.array([64., 64.]),
                flip_indices=list(range(17)))
    with pytest.raises(ValueError, match='model.test_cfg.score_thr'):
        model.predict(torch.zeros(1, 3, 64, 64),
                      [PoseDataSample(metainfo=meta)])


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
