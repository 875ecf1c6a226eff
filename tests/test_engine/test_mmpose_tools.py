"""mmpose_boir/engine/mmpose_tools.py: ``run_mmpose_tool`` (what
tools/test.py and tools/train.py run) checks the config as merged with
``--cfg-options`` before MMPose's script runs: a problem is one line on
stderr and exit 1, before a runner exists or the first batch. Run in this
process."""
import contextlib
import re
import sys

import pytest

import mmpose_boir  # noqa: F401
from conftest import REPO_ROOT, TINY_CONFIG
from mmpose_boir.engine.mmpose_tools import run_mmpose_tool

TINY = TINY_CONFIG


def _mmpose_tool(name, argv, monkeypatch, capsys):
    """tools/{name}.py's run (``run_mmpose_tool``) in this process: the
    exit status and stderr."""
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py', *argv])
    with contextlib.chdir(REPO_ROOT), pytest.raises(SystemExit) as exit_:
        run_mmpose_tool(name)
    return exit_.value.code, capsys.readouterr().err


def test_test_py_refuses_nms_thr_text_before_inference(
        tiny_checkpoint, monkeypatch, capsys):
    built = []
    from mmengine.runner import Runner
    monkeypatch.setattr(Runner, 'from_cfg', built.append)
    code, err = _mmpose_tool('test', [TINY, tiny_checkpoint, '--cfg-options',
                                      'test_evaluator.nms_thr=0.5x'],
                             monkeypatch, capsys)
    assert code == 1 and not built  # stopped before a runner exists
    assert f'error: config {TINY}: test_evaluator: metric' in err
    assert "nms_thr='0.5x' is a str, expected float" in err


def test_train_py_names_a_transform_typo(monkeypatch, capsys):
    code, err = _mmpose_tool('train', [
        TINY, '--cfg-options',
        'train_dataloader.dataset.pipeline.1.input_sise=64'
    ], monkeypatch, capsys)
    assert code == 1
    assert re.search(r"train_dataloader\.dataset\.pipeline\[1\]: transform "
                     r"\w*RandomAffine has no argument 'input_sise' \(did "
                     r'you mean input_size\?\)', err), err


def test_keep_inputs_unchanged_wraps_dump_config_once(tmp_path, monkeypatch):
    """Calling it again (tools run in one process, as here) replaces the
    inputs instead of wrapping the runner's ``dump_config`` again."""
    from mmengine.runner import Runner

    from mmpose_boir.engine import mmpose_tools
    monkeypatch.setattr(Runner, 'dump_config', Runner.dump_config)
    monkeypatch.setattr(mmpose_tools, '_INPUTS', set())
    first, second = tmp_path / 'a.py', tmp_path / 'b.py'
    first.write_text('x = 1\n')
    second.write_text('x = 2\n')
    mmpose_tools.keep_inputs_unchanged([str(first)])
    wrapped = Runner.dump_config
    assert wrapped.keeps_inputs
    mmpose_tools.keep_inputs_unchanged([str(second), '--amp'])
    assert Runner.dump_config is wrapped
    assert mmpose_tools._INPUTS == {str(second.resolve())}
