"""Two-process training of the tiny config with `tools/dist_train.sh`.

On a machine without a GPU (CI) the ranks run on CPU with the gloo backend
(tools/train.py and tools/test.py apply
mmpose_boir.engine.cpu_distributed). One real run of torchrun with 2
processes (the module fixture), on which everything is checked:
torchrun and both ranks exit cleanly, every rank logged its own finite
losses for every iteration, the distributed validation ran (the 4 images
split over the 2 ranks), rank 0's checkpoint loads strictly into a freshly
built model with torch's weights-only loading. `tools/dist_test.sh`, the
same launcher line for tools/test.py, is checked for the torchrun command
it builds (a `python` on PATH that records its arguments). SyncBN: the
config switch converts every BatchNorm (a GPU-only layer, so checked
statically).
"""
import glob
import math
import os
import os.path as osp
import re

import pytest
import torch
from conftest import (LOSS_NAMES, REPO_ROOT, TINY_CONFIG, free_port,
                      repo_env, run_cmd)

ITERS_PER_EPOCH = 2  # 4 images, 2 ranks, 1 image per rank and iteration
LOG_LINE = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[(\d+)/(\d+)\].*')


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('dist')
    # log_level=DEBUG makes MMEngine write one log file per rank
    out = run_cmd(
        ['bash', 'tools/dist_train.sh', TINY_CONFIG, '2', '--work-dir',
         str(work_dir), '--cfg-options', 'train_dataloader.batch_size=1',
         'train_cfg.max_epochs=1', 'log_level=DEBUG'],
        timeout=600, env=repo_env(PORT=free_port()))
    return work_dir, out


def _rank_log(work_dir, rank):
    logs = glob.glob(osp.join(str(work_dir), '*', f'*rank{rank}.log'))
    assert len(logs) == 1, (rank, logs)
    with open(logs[0]) as f:
        return f.read()


@pytest.mark.parametrize('rank', [0, 1])
def test_each_rank_trains_with_finite_losses(dist_run, rank):
    work_dir, _ = dist_run
    log = _rank_log(work_dir, rank)
    assert 'Distributed launcher: pytorch' in log, log[:2000]
    assert 'Distributed training: True' in log
    lines = [m.group(0) for m in LOG_LINE.finditer(log)]
    assert len(lines) == ITERS_PER_EPOCH, lines
    for line in lines:
        for name in LOSS_NAMES + ('loss', ):
            value = re.search(rf'\b{name}: (\S+)', line)
            assert value, (name, line)
            assert math.isfinite(float(value.group(1))), line


def test_ranks_saw_different_data(dist_run):
    """The DistributedSampler gave the ranks different images."""
    work_dir, _ = dist_run
    first = [re.search(r'\bloss: (\S+)', _rank_log(work_dir, r)).group(1)
             for r in (0, 1)]
    assert first[0] != first[1]


def test_distributed_validation_ran(dist_run):
    """Each rank evaluates 2 of the 4 images; rank 0 reports COCO AP."""
    work_dir, out = dist_run
    ap = re.search(r'coco/AP: ([\d.]+)', out)
    assert ap and 0.0 <= float(ap.group(1)) <= 1.0, out[-3000:]
    for rank in (0, 1):
        assert 'Epoch(val) [1][2/2]' in _rank_log(work_dir, rank)


def test_rank0_checkpoint_loads_weights_only(dist_run):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from mmpose_boir.compat.checkpoint import allow_mmengine_checkpoints
    work_dir, _ = dist_run
    path = osp.join(str(work_dir), 'epoch_1.pth')
    assert osp.isfile(path)
    with allow_mmengine_checkpoints():
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state = ckpt['state_dict']
    assert not any(k.startswith('module.') for k in state)
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    model.load_state_dict(state, strict=True)
    assert ckpt['meta']['epoch'] == 1
    assert ckpt['meta']['iter'] == ITERS_PER_EPOCH


def test_dist_test_script_launches_test_py(dist_run, tmp_path):
    """`tools/dist_test.sh CONFIG CHECKPOINT 2 ARGS` on rank 0's checkpoint
    runs torchrun with 2 processes on tools/test.py CONFIG CHECKPOINT
    --launcher pytorch ARGS, the repository first on PYTHONPATH (the
    training run above is the real 2-process run of the same launcher
    line; its distributed validation evaluates the same weights)."""
    work_dir, _ = dist_run
    checkpoint = osp.join(str(work_dir), 'epoch_1.pth')
    shim = tmp_path / 'bin'
    shim.mkdir()
    record = tmp_path / 'argv.txt'
    (shim / 'python').write_text(
        '#!/bin/sh\nprintf "%s\\n" "$PYTHONPATH" "$@" > "$RECORD"\n')
    (shim / 'python').chmod(0o755)
    env = repo_env(PORT=29999, RECORD=record,
                   PYTHONPATH='/elsewhere')
    env['PATH'] = f'{shim}{os.pathsep}{env["PATH"]}'
    run_cmd(['bash', 'tools/dist_test.sh', TINY_CONFIG, checkpoint, '2',
             '--work-dir', str(tmp_path)], env=env)
    pythonpath, *argv = record.read_text().splitlines()
    assert pythonpath == f'{REPO_ROOT}{os.pathsep}/elsewhere'
    assert argv == [
        '-m', 'torch.distributed.run', '--nnodes=1', '--node_rank=0',
        '--master_addr=127.0.0.1', '--master_port=29999',
        '--nproc_per_node=2', osp.join(REPO_ROOT, 'tools', 'test.py'),
        TINY_CONFIG, checkpoint, '--launcher', 'pytorch', '--work-dir',
        str(tmp_path)]
    # and without a checkpoint: the usage, before anything runs
    out = run_cmd(['bash', 'tools/dist_test.sh', TINY_CONFIG, '2'], env=env,
                  check=False)
    assert 'usage: ' in out and 'CHECKPOINT NPROC' in out


def test_syncbn_switch_converts_every_batchnorm():
    """`sync_bn='torch'` (configs/boir/tiny/boir_tiny_coco_syncbn.py or
    `--cfg-options sync_bn=torch`) is what MMEngine's Runner applies to the
    model in distributed mode; it reaches the head's BatchNorms too."""
    from mmengine.config import Config
    from mmengine.model import convert_sync_batchnorm, revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import mmpose_boir  # noqa: F401
    cfg = Config.fromfile('configs/boir/tiny/boir_tiny_coco_syncbn.py')
    assert cfg.sync_bn == 'torch'
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    n_bn = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
               for m in model.modules())
    synced = convert_sync_batchnorm(model, cfg.sync_bn)
    kinds = [type(m) for m in synced.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert len(kinds) == n_bn > 0
    assert all(k is torch.nn.SyncBatchNorm for k in kinds)
    assert any(isinstance(m, torch.nn.SyncBatchNorm)
               for m in synced.head.modules())
    reverted = revert_sync_batchnorm(synced)
    assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in reverted.modules())


def test_cpu_fallback_belongs_to_the_tools():
    """tools/train.py and tools/test.py patch MMEngine only when launched
    with a launcher; the patch can be taken back."""
    from mmengine.dist import utils
    from mmengine.model.wrappers import distributed as wrappers
    from mmpose_boir.engine.mmpose_tools import launcher_of
    assert launcher_of(['cfg.py', '--launcher', 'pytorch']) == 'pytorch'
    assert launcher_of(['cfg.py', '--launcher=slurm', '--amp']) == 'slurm'
    assert launcher_of(['cfg.py', '--work-dir', 'w']) is None

    from mmpose_boir.engine import cpu_distributed
    init = utils._init_dist_pytorch
    ddp_init = wrappers.MMDistributedDataParallel.__init__
    try:
        if cpu_distributed.patch():  # False where a GPU exists
            assert utils._init_dist_pytorch is not init
            assert wrappers.MMDistributedDataParallel.__init__ \
                is not ddp_init
    finally:
        cpu_distributed.unpatch()
    assert utils._init_dist_pytorch is init
    assert wrappers.MMDistributedDataParallel.__init__ is ddp_init
