"""tools/test.py and ``mim test mmpose CONFIG --checkpoint CKPT``: a
checkpoint is evaluated with each dataset's config and its metrics are
printed; a truncated checkpoint is one clear line (exit 1); a ``test_cfg``
typo given through ``--cfg-options`` is refused when the model is built.

``mim test`` runs on the command line once (COCO: MMPose's own script in a
fresh process, where the config's ``custom_imports`` alone registers BoIR);
for the other datasets the script that ``mim test`` runs
(``mmpose/.mim/tools/test.py CONFIG CKPT --launcher none``) runs in this
process, and their configs are checked to import the plugin the same way.
tools/test.py runs on the command line for the truncated checkpoint (its
exit status); its other runs call what its ``__main__`` block calls
(``check_files``, then ``run_mmpose_tool('test')``) in this process.
tools/test.py on COCO is also run by tests/test_train_test_e2e.py.
"""
import contextlib
import glob
import os.path as osp
import re
import runpy
import subprocess
import sys

import pytest
import torch

import mmpose_boir  # noqa: F401
from conftest import (REPO_ROOT, TINY_CONFIG, build_model, repo_env,
                      run_cmd, save_checkpoint, tiny_config)
from mmpose_boir.engine.mmpose_tools import run_mmpose_tool
from tool_modules import load_tool

pytestmark = pytest.mark.spread

CASES = {
    'coco': (TINY_CONFIG, ['coco/AP', 'coco/AP .5', 'coco/AR']),
    'crowdpose': ('configs/boir/tiny/boir_tiny_crowdpose.py',
                  ['crowdpose/AP', 'crowdpose/AP(E)', 'crowdpose/AP(M)',
                   'crowdpose/AP(H)']),
    'ochuman': ('configs/boir/tiny/boir_tiny_ochuman.py',
                ['coco/AP', 'coco/AR']),
}


def _checkpoint(config: str, path) -> str:
    """An MMEngine checkpoint of the config's (untrained) model."""
    torch.manual_seed(0)
    return save_checkpoint(build_model(tiny_config(config)), path)


def _metrics(log: str) -> dict:
    return {k: float(v) for k, v in
            re.findall(r'([a-z]+/A[PR][^:]*): (-?[\d.]+)', log)}


def _in_process(run, argv, monkeypatch) -> None:
    """``run()`` with ``sys.argv`` = ``argv``, from the repository root (the
    torch thread count restored after)."""
    monkeypatch.setattr(sys, 'argv', [str(a) for a in argv])
    monkeypatch.delenv('LOCAL_RANK', raising=False)  # MMPose's script sets it
    threads = torch.get_num_threads()
    try:
        with contextlib.chdir(REPO_ROOT):
            run()
    finally:
        torch.set_num_threads(threads)


def _test_py(argv, monkeypatch) -> None:
    """``tools/test.py ARGV`` in this process: its ``__main__`` block (the
    file checks, then MMPose's script)."""
    def run():
        assert load_tool('test').check_files(sys.argv[1:]) == 0
        run_mmpose_tool('test')
    _in_process(run, ['tools/test.py', *argv], monkeypatch)


def _mim_script(argv, monkeypatch) -> None:
    """What ``mim test mmpose CONFIG --checkpoint CKPT ...`` runs
    (``python mmpose/.mim/tools/test.py CONFIG CKPT --launcher none
    ...``), in this process."""
    import mmpose
    script = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                      'test.py')
    _in_process(lambda: runpy.run_path(script, run_name='__main__'),
                [script, argv[0], argv[1], '--launcher', 'none', *argv[2:]],
                monkeypatch)


@pytest.mark.parametrize('entry,name', [('mim', n) for n in CASES] + [
    ('tools/test.py', 'crowdpose'), ('tools/test.py', 'ochuman')])
def test_entry_point_prints_the_dataset_metrics(entry, name, tmp_path,
                                                monkeypatch, capsys):
    config, keys = CASES[name]
    ckpt = _checkpoint(config, tmp_path / 'model.pth')
    work_dir = str(tmp_path / 'work')
    if entry == 'mim' and name == 'coco':  # the command line
        log = run_cmd(['mim', 'test', 'mmpose', config, '--checkpoint', ckpt,
                       '--work-dir', work_dir])
    else:
        if entry == 'mim':
            # what registers BoIR in mim's process: the config itself
            imports = tiny_config(config).custom_imports
            assert 'mmpose_boir' in imports.imports
            assert not imports.get('allow_failed_imports', False)
            _mim_script([config, ckpt, '--work-dir', work_dir], monkeypatch)
        else:
            _test_py([config, ckpt, '--work-dir', work_dir], monkeypatch)
        # what the runner's logger wrote (the run's log file holds the same)
        log = capsys.readouterr().out
        log += ''.join(open(f).read() for f in
                       glob.glob(osp.join(work_dir, '*', '*.log')))
    assert f'Load checkpoint from {ckpt}' in log, log[-3000:]
    metrics = _metrics(log)
    for key in keys:
        assert key in metrics, (key, sorted(metrics), log[-2000:])
        assert -1.0 <= metrics[key] <= 1.0


def test_test_cfg_typo_through_cfg_options_in_test_py(
        tiny_checkpoint, tmp_path, monkeypatch):
    """``--cfg-options model.test_cfg.flip_tset=False`` (MMPose's tools):
    the typo is refused when the model is built, here by tools/test.py."""
    with pytest.raises(Exception) as err:  # ends the process: exit 1
        _test_py([TINY_CONFIG, tiny_checkpoint, '--work-dir', tmp_path,
                  '--cfg-options', 'model.test_cfg.flip_tset=False'],
                 monkeypatch)
    assert 'did you mean flip_test' in str(err.value)


def test_test_py_truncated_checkpoint(tiny_checkpoint, tmp_path):
    """The command line: exit status 1 and one line naming the file."""
    bad = tmp_path / 'truncated.pth'
    data = open(tiny_checkpoint, 'rb').read()
    bad.write_bytes(data[:len(data) // 3])
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', TINY_CONFIG, str(bad)],
        cwd=REPO_ROOT, env=repo_env(), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 1
    assert f'cannot load checkpoint {bad}' in proc.stderr
    assert 'weights_only' not in proc.stderr
