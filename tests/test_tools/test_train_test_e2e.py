"""Train and test the tiny config end to end through MMEngine (CPU):
tools/train.py and tools/test.py, run in this process
(tests/tool_runs.py), and MMPose's own ``mim train`` on the command line.
"""
import glob
import os.path as osp
import re
import subprocess

import pytest

from conftest import LOSS_NAMES as LOSSES
from conftest import TINY_CONFIG as TINY
from conftest import repo_env
from tool_runs import last_log, run_script


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('tiny'))
    assert run_script('train', TINY, '--work-dir', work_dir) == 0
    return work_dir, last_log(work_dir)


def test_train_logs_four_finite_losses_and_saves(trained):
    work_dir, log = trained
    for name in LOSSES:
        values = re.findall(rf'{name}: ([-\d.e+naif]+)', log)
        assert values, f'{name} not logged'
        assert all(float(v) == float(v) and abs(float(v)) < 1e6
                   for v in values), values
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    assert 'coco/AP' in log


def test_test_script_reports_coco_ap(trained, tmp_path):
    work_dir, _ = trained
    assert run_script('test', TINY, osp.join(work_dir, 'epoch_2.pth'),
                      '--work-dir', tmp_path) == 0
    log = last_log(tmp_path)
    metrics = re.search(r'coco/AP: ([\d.]+)\s+coco/AP \.5: ([\d.]+)', log)
    assert metrics, log[-2000:]
    assert 0.0 <= float(metrics.group(1)) <= 1.0


def test_mim_train_runs_the_config(tmp_path):
    """`mim train mmpose CONFIG` finds mmpose_boir through custom_imports
    (one epoch, no validation: the tests above validate)."""
    proc = subprocess.run(
        ['mim', 'train', 'mmpose', TINY, '--work-dir', str(tmp_path),
         '--cfg-options', 'train_cfg.max_epochs=1',
         'train_cfg.val_interval=2'],
        capture_output=True, text=True, timeout=600, env=repo_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert glob.glob(osp.join(str(tmp_path), 'epoch_1.pth'))
    assert 'loss_bbox_mask' in out
