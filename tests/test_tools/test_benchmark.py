"""tools/benchmark.py: a smoke run on the tiny config (no timing asserts).

What the benchmark's reference computes is tested against ours: its
``direct_form`` in test_models/test_heads/test_instance_keypoint_head.py,
its ``reference_decode`` in test_codecs/test_boir_heatmap.py."""
import json

import pytest
import torch

from conftest import TINY_CONFIG
from tool_modules import load_tool

NAMES = {'ours', 'reference', 'cid'}


def test_benchmark_smoke(tmp_path, capsys):
    """The tool's main in this process, on its default image (demo/)."""
    out = tmp_path / 'bench.json'
    threads = torch.get_num_threads()
    try:
        load_tool('benchmark').main([
            '--config', TINY_CONFIG, '--short-side', '128', '--runs', '1',
            '--warmup', '0', '--instances', '5', '--onnx', '--batch', '2',
            '--out', str(out)])
    finally:
        torch.set_num_threads(threads)  # main sets its --threads
    stdout = capsys.readouterr().out
    assert 'ours/reference' in stdout
    res = json.loads(out.read_text())
    assert res['setup']['input_wh'] == [192, 128]  # the sample, short side
    assert res['setup']['instances'] == 5
    for key in ('latency_ms', 'complexity', 'memory_peak_mib'):
        assert set(res[key]) == NAMES, key
    for name in NAMES:
        assert res['latency_ms'][name] > 0
        c = res['complexity'][name]
        assert c['params_m'] > 0 and c['gflops_instance_head'] > 0
        assert c['gflops'] == c['gflops_dense'] + c['gflops_instance_head']
        assert res['memory_peak_mib'][name] >= 0
    assert all(v > 0 for v in res['ratios'].values())
    assert set(res['ratios']) == {'ours_over_reference', 'ours_over_cid'}
    assert set(res['stages']) == {'backbone', 'neck_center_head',
                                  'instance_head', 'decoding'}
    assert all(s['ms'] >= 0 for s in res['stages'].values())
    # same weights: the reference differs only in how it computes
    assert (res['complexity']['ours']['params_m'] ==
            res['complexity']['reference']['params_m'])
    assert res['onnx']['onnxruntime_ms'] > 0 and res['onnx']['ratio'] > 0
    assert set(res['per_image_ms']) == {'ours_batch1', 'ours_batch2'}
    assert all(v > 0 for v in res['per_image_ms'].values())
    assert 'per image: ours_batch1' in stdout


def test_benchmark_names_an_unreadable_image(tmp_path):
    with pytest.raises(SystemExit, match='cannot read image .*missing.jpg'):
        load_tool('benchmark').main(['--config', TINY_CONFIG, '--image',
                                     str(tmp_path / 'missing.jpg')])
