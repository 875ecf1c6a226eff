"""tools/benchmark.py: a smoke run with tiny settings (no timing asserts).

What the benchmark compares is tested where it lives: the Bbox Mask Loss
against its loop reference in test_bbox_mask_loss.py, the decoding in
test_codec_transform.py."""
import json
import os.path as osp
import subprocess
import sys

from conftest import repo_env

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = 'configs/boir/tiny/boir_tiny_coco.py'


def test_benchmark_smoke(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark.py', '--boir-config', TINY,
         '--runs', '1', '--warmup', '0', '--train-runs', '1',
         '--train-warmup', '0', '--micro-runs', '1', '--loss-batch', '2',
         '--loss-boxes', '3', '--loss-size', '32', '--decode-instances',
         '4', '--decode-size', '32', '--instances', '5', '--out', str(out)],
        cwd=REPO, env=repo_env(), capture_output=True, text=True, timeout=600)
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
    assert {'bbox_mask_loss_image', 'bbox_mask_loss_instance',
            'decoding'} <= set(res['reference'])
