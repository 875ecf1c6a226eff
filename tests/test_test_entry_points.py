"""`mim test mmpose CONFIG --checkpoint CKPT` and `tools/test.py`
evaluate a checkpoint with each dataset's config and print its metrics."""
import re
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mmpose_boir  # noqa: F401
from conftest import run_cmd

pytestmark = pytest.mark.spread

CASES = {
    'coco': ('configs/boir/tiny/boir_tiny_coco.py',
             ['coco/AP', 'coco/AP .5', 'coco/AR']),
    'crowdpose': ('configs/boir/tiny/boir_tiny_crowdpose.py',
                  ['crowdpose/AP', 'crowdpose/AP(E)', 'crowdpose/AP(M)',
                   'crowdpose/AP(H)']),
    'ochuman': ('configs/boir/tiny/boir_tiny_ochuman.py',
                ['coco/AP', 'coco/AR']),
}


def _checkpoint(config: str, path) -> str:
    """An MMEngine checkpoint of the config's (untrained) model."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    torch.save(dict(meta=dict(note='test'), state_dict=model.state_dict()),
               path)
    return str(path)


def _metrics(log: str) -> dict:
    return {k: float(v) for k, v in
            re.findall(r'([a-z]+/A[PR][^:]*): (-?[\d.]+)', log)}


# tools/test.py on COCO is run by tests/test_train_test_e2e.py
@pytest.mark.parametrize('entry,name', [('mim', n) for n in CASES] + [
    ('tools/test.py', 'crowdpose'), ('tools/test.py', 'ochuman')])
def test_entry_point_prints_the_dataset_metrics(entry, name, tmp_path):
    config, keys = CASES[name]
    ckpt = _checkpoint(config, tmp_path / 'model.pth')
    work_dir = str(tmp_path / 'work')
    if entry == 'mim':
        args = ['mim', 'test', 'mmpose', config, '--checkpoint', ckpt,
                '--work-dir', work_dir]
    else:
        args = [sys.executable, 'tools/test.py', config, ckpt,
                '--work-dir', work_dir]
    log = run_cmd(args)
    assert f'Load checkpoint from {ckpt}' in log, log[-3000:]
    metrics = _metrics(log)
    for key in keys:
        assert key in metrics, (key, sorted(metrics), log[-2000:])
        assert -1.0 <= metrics[key] <= 1.0
