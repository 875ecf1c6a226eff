"""mmpose_boir/engine/tool_setup.py: the CPU threads a tool takes for the
machine's load (the user's OMP_NUM_THREADS and a GPU left alone), and
``check_output``, which refuses an output path that is one of the tool's
inputs, by any name."""
import os

import pytest
import torch


def test_check_output_names_the_input(tmp_path):
    from mmpose_boir.engine.tool_setup import check_output
    src = tmp_path / 'model.pth'
    src.write_bytes(b'x')
    os.symlink(src, tmp_path / 'link.pth')
    with pytest.raises(ValueError, match='is an input of this command'):
        check_output(str(tmp_path / 'link.pth'), str(src))
    check_output(str(tmp_path / 'other.pth'), str(src))  # a new file: fine


@pytest.mark.parametrize('busy,device,env,expected', [
    (1.0, 'cpu', {}, 1),      # another job on a 2-core machine
    (0.2, 'cpu', {}, 2),      # quiet: PyTorch's default
    (5.0, 'cpu', {}, 1),      # oversubscribed: at least one
    (1.0, 'cpu', {'OMP_NUM_THREADS': '2'}, None),  # the user's setting
    (1.0, 'cuda:0', {}, None),
])
def test_cpu_threads_follow_the_load(monkeypatch, busy, device, env,
                                     expected):
    from mmpose_boir.engine import tool_setup
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(tool_setup, '_busy_cores', lambda: busy)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1},
                        raising=False)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    assert tool_setup.cpu_threads(device)[0] == expected
    set_to = []
    monkeypatch.setattr(torch, 'set_num_threads', set_to.append)
    tool_setup.set_cpu_threads(device)
    assert set_to == ([expected] if expected == 1 else [])
