"""tools/benchmark.py: a smoke run with tiny settings (no timing asserts),
and the per-instance loop references agree with the vectorised code."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

import mmpose_boir  # noqa: F401
from mmpose_boir.models.losses.bbox_mask_loss import BboxMaskLoss

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = 'configs/boir/tiny/boir_tiny_coco.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'boir_benchmark_tool', osp.join(REPO, 'tools', 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_tool()


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


@pytest.mark.parametrize('background', ['image', 'instance'])
@pytest.mark.parametrize('center', ['box', 'release'])
def test_reference_loss_agrees_with_vectorised(background, center):
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(3, 8, 20, 24, generator=g)
    boxes = bench.random_boxes(3, 5, 20, g)
    boxes[1] = boxes[1][:0]  # an image without people
    boxes[2][0] = torch.tensor([3.0, 4.0, 0.5, 9.0])  # skipped: too thin
    loss_fn = BboxMaskLoss(beta=10.0, background=background, center=center,
                           loss_weight=1.0)
    e1 = emb.clone().requires_grad_(True)
    e2 = emb.clone().requires_grad_(True)
    l1 = loss_fn(e1, boxes)
    l2 = bench.reference_bbox_mask_loss(e2, boxes, 10.0, background, center)
    l1.backward()
    l2.backward()
    assert float(l1) == pytest.approx(float(l2), rel=1e-5, abs=1e-6)
    torch.testing.assert_close(e1.grad, e2.grad, rtol=1e-4, atol=1e-7)


def test_reference_decode_agrees_with_vectorised():
    g = torch.Generator().manual_seed(0)
    hm = torch.rand(6, 17, 16, 12, generator=g)
    hm[0, 0] = 0
    hm[0, 0, 0, 5] = 1  # maximum on the border: no refinement along y
    scores = torch.rand(6, generator=g)
    kv, sv = bench.vectorised_decode(hm, scores, 4.0)
    kr, sr = bench.reference_decode(hm, scores, 4.0)
    np.testing.assert_allclose(kv, kr, atol=1e-5)
    np.testing.assert_allclose(sv, sr, atol=1e-6)


def test_benchmark_smoke(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark.py', '--boir-config', TINY,
         '--runs', '1', '--warmup', '0', '--train-runs', '1',
         '--train-warmup', '0', '--micro-runs', '1', '--loss-batch', '2',
         '--loss-boxes', '3', '--loss-size', '32', '--decode-instances',
         '4', '--decode-size', '32', '--instances', '5', '--out', str(out)],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert 'BoIR/CID' in proc.stdout
    res = json.loads(out.read_text())
    for section in ('complexity', 'inference', 'memory', 'training'):
        assert set(res[section]) == {'BoIR', 'CID'}, section
    for name in ('BoIR', 'CID'):
        inf = res['inference'][name]
        assert inf['instances'] == 5
        assert 0 <= inf['post_network_share'] <= 1
        assert inf['latency_ms'] > 0
        assert res['complexity'][name]['params_m'] > 0
        assert res['complexity'][name]['gflops_single_pass'] > 0
        assert res['memory'][name]['peak_mib'] >= 0
        assert res['training'][name]['train_step_ms'] > 0
    assert res['training']['BoIR']['identical_input_tensors']
    # deployed BoIR has no auxiliary heads; the training model has them
    assert res['complexity']['BoIR']['params_m'] < 1.0
    for key in ('params_m', 'latency_ms', 'train_step_ms', 'peak_mib'):
        assert key in res['ratios']
    ref = res['reference']
    assert ref['bbox_mask_loss_image']['abs_diff_loss'] < 1e-5
    assert ref['bbox_mask_loss_instance']['max_abs_diff_grad'] < 1e-5
    assert ref['decoding']['max_abs_diff_keypoints'] < 1e-5
