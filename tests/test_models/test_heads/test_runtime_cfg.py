"""What BoIRHead reads from ``model.test_cfg`` (mmpose_boir/models/heads/
runtime_cfg.py), in MMPose's ``BottomupPoseEstimator`` (the configs'
estimator) and in ``BoIR``: typos and values of the wrong kind are refused
when the model is built (and by ``tools/test.py`` before it runs), naming
the key (a ``train_cfg`` typo at the first training step: MMPose's
estimator hands train_cfg to the head only in ``loss``); MMPose CID's own keys are accepted; a ``test_cfg`` changed after
the build is checked on predict; ``score_thr`` and CID's
``score_threshold`` are one people threshold."""
import argparse
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import DictAction
from mmpose.structures import PoseDataSample

import mmpose_boir  # noqa: F401
from conftest import (REPO_ROOT, TINY_CONFIG, build_model, repo_env,
                      tiny_config)

ESTIMATORS = ('BottomupPoseEstimator', 'BoIR')


def _build(estimator=None, **options):
    """The tiny model in ``estimator``, with ``--cfg-options``."""
    cfg = tiny_config()
    if estimator:
        cfg.model.type = estimator
    cfg.merge_from_dict(options)
    torch.manual_seed(0)
    return build_model(cfg)


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


def test_score_thr_abc_fails_in_tools_test_before_running(tiny_checkpoint):
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', TINY_CONFIG, tiny_checkpoint,
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


def test_one_people_threshold():
    """``score_thr`` (RTMO's name, set by MMPose's inferencer) and CID's
    name ``score_threshold`` are one threshold: the higher applies; neither
    (or None) is the release's 0.01."""
    from mmpose_boir.models.heads.runtime_cfg import (RELEASE_SCORE_THR,
                                                      people_score_thr)
    assert RELEASE_SCORE_THR == 0.01
    assert people_score_thr({}) == 0.01
    assert people_score_thr(dict(score_thr=None)) == 0.01
    assert people_score_thr(dict(score_thr=0.3)) == 0.3
    assert people_score_thr(dict(score_threshold=0.2)) == 0.2
    assert people_score_thr(dict(score_thr=0.3, score_threshold=0.2)) == 0.3
    assert people_score_thr(dict(score_thr=0, score_threshold=0.2)) == 0.2


def test_test_cfg_typo_names_the_closest_key():
    with pytest.raises(ValueError, match='did you mean flip_test'):
        _build(**{'model.test_cfg.flip_tset': False})
    # MMPose's estimator hands train_cfg to the head only in loss(): the
    # typo stops the first training step, before any data is used
    model = _build(**{'model.train_cfg.max_train_instance': 5})
    with pytest.raises(ValueError,
                       match='did you mean max_train_instances'):
        model.loss(torch.zeros(1, 3, 64, 64), [])
