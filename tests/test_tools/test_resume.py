"""Exact resume: N iterations in one go == N/2, stop, `--resume`, N/2 more.

Runs `tools/train.py` three times on the iteration-based tiny config
(deterministic, seed 0, data loading in the main process), in this process
(tests/tool_runs.py: each run builds its own Runner from the command line
and the second half starts from the checkpoint file, as a new process
would): once for N = 6 iterations, once stopping after 3, and once resuming
that run with `--resume`. The losses of every iteration (full precision,
from MMEngine's LocalVisBackend records) and the final weights must agree
within 1e-5.

The Runner's checkpoints (message hub included) load with torch's
weights-only unpickler: through MMEngine's loaders (``--resume``,
``load_checkpoint``), where ``import mmpose_boir`` scopes the allow-list of
MMEngine's checkpoint types, and with ``torch.load(weights_only=True)``
inside ``allow_mmengine_checkpoints()``; never with a process-wide
allow-list (a checkpoint that is not a Runner's: test_compat/
test_checkpoint.py).
"""
import os.path as osp

import pytest
import torch
from conftest import LOSS_NAMES, read_scalars
from tool_runs import last_log, run_script

CONFIG = 'configs/boir/tiny/boir_tiny_coco_iter.py'
N = 6
TOL = 1e-5


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    one_go = tmp_path_factory.mktemp('one_go')
    split = tmp_path_factory.mktemp('split')
    assert run_script('train', CONFIG, '--work-dir', one_go,
                      '--cfg-options', f'train_cfg.max_iters={N}') == 0
    assert run_script('train', CONFIG, '--work-dir', split,
                      '--cfg-options', f'train_cfg.max_iters={N // 2}') == 0
    assert run_script('train', CONFIG, '--work-dir', split, '--resume',
                      '--cfg-options', f'train_cfg.max_iters={N}') == 0
    return one_go, split, last_log(split)


def _by_step(records):
    steps = [r['step'] for r in records]
    assert len(steps) == len(set(steps)), f'an iteration was logged twice: ' \
        f'{steps}'
    return {r['step']: r for r in records}


def test_second_run_really_resumed(runs):
    _, split, log = runs
    assert osp.isfile(osp.join(str(split), f'iter_{N // 2}.pth'))
    assert f'resumed epoch: 0, iter: {N // 2}' in log, log[-3000:]


def test_losses_equal_at_every_iteration(runs):
    one_go, split, _ = runs
    a = _by_step(read_scalars(str(one_go)))
    b = _by_step(read_scalars(str(split)))
    assert sorted(a) == list(range(1, N + 1))
    assert sorted(b) == list(range(1, N + 1))
    for step in range(1, N + 1):
        for name in LOSS_NAMES + ('loss', 'lr'):
            assert abs(a[step][name] - b[step][name]) <= TOL, (
                f'iteration {step}: {name} {a[step][name]!r} (one go) vs '
                f'{b[step][name]!r} (resumed)')


def test_final_weights_and_optimizer_state_equal(runs):
    from mmpose_boir.compat.checkpoint import allow_mmengine_checkpoints
    one_go, split, _ = runs
    with allow_mmengine_checkpoints():
        a, b = [torch.load(osp.join(str(d), f'iter_{N}.pth'),
                           map_location='cpu', weights_only=True)
                for d in (one_go, split)]
    assert a['meta']['iter'] == b['meta']['iter'] == N
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, rtol=0,
                                   atol=TOL, msg=key)
    state_a = a['optimizer']['state']
    state_b = b['optimizer']['state']
    assert state_a.keys() == state_b.keys()
    for idx in state_a:
        for name, value in state_a[idx].items():
            torch.testing.assert_close(state_b[idx][name], value, rtol=0,
                                       atol=TOL)


def test_runner_checkpoint_loads_weights_only_through_mmengine(runs):
    """A Runner checkpoint, message hub included, through MMEngine's
    ``load_checkpoint`` / ``CheckpointLoader`` (what ``load_from``,
    ``--resume`` and ``mim test`` use) after ``import mmpose_boir``, with
    torch's process-wide allow-list unchanged before and after."""
    import pickle

    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer
    from mmengine.registry import init_default_scope
    from mmengine.runner import CheckpointLoader, load_checkpoint
    from mmpose.registry import MODELS

    import mmpose_boir  # noqa: F401
    _, split, _ = runs
    path = osp.join(str(split), f'iter_{N // 2}.pth')
    before = set(torch.serialization.get_safe_globals())
    assert getattr not in before
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    buffers = ckpt['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert buffers['train/loss'].statistics('mean') > 0
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(CONFIG).model)
    loaded = load_checkpoint(model, path, map_location='cpu', strict=True)
    assert loaded['meta']['iter'] == N // 2
    assert set(torch.serialization.get_safe_globals()) == before
    # outside MMEngine's loaders, nothing is allow-listed
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu', weights_only=True)
